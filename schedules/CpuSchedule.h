// CPU schedules for the Funcs of a lowered kernel (x86-64 AVX2/AVX-512, any Halide CPU
// target). The lowering (compiler/backend/HalideLowering) states the algorithm only and asks
// here how to schedule each kind of stage.
#pragma once

#include <Halide.h>

namespace cellc::schedules {

struct CpuSchedule {
  int vectorWidth; // floats per vector register of the target

  explicit CpuSchedule(const Halide::Target &t) : vectorWidth(t.natural_vector_size<float>()) {}

  /// Rows of a GEMM register tile: also the panel width of packed matrices.
  int gemmRows() const { return vectorWidth >= 16 ? 4 * vectorWidth : 2 * vectorWidth; }
  /// Packed GEMM matrices have their rows padded with zeros to a multiple of this, so whole
  /// register tiles never read past them: a multiple of gemmRows() on every target (64 on
  /// AVX-512, 16 on AVX2). The one home of this number: the plan carries it to the runtime.
  static constexpr int kPackPadding = 64;
  /// A per-sample value f(i, n) stored for reuse by several consumers.
  void pointwise(Halide::Func f, Halide::Var i, Halide::Var n) const;
  /// A kernel output out(i, n) over the sample dimension n.
  void output(Halide::Func out, Halide::Var i, Halide::Var n) const;
  /// A GEMM y(i, n) = prod(i, n), prod(i, n) = sum_r A(i, r) x(r, n), A contiguous in i
  /// (packed weights). `y` is the stored result, `prod` the accumulation, `samples` the
  /// kernel's sample count (small batches get narrower register tiles).
  void gemm(Halide::Func y, Halide::Func prod, Halide::Var i, Halide::Var n, Halide::RVar r,
            Halide::Expr samples) const;
  /// Samples per chunk of a chunked GEMM (K-blocking over T*B): 256 samples of a 64-column
  /// block and a 6-row block are 70 KB, which stays in L2 while tiles reuse it.
  static constexpr int kSampleChunk = 256;
  /// acc(c, r) = sum_ko partial(c, r, ko), partial a register-blocked GEMM over one chunk.
  void chunkedGemm(Halide::Func acc, Halide::Func partial, Halide::Var c, Halide::Var r,
                   Halide::Var ko, Halide::RVar ki, Halide::RVar rko) const;
  /// A concatenation: update k writes part k's range over parts[k].
  void concat(Halide::Func f, Halide::Var n, const std::vector<Halide::RVar> &parts) const;
  /// A per-sample reduction s(n) = sum_r v(r, n).
  void rowReduction(Halide::Func s, Halide::Var n) const;
  /// A parameter gradient g(c, r) = sum_n a(r, n) b(c, n) (or a vector g(i) = sum_n v(i, n)).
  void sampleReduction(Halide::Func g, Halide::Var inner, Halide::RVar rn, bool matrix,
                       Halide::Var outer) const;
};

} // namespace cellc::schedules
