// What `cellc run` runs a sequence with: a compiled library (LibraryRunner.h) or the reference
// interpreter (InterpreterRunner below). Both take the tensors of a call as arrays in the
// order of the cell's signature (compiler/abi/Signature.h), so `cellc run` binds files to
// positions once, from the signature, whichever runs them.
#pragma once

#include "compiler/interp/Interpreter.h"
#include "runtime/cellrt/Stack.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cellc::cli {

/// One tensor per signature row; an empty one is a NULL pointer (an omitted optional tensor).
using Tensors = std::vector<std::vector<double>>;

struct Timing {
  double forwardMs = 0, backwardMs = 0; // medians over the repeats
};

/// A stack call (cellrt/Stack.h) in place of the one-layer call: tensors then follow
/// abi::stacked's signature.
struct Stacking {
  bool on = false;
  int64_t layers = 1, directions = 1;
  std::vector<int64_t> lengths; // empty: every sample T long
  double dropout = 0;
  uint64_t seed = 0;
  cellrt::StackConfig config() const {
    return {layers, directions, lengths.empty() ? nullptr : lengths.data(), dropout, seed};
  }
};

class SequenceRunner {
public:
  virtual ~SequenceRunner() = default;
  void stack(Stacking s) { stack_ = std::move(s); }
  /// Runs forward (and backward when `bwdIn` is given) `repeat` times. `fwdOut`/`bwdOut` come
  /// sized. Returns false with a message in `error`.
  virtual bool run(const std::vector<int64_t> &shape, const Tensors &fwdIn, Tensors &fwdOut,
                   const Tensors *bwdIn, Tensors *bwdOut, int repeat, Timing &timing,
                   std::string &error) = 0;
  /// "compiled library" or "reference interpreter": what the summary line says ran.
  virtual const char *what() const = 0;

protected:
  Stacking stack_;
};

/// The reference interpreter (double precision), over the same plan a library runs.
class InterpreterRunner : public SequenceRunner {
public:
  InterpreterRunner(const ir::Cell &cell, const ir::Gradient &grad) : si_(cell, grad) {}
  bool run(const std::vector<int64_t> &shape, const Tensors &fwdIn, Tensors &fwdOut,
           const Tensors *bwdIn, Tensors *bwdOut, int repeat, Timing &timing,
           std::string &error) override;
  const char *what() const override { return "reference interpreter"; }

private:
  interp::SequenceInterpreter si_;
};

/// Pointers to the tensors, null for empty ones.
template <typename E> std::vector<E *> pointers(std::vector<std::vector<E>> &t) {
  std::vector<E *> p;
  for (auto &v : t)
    p.push_back(v.empty() ? nullptr : v.data());
  return p;
}

} // namespace cellc::cli
