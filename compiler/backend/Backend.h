// The seam between the target-neutral sequence plan and a code generator. A backend chooses
// how the plan's operands are laid out for its kernels (e.g. packed GEMM matrices), compiles
// every kernel of the plan, prints its lowered form, and says what a library of its kernels
// is compiled and linked with. The glue (the plan as cellrt tables) and the header do not
// depend on the backend. Today: Halide for CPU targets; CUDA plugs in here. The MLIR library
// (--backend mlir) lowers the MLIR module, not the plan: compiler/backend/mlir/MlirLibrary.h.
#pragma once

#include "compiler/ir/IR.h"
#include "compiler/plan/Planner.h"

#include <memory>
#include <string>
#include <vector>

namespace cellc::backend {

struct CompiledKernels {
  std::vector<std::string> objects; // kernel objects, then the backend's runtime
};

/// What the glue of a library with this backend's kernels is compiled and linked with.
struct LinkInputs {
  std::vector<std::string> includeDirs; // cellrt's and the backend runtime's headers
  std::vector<std::string> libraries;   // -l names
  std::string kernelsHeader;            // the cellrt header the glue includes
};

class Backend {
public:
  virtual ~Backend() = default;
  /// The target as the user wrote it ("host", "x86-64-linux-avx2").
  virtual std::string target() const = 0;
  /// The plan with this backend's layout choices, which its kernels expect.
  virtual plan::Plan layout(const plan::Plan &plan) const = 0;
  /// Compiles every kernel of a laid-out plan (and the backend's runtime) into `dir`.
  virtual bool compile(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                       const std::string &dir, CompiledKernels &out, std::string &error) const = 0;
  /// The kernels' lowered form as text (--emit=halide).
  virtual bool lowered(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                       std::string &text, std::string &error) const = 0;
  virtual LinkInputs linkInputs() const = 0;
};

/// The backend for a target string; null with a message on an unknown target.
std::unique_ptr<Backend> makeBackend(const std::string &target, std::string &error);

} // namespace cellc::backend
