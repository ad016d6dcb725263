#include "compiler/backend/Backend.h"

#include "compiler/backend/halide/HalideLowering.h"

namespace cellc::backend {

std::unique_ptr<Backend> makeBackend(const std::string &target, std::string &error) {
  // Every target is a Halide CPU target today; CUDA and MLIR backends are chosen here.
  return makeHalideBackend(target, error);
}

} // namespace cellc::backend
