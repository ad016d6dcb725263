// Reverse-mode automatic differentiation of a cell's step.
#pragma once

#include "compiler/ir/IR.h"

namespace cellc::ir {

/// Derives the backward step of `cell.step` (which should already be simplified).
///
/// The result is a Function whose leaves are params, `saved` forward values and `gradient`
/// seeds (one per output and per new state). Its results give, for one step and one sample:
/// `grad x` for every input, `grad h` for every state (the gradient reaching the previous
/// state), and `grad W` for every param (this step's contribution, to be summed over time and
/// batch). Gradient.saved lists the forward values the backward reads.
///
/// Choices at non-differentiable points, all documented in dsl/README.md: relu'(0) = 0,
/// abs'(0) = 0, hard_sigmoid'(±3) = 0, and min/max pass the gradient to their first
/// operand on a tie (so clamp passes it to x at the bounds, as PyTorch does).
Gradient differentiate(const Cell &cell);

} // namespace cellc::ir
