#include "compiler/backend/halide/IeeeMath.h"

#include <limits>

namespace cellc::backend::ieee {

using Halide::Expr;
using Halide::select;

namespace {

/// Whether x is NaN, tested on its bits: an integer test that no fast-math assumption about
/// floats can fold away. Halide's is_nan was folded to false in vector tails, and wherever a
/// fast-math op (the argument of exp, hoisted out of the stage's strict_float) read the same
/// value: sigmoid(-inf) * tanh(NaN) came out 0.
Expr isNaN(const Expr &x) {
  Expr bits = Halide::reinterpret<uint32_t>(x) & Halide::Expr(uint32_t(0x7fffffff));
  return bits > Halide::Expr(uint32_t(0x7f800000));
}

/// f(x), or x itself where x is NaN.
Expr keepNaN(const Expr &x, const Expr &f) { return select(isNaN(x), x, f); }

/// Halide's exp is right (to float32 rounding) between these; above, float32 exp overflows to
/// inf and below it is 0 or a denormal, while Halide's returns 0 for huge arguments (1e20, inf).
constexpr float kExpOverflow = 88.7228394f, kExpUnderflow = -103.972084f;

/// e^x for any x that is not NaN.
Expr expNotNaN(const Expr &x) {
  return select(x > kExpOverflow, Halide::cast<float>(std::numeric_limits<float>::infinity()),
                select(x < kExpUnderflow, 0.0f, Halide::exp(x)));
}

/// The smallest normal float32: below it Halide's log misreads the exponent.
constexpr float kSmallestNormal = 1.17549435e-38f;
/// ln(2^24): a denormal is scaled by 2^24 into the normal range before its log.
constexpr float kLog2To24 = 16.6355323f;

} // namespace

Expr exp(Expr x) { return keepNaN(x, expNotNaN(x)); }

Expr log(Expr x) {
  Expr denormal = x < kSmallestNormal && x > 0.0f;
  Expr scaled = select(denormal, x * 16777216.0f, x);
  Expr l = Halide::log(scaled) - select(denormal, kLog2To24, 0.0f);
  // Halide's log(inf) is about 88.7, the log of the largest finite float.
  return keepNaN(
      x, select(Halide::reinterpret<uint32_t>(x) == Halide::Expr(uint32_t(0x7f800000)), x, l));
}

Expr sigmoid(Expr x) {
  // With e = exp(-|x|) in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) below; neither
  // overflows, and x = ±inf gives exactly 1 or 0.
  Expr e = expNotNaN(-Halide::abs(x));
  return keepNaN(x, select(x >= 0.0f, 1.0f / (1.0f + e), e / (1.0f + e)));
}

Expr tanh(Expr x) {
  // (1 - e^-2|x|) / (1 + e^-2|x|) with the sign of x: vectorizes (tanhf does not) and cannot
  // overflow; ±inf and huge values give ±1.
  Expr t = expNotNaN(-2.0f * Halide::abs(x)), r = (1.0f - t) / (1.0f + t);
  return keepNaN(x, select(x < 0.0f, -r, r));
}

Expr softplus(Expr x) {
  // max(x, 0) + log(1 + e^-|x|): no overflow for large |x|; softplus(inf) = inf.
  return keepNaN(x, Halide::max(x, 0.0f) + Halide::log(1.0f + expNotNaN(-Halide::abs(x))));
}

Expr hardSigmoid(Expr x) { return keepNaN(x, Halide::clamp(x / 6.0f + 0.5f, 0.0f, 1.0f)); }

Expr relu(Expr x) { return keepNaN(x, Halide::max(x, 0.0f)); }

// The NaN operand itself is returned, not a + b: under LLVM's fast-math flags the result of
// an addition is assumed not to be NaN.
Expr minimum(Expr a, Expr b) {
  return Halide::strict_float(keepNaN(a, keepNaN(b, select(a <= b, a, b))));
}

Expr maximum(Expr a, Expr b) {
  return Halide::strict_float(keepNaN(a, keepNaN(b, select(a >= b, a, b))));
}

} // namespace cellc::backend::ieee
