// The meaning of every elementwise op on one number. The reference interpreter and constant
// folding both use these, so a folded constant is exactly what the interpreter would compute.
#pragma once

#include "compiler/ir/IR.h"

#include <cmath>
#include <limits>

namespace cellc::ir {

inline double applyUnary(Op op, double x) {
  switch (op) {
  case Op::Neg:
    return -x;
  case Op::Sigmoid:
    return 1.0 / (1.0 + std::exp(-x));
  case Op::Tanh:
    return std::tanh(x);
  case Op::Relu: // NaN propagates, as in PyTorch
    return std::isnan(x) || x > 0 ? x : 0.0;
  case Op::Exp:
    return std::exp(x);
  case Op::Log:
    return std::log(x);
  case Op::Softplus: // log(1 + e^x), without overflow for large x
    return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  case Op::HardSigmoid: // PyTorch's Hardsigmoid: relu6(x + 3) / 6
    return x <= -3 ? 0.0 : x >= 3 ? 1.0 : x / 6.0 + 0.5;
  case Op::Sqrt:
    return std::sqrt(x);
  case Op::Rsqrt:
    return 1.0 / std::sqrt(x);
  case Op::Abs:
    return std::fabs(x);
  case Op::IsPositive:
    return x > 0 ? 1.0 : 0.0;
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
    CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
    break; // not unary
  }
  return std::numeric_limits<double>::quiet_NaN();
}

inline double applyBinary(Op op, double a, double b) {
  switch (op) {
  case Op::Add:
    return a + b;
  case Op::Sub:
    return a - b;
  case Op::Mul:
    return a * b;
  case Op::Div:
    return a / b;
  case Op::Min: // NaN propagates, a tie picks a
    return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN()
                                          : (a <= b ? a : b);
  case Op::Max:
    return std::isnan(a) || std::isnan(b) ? std::numeric_limits<double>::quiet_NaN()
                                          : (a >= b ? a : b);
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
    break; // not binary
  }
  return std::numeric_limits<double>::quiet_NaN();
}

} // namespace cellc::ir
