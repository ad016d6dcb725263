// Runs a compiled cell library (lib<name>.so) through its generic C entry points, for
// `cellc run LIB.so`. The library exports its signature (<cell>_signature()), from which the
// order of the pointer arrays and every file name are known without the .cell source.
#pragma once

#include "cli/SequenceRunner.h"
#include "compiler/abi/Signature.h"

#include <memory>
#include <string>

namespace cellc::cli {

class CellLibrary : public SequenceRunner {
public:
  /// Opens `path`; returns null and sets `error` when it is not a cellc library.
  static std::unique_ptr<CellLibrary> open(const std::string &path, std::string &error);
  ~CellLibrary() override;

  const abi::Signature &signature() const { return signature_; }
  const std::string &defines() const { return defines_; } // "H=512,I=256": -D at compile time

  /// Runs on float32 copies of the data.
  bool run(const std::vector<int64_t> &shape, const Tensors &fwdIn, Tensors &fwdOut,
           const Tensors *bwdIn, Tensors *bwdOut, int repeat, Timing &timing,
           std::string &error) override;
  const char *what() const override { return "compiled library"; }
  /// Forward calls use params packed once before them (<cell>_pack_params), not timed.
  void usePackedParams(bool on) { packed_ = on; }

private:
  CellLibrary() = default;
  void *handle_ = nullptr;
  abi::Signature signature_;
  std::string defines_;
  using SizeFn = int (*)(const int64_t *, int64_t *);
  using ForwardFn = int (*)(const int64_t *, const float *const *, float *const *, void *, int64_t,
                            void *, int64_t);
  using BackwardFn = int (*)(const int64_t *, const float *const *, float *const *, void *, int64_t,
                             const void *, int64_t);
  using MessageFn = const char *(*)();
  SizeFn workspaceSize_ = nullptr, reserveSize_ = nullptr;
  ForwardFn forward_ = nullptr;
  BackwardFn backward_ = nullptr;
  MessageFn message_ = nullptr;
  using PackFn = int (*)(const int64_t *, const float *const *, void *, int64_t);
  using ForwardPackedFn = int (*)(const int64_t *, const float *const *, float *const *,
                                  const void *, int64_t, void *, int64_t, void *, int64_t);
  SizeFn packedSize_ = nullptr; // null in libraries built before packed params
  PackFn pack_ = nullptr;
  ForwardPackedFn forwardPacked_ = nullptr;
  bool packed_ = false;
  // The stack call (null in libraries built before it).
  using StackSizeFn = int (*)(const int64_t *, int64_t, int64_t, int64_t *);
  using StackForwardFn = int (*)(const int64_t *, int64_t, int64_t, const int64_t *, double,
                                 uint64_t, const float *const *, float *const *, void *, int64_t,
                                 void *, int64_t);
  using StackBackwardFn = int (*)(const int64_t *, int64_t, int64_t, const int64_t *, double,
                                  uint64_t, const float *const *, float *const *, void *, int64_t,
                                  const void *, int64_t);
  StackSizeFn stackWorkspaceSize_ = nullptr, stackReserveSize_ = nullptr;
  StackForwardFn stackForward_ = nullptr;
  StackBackwardFn stackBackward_ = nullptr;
};

} // namespace cellc::cli
