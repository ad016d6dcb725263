// The Halide CPU backend's layout choice for GEMM matrices: a param read as the matrix of
// `W @ v` or `W^T @ v` is packed once per call into a workspace slot (or once for many calls:
// packed params), in panels of kPackPadding of the GEMM's rows, each contiguous along its rows
// and then along the sum, padded with zeros (cellrt::packPadded); the kernels read the copy. The
// plan itself only says "matvec with operand W"; this rewrites its bindings and adds the pack
// steps.
#pragma once

#include "compiler/plan/Planner.h"

namespace cellc::backend {

void packGemmOperands(plan::Plan &plan, int64_t padding);

} // namespace cellc::backend
