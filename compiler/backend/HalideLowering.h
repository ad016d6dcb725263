// Lowers the kernels of a plan to Halide pipelines and compiles them ahead of time.
//
// Every kernel becomes one function `<cell>_<kernel>` with the signature
//   (int32 dim..., int32 samples, input buffers..., output buffers...)
// in the order of the plan's arguments. Per-sample buffers are 2-D (i, n): i the element
// (extent 1 for a scalar), n the sample; params keep their declared layout, `param_t` ones
// are packed transposed.
#pragma once

#include "compiler/IR.h"
#include "compiler/Planner.h"

#include <string>
#include <vector>

namespace cellc::backend {

struct CompileRequest {
  std::string target = "host"; // a Halide target string
  std::string outputDir;       // where objects go
};

struct CompiledKernels {
  std::vector<std::string> objects;   // kernel objects, then the Halide runtime
  std::vector<std::string> libraries; // what they link against (Halide's parallel-for: TBB)
  std::string stmt;                 // Halide's lowered statements (--emit=halide)
};

/// The plan with this backend's layout choices (packed GEMM matrices), which the kernels
/// compiled by compileKernels expect.
plan::Plan backendPlan(const plan::Plan &plan);

/// Compiles every kernel of `plan` for the target, plus one shared Halide runtime.
/// Returns false and sets `error` on a bad target or a Halide failure.
bool compileKernels(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                    const CompileRequest &req, CompiledKernels &out, std::string &error);

/// Lowers the kernels and returns Halide's statement text for each (for lit tests).
bool lowerToStmt(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                 const std::string &target, std::string &stmt, std::string &error);

} // namespace cellc::backend
