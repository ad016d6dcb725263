#include "cli/SequenceRunner.h"

#include "runtime/cellrt/Errors.h"

#include <chrono>

namespace cellc::cli {

bool InterpreterRunner::run(const std::vector<int64_t> &shape, const Tensors &fwdIn,
                            Tensors &fwdOut, const Tensors *bwdIn, Tensors *bwdOut, int repeat,
                            Timing &timing, std::string &error) {
  auto fail = [&](const char *what) {
    error = std::string(what) + ": " + cellrt::lastError();
    return false;
  };
  const cellrt::StackConfig stack = stack_.config();
  int64_t ws = 0, rs = 0;
  if (stack_.on ? si_.stackSize(shape.data(), stack, &ws, false) ||
                      si_.stackSize(shape.data(), stack, &rs, true)
                : si_.workspaceSize(shape.data(), &ws) || si_.reserveSize(shape.data(), &rs))
    return fail("size query");
  std::vector<double> workspace(size_t(ws / 8) + 1), reserve(size_t(rs / 8) + 1);
  Tensors in = fwdIn;
  std::vector<double *> inp = pointers(in), outp = pointers(fwdOut);
  auto t0 = std::chrono::steady_clock::now();
  void *rsp = bwdIn ? reserve.data() : nullptr;
  if (stack_.on ? si_.stackForward(shape.data(), stack, inp.data(), outp.data(), workspace.data(),
                                   ws, rsp, rs)
                : si_.forward(shape.data(), inp.data(), outp.data(), workspace.data(), ws, rsp, rs))
    return fail("forward");
  auto t1 = std::chrono::steady_clock::now();
  timing.forwardMs = std::chrono::duration<double, std::milli>(t1 - t0).count();
  (void)repeat; // the interpreter is the reference, not timed repeatedly
  if (!bwdIn)
    return true;
  Tensors bin = *bwdIn;
  std::vector<double *> binp = pointers(bin), boutp = pointers(*bwdOut);
  if (stack_.on ? si_.stackBackward(shape.data(), stack, binp.data(), boutp.data(),
                                    workspace.data(), ws, reserve.data(), rs)
                : si_.backward(shape.data(), binp.data(), boutp.data(), workspace.data(), ws,
                               reserve.data(), rs))
    return fail("backward");
  timing.backwardMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  return true;
}

} // namespace cellc::cli
