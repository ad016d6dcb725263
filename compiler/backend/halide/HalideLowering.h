// Lowers the kernels of a plan to Halide pipelines and compiles them ahead of time.
//
// Every kernel becomes one function `<cell>_<kernel>` with the signature
//   (int32 dim..., int32 samples, input buffers..., output buffers...)
// in the order of the plan's arguments. Per-sample buffers are 2-D (i, n): i the element
// (extent 1 for a scalar), n the sample; params keep their declared layout, `param_t` ones
// are packed transposed. GEMM matrices come packed (GemmPacking.h): the backend's layout.
#pragma once

#include "compiler/backend/Backend.h"

namespace cellc::backend {

/// The Halide backend for CPU targets ("host" or any Halide target string); null with a
/// message on an invalid target.
std::unique_ptr<Backend> makeHalideBackend(const std::string &target, std::string &error);

} // namespace cellc::backend
