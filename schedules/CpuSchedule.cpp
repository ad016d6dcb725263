#include "schedules/CpuSchedule.h"

namespace cellc::schedules {

using namespace Halide;

void CpuSchedule::pointwise(Func f, Var i, Var n) const {
  f.compute_root().vectorize(i, vectorWidth, TailStrategy::GuardWithIf).parallel(n);
}

void CpuSchedule::output(Func out, Var i, Var n) const {
  out.vectorize(i, vectorWidth, TailStrategy::GuardWithIf).parallel(n);
}

void CpuSchedule::gemm(Func y, Var i, Var n, RVar r) const {
  // Blocks of 4 vectors of rows by 4 samples: each weight vector loaded once serves 4 samples,
  // and the sum over r runs inside the block so the partial sums stay in cache.
  Var io("io"), ii("ii"), no("no"), ni("ni"), tile("tile");
  const int rows = 4 * vectorWidth, samples = 4;
  y.compute_root();
  y.vectorize(i, vectorWidth, TailStrategy::GuardWithIf);
  y.update()
      .split(i, io, ii, rows, TailStrategy::GuardWithIf)
      .split(n, no, ni, samples, TailStrategy::GuardWithIf)
      .reorder(ii, ni, r, io, no)
      .vectorize(ii, vectorWidth, TailStrategy::GuardWithIf)
      .unroll(ni)
      .fuse(io, no, tile)
      .parallel(tile);
}

void CpuSchedule::rowReduction(Func s, Var n) const {
  s.compute_root().parallel(n);
  s.update().parallel(n);
}

void CpuSchedule::sampleReduction(Func g, Var inner, RVar rn, bool matrix, Var outer) const {
  g.compute_root();
  g.vectorize(inner, vectorWidth, TailStrategy::GuardWithIf);
  Stage u = g.update();
  u.reorder(inner, rn).vectorize(inner, vectorWidth, TailStrategy::GuardWithIf);
  if (matrix)
    u.reorder(inner, rn, outer).parallel(outer);
}

} // namespace cellc::schedules
