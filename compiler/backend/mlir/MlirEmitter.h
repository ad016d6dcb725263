// The cell's forward and backward steps as an MLIR 14 module (`cellc compile --emit=mlir`), a
// second lowering written apart from the Halide one: builtin functions over tensors with the
// cell's free dims as `index` arguments (dynamic sizes; -D makes them static), `linalg` for the
// matvecs, outer products and reductions and for every elementwise op (linalg.generic with an
// `arith`/`math` body), `tensor` for slices and concatenations. Elementwise ops keep the
// reference semantics (compiler/ir/ScalarOps.h): NaN propagates through min, max and relu.
#pragma once

#include "compiler/ir/IR.h"

#include <ostream>

namespace cellc::backend::mlir {

/// Writes `@<cell>_forward_step` (inputs, states, params -> new states, outputs) and
/// `@<cell>_backward_step` (the gradient's leaves -> input, state and param gradients), each
/// for one sample.
void emitModule(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad);

} // namespace cellc::backend::mlir
