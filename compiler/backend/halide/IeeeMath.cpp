#include "compiler/backend/halide/IeeeMath.h"

namespace cellc::backend::ieee {

using Halide::Expr;
using Halide::select;

namespace {

/// f(x), or x itself where x is NaN.
Expr keepNaN(const Expr &x, const Expr &f) { return select(Halide::is_nan(x), x, f); }

/// The smallest normal float32: below it Halide's log misreads the exponent.
constexpr float kSmallestNormal = 1.17549435e-38f;
/// ln(2^24): a denormal is scaled by 2^24 into the normal range before its log.
constexpr float kLog2To24 = 16.6355323f;

} // namespace

Expr exp(Expr x) {
  // Halide's exp clamps its argument to about ±88.7, where float32 exp overflows to inf or
  // underflows to 0 anyway; only a NaN needs its own case.
  return keepNaN(x, Halide::exp(x));
}

Expr log(Expr x) {
  Expr denormal = x < kSmallestNormal && x > 0.0f;
  Expr scaled = select(denormal, x * 16777216.0f, x);
  Expr l = Halide::log(scaled) - select(denormal, kLog2To24, 0.0f);
  return keepNaN(x, l);
}

Expr sigmoid(Expr x) {
  // With e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below; neither
  // overflows, and x = ±inf gives exactly 1 or 0.
  Expr e = Halide::exp(-Halide::abs(x));
  return keepNaN(x, select(x >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e)));
}

Expr tanh(Expr x) {
  // (1 - e^-2|x|) / (1 + e^-2|x|) with the sign of x: vectorizes (tanhf does not) and cannot
  // overflow; ±inf and huge values give ±1.
  Expr t = Halide::exp(-2.0f * Halide::abs(x)), r = (1.0f - t) / (1.0f + t);
  return keepNaN(x, select(x < 0.0f, -r, r));
}

Expr softplus(Expr x) {
  // max(x, 0) + log(1 + e^-|x|): no overflow for large |x|; softplus(inf) = inf.
  return keepNaN(x, Halide::max(x, 0.0f) + Halide::log(1.0f + Halide::exp(-Halide::abs(x))));
}

Expr hardSigmoid(Expr x) { return keepNaN(x, Halide::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f)); }

Expr relu(Expr x) { return keepNaN(x, Halide::max(x, 0.0f)); }

// The NaN operand itself is returned, not a + b: Halide compiles with LLVM's fast-math flags,
// under which the result of an addition is assumed not to be NaN and a later is_nan test on
// it is folded away.
Expr minimum(Expr a, Expr b) {
  return Halide::strict_float(keepNaN(a, keepNaN(b, select(a <= b, a, b))));
}

Expr maximum(Expr a, Expr b) {
  return Halide::strict_float(keepNaN(a, keepNaN(b, select(a >= b, a, b))));
}

} // namespace cellc::backend::ieee
