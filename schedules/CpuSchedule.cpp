#include "schedules/CpuSchedule.h"

namespace cellc::schedules {

using namespace Halide;

void CpuSchedule::pointwise(Func f, Var i, Var n) const {
  f.compute_root().vectorize(i, vectorWidth, TailStrategy::GuardWithIf).parallel(n);
}

void CpuSchedule::output(Func out, Var i, Var n) const {
  out.vectorize(i, vectorWidth, TailStrategy::GuardWithIf).parallel(n);
}

void CpuSchedule::gemm(Func y, Func prod, Var i, Var n, RVar r, Expr samples) const {
  // Register blocking: a tile of gemmRows() rows by `width` samples of the result is
  // accumulated in registers over the whole sum. AVX-512: 4 vectors x 6 samples = 24 of the 32
  // registers (4 weight loads and 6 broadcasts feed 24 FMAs per step of r); AVX2: 2 x 4 = 8 of
  // 16. Measured on the 2-core AVX-512 dev machine, LSTM I=H=512 B=64 T=50, 1 thread: 4x6
  // took the forward from 170 ms (2x8) to 144 ms. Tiles run in parallel, the sample tiles of
  // one row block next to each other so the block of packed weights is reused from cache.
  Var io("io"), ii("ii"), no("no"), ni("ni"), tile("tile");
  const int rows = gemmRows(), widest = vectorWidth >= 16 ? 6 : 4;
  // Tiles are whole (RoundUp): y is Halide's own buffer, rounded up to whole tiles, and what
  // the accumulation reads stays in bounds because the packed weights are padded to kPackPadding
  // rows and the samples index is clamped (see HalideLowering).
  // The tiles start at a multiple of `rows` (align_bounds): a consumer that needs only part
  // of the result (a slice v[D:2*D]) would otherwise start a whole tile at row D and read the
  // packed weights past their padding.
  y.compute_root().align_bounds(i, rows);
  auto blocked = [&](Stage s, int width) {
    s.tile(i, n, io, no, ii, ni, rows, width, TailStrategy::RoundUp)
        .reorder(ii, ni, no, io)
        .fuse(no, io, tile)
        .parallel(tile)
        .vectorize(ii, vectorWidth);
  };
  // Small batches get tiles as wide as the batch: a 6-wide tile at B = 1 computes five clamped
  // copies of sample 0, six times the FMAs of the GEMV. (Specializations are run-time branches
  // on the kernel's sample count; each costs one more copy of the GEMM's code.)
  blocked(y.specialize(samples == 1), 1);
  if (widest > 2)
    blocked(y.specialize(samples == 2), 2);
  if (widest > 4)
    blocked(y.specialize(samples <= 4), 4);
  blocked(y, widest);
  prod.compute_at(y, tile).vectorize(i, vectorWidth).unroll(i).unroll(n);
  prod.update().reorder(i, n, r).vectorize(i, vectorWidth).unroll(i).unroll(n);
}

void CpuSchedule::chunkedGemm(Func acc, Func partial, Var c, Var r, Var ko, RVar ki,
                              RVar rko) const {
  // Chunks outermost (serial): within a chunk, the tiles of the result run in parallel, each
  // accumulating a gemmRows() by 6 (AVX-512; 4 on AVX2) block in registers over the chunk and
  // adding it to the result in memory.
  Var co("co"), ci("ci"), ro("ro"), ri("ri"), tile("tile");
  const int cols = gemmRows(), rows = vectorWidth >= 16 ? 6 : 4;
  acc.compute_root().vectorize(c, vectorWidth, TailStrategy::RoundUp);
  acc.update()
      .tile(c, r, co, ro, ci, ri, cols, rows, TailStrategy::RoundUp)
      .reorder(ci, ri, ro, co, rko)
      .fuse(ro, co, tile)
      .parallel(tile)
      .vectorize(ci, vectorWidth);
  partial.compute_at(acc, tile).vectorize(c, vectorWidth).unroll(c).unroll(r);
  partial.update().reorder(c, r, ki).vectorize(c, vectorWidth).unroll(c).unroll(r);
  (void)ko;
}

void CpuSchedule::concat(Func f, Var n, const std::vector<RVar> &parts) const {
  f.compute_root();
  for (size_t k = 0; k < parts.size(); ++k)
    f.update(int(k)).vectorize(parts[k], vectorWidth, TailStrategy::GuardWithIf).parallel(n);
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
