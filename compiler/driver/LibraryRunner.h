// Runs a compiled cell library (lib<name>.so) through its generic C entry points, for
// `cellc run LIB.so`. The library embeds its .cell source, from which the signature (the
// order of the pointer arrays) is recovered with the same front end that compiled it.
#pragma once

#include "compiler/Interpreter.h"

#include <memory>
#include <string>

namespace cellc::driver {

class CellLibrary {
public:
  /// Opens `path`; returns null and sets `error` when it is not a cellc library.
  static std::unique_ptr<CellLibrary> open(const std::string &path, std::string &error);
  ~CellLibrary();

  const std::string &name() const { return name_; }
  const std::string &source() const { return source_; }
  const std::string &defines() const { return defines_; }

  struct Timing {
    double forwardMs = 0, backwardMs = 0; // medians over the repeats
  };

  /// Runs forward (and backward when `seeds` is given) `repeat` times on float32 copies of
  /// the data. Returns false with the library's error message.
  bool run(const ir::Cell &cell, const interp::SequenceData &data,
           const interp::GradientSeeds *seeds, int repeat, interp::ForwardResult &fwd,
           interp::BackwardResult &bwd, Timing &timing, std::string &error) const;

private:
  CellLibrary() = default;
  void *handle_ = nullptr;
  std::string name_, source_, defines_;
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
};

} // namespace cellc::driver
