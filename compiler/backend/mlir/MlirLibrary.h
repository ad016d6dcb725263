// `cellc compile --backend mlir -o lib<cell>.so`: the module of MlirEmitter, lowered by MLIR
// 14's own tools (mlir-opt-14, mlir-translate-14, llc-14) to an object, and glue that gives it
// the C ABI and the exported signature of a Halide library (runtime/cellrt/MlirSequence.h), so
// `cellc run`, the C examples and the tests run either. A second code path that shares no
// lowering with the Halide backend, to cross-check it; correct, not fast (serial loops).
#pragma once

#include "compiler/abi/Signature.h"
#include "compiler/backend/Backend.h"
#include "compiler/ir/IR.h"

#include <string>
#include <vector>

namespace cellc::backend::mlir {

/// MLIR 14's passes from the emitted module (tensors, linalg, scf) to the LLVM dialect:
/// bufferization with deallocation, linalg to loops, everything to LLVM.
const std::vector<std::string> &loweringPasses();

/// Writes the module to `dir`/module.mlir and lowers it to `dir`/module.o (`object`); false
/// with a message when a tool is missing, the cell has no sequence functions, or a tool fails.
bool compileModule(const ir::Cell &cell, const ir::Gradient &grad, const std::string &dir,
                   std::string &object, std::string &error);

/// The glue: tables binding the C ABI's pointer arrays to the sequence functions' operands,
/// and the C entry points of a library (those of compiler/backend/LibraryGen.h).
std::string generateGlue(const ir::Cell &cell, const ir::Gradient &grad, const abi::Signature &sig,
                         const std::string &defines);

/// What the glue is compiled and linked with.
LinkInputs linkInputs();

} // namespace cellc::backend::mlir
