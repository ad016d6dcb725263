#include "compiler/backend/Backend.h"

#include "compiler/backend/halide/HalideLowering.h"

namespace cellc::backend {

std::unique_ptr<Backend> makeBackend(const std::string &target, std::string &error) {
  // Every target is a Halide CPU target today; a CUDA backend is chosen here. (The MLIR
  // library, --backend mlir, does not lower the plan: compiler/backend/mlir/MlirLibrary.h.)
  return makeHalideBackend(target, error);
}

} // namespace cellc::backend
