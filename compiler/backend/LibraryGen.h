// Generates the C header and the glue of a compiled cell library, and links the library.
//
// The glue implements a generic entry per operation over arrays of pointers, in the order of
// the cell's signature:
//   <cell>_forward_v(shape, in, out, workspace, bytes, reserve, bytes)
//     shape = {T, B, free dims...}; in = {inputs, initial states (NULL: declared init),
//     params}; out = {outputs, final states}; reserve NULL for inference
//   <cell>_backward_v(shape, in, out, workspace, bytes, reserve, bytes)
//     in = {inputs, params, output gradients, final-state gradients (NULL: zero)};
//     out = {input gradients, initial-state gradients, param gradients}
//   <cell>_workspace_size_v / <cell>_reserve_size_v(shape, &bytes), <cell>_error_message()
// and the header adds typed structs and inline wrappers over them.
#pragma once

#include "compiler/IR.h"
#include "compiler/Planner.h"

#include <string>
#include <vector>

namespace cellc::backend {

std::string generateHeader(const ir::Cell &cell, const plan::Plan &plan);

/// `source` and `defines` are embedded so that `cellc run LIB.so` can recover the signature.
std::string generateGlue(const ir::Cell &cell, const plan::Plan &plan, const std::string &source,
                         const std::string &defines);

struct LinkRequest {
  std::string glueSource;               // path of the generated glue .cpp
  std::vector<std::string> objects;     // kernels and the Halide runtime
  std::string output;                   // lib<name>.so
  std::vector<std::string> includeDirs; // cellrt and Halide headers
};

/// Links with the host C++ compiler; returns false with the compiler's output in `error`.
bool linkLibrary(const LinkRequest &req, std::string &error);

} // namespace cellc::backend
