// Passes over the cell IR. Each takes a Function and returns a new, equivalent one.
#pragma once

#include "compiler/ir/IR.h"

namespace cellc::ir {

/// Folds constants and applies algebraic identities (x+0, x*1, -(-x)), slices of slices,
/// slices of concats and concats of adjacent slices; then removes dead nodes.
Function canonicalize(const Function &f);

/// Merges identical nodes (same op, operands and attributes); then removes dead nodes.
Function eliminateCommonSubexpressions(const Function &f);

/// Drops nodes no result depends on. Input, state and param leaves always stay: they are the
/// function's signature.
Function removeDeadCode(const Function &f);

/// canonicalize, then CSE: what the compiler runs by default.
Function simplify(const Function &f);

} // namespace cellc::ir
