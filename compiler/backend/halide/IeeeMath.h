// Float32 math for the Halide kernels with the reference's IEEE semantics at the edges: NaN in,
// NaN out (also through min, max, clamp and relu); ±Inf and huge finite values saturate as
// PyTorch's float32 ops do (sigmoid(-inf) = 0, tanh(±1e20) = ±1, exp(100) = inf); denormal
// inputs are not treated as zero. Halide's own exp and log are fast polynomial forms that
// clamp their argument (a NaN becomes a bound, exp(1e20) is 0, log(inf) 88.7) and read the
// exponent bits (a denormal becomes a tiny normal); and Halide compiles with LLVM's fast-math
// flags, under which float NaN tests can be folded away. The guards here test bits as
// integers and cost a compare and a select per element (no measurable change on the LSTM).
#pragma once

#include <Halide.h>

namespace cellc::backend::ieee {

Halide::Expr exp(Halide::Expr x);
Halide::Expr log(Halide::Expr x);
Halide::Expr sigmoid(Halide::Expr x);
Halide::Expr tanh(Halide::Expr x);
Halide::Expr softplus(Halide::Expr x);
Halide::Expr hardSigmoid(Halide::Expr x);
Halide::Expr relu(Halide::Expr x);
/// A tie picks a, as the interpreter; a NaN in either operand gives NaN.
Halide::Expr minimum(Halide::Expr a, Halide::Expr b);
Halide::Expr maximum(Halide::Expr a, Halide::Expr b);

} // namespace cellc::backend::ieee
