// Generates the C header and the glue of a compiled cell library, and links the library.
//
// The glue is the sequence plan as cellrt tables (buffers, kernel arguments, kernels with
// their Halide argv entry points, the inference, training and backward programs) and the C
// entry points, which hand the tables to cellrt's executor (runtime/cellrt/Executor.h):
//   <cell>_forward_v / <cell>_backward_v(shape, in, out, workspace, bytes, reserve, bytes)
//   <cell>_workspace_size_v / <cell>_reserve_size_v(shape, &bytes), <cell>_error_message()
//   <cell>_signature(): the signature as text (compiler/abi/Signature.h)
// with shape = {T, B, free dims...} and the pointer arrays in signature order. The header
// adds typed structs and inline wrappers over them.
#pragma once

#include "compiler/abi/Signature.h"
#include "compiler/plan/Planner.h"

#include <string>
#include <vector>

namespace cellc::backend {

std::string generateHeader(const abi::Signature &sig);

/// The plan must be laid out by the backend whose kernels the library links, and
/// `kernelsHeader` that backend's cellrt header (its Invoker). `defines` ("H=512") is embedded
/// for `cellc run LIB.so`'s messages.
std::string generateGlue(const plan::Plan &plan, const abi::Signature &sig,
                         const std::string &defines, const std::string &kernelsHeader);

/// What every glue writer shares: a C++ string literal of `s`; a float literal ("0.5f",
/// "INFINITY"); a cellrt::SizeExpr initializer ({constant, terms, {{index, coeff}, ...}}) of a
/// size over the free dims; the entry points that name the library (`<cell>_signature`,
/// `<cell>_error_message`, `cellc_library_name`, `cellc_library_defines`), inside extern "C".
std::string cString(const std::string &s);
std::string floatLiteral(double v);
std::string sizeInit(const Size &s, const std::vector<std::string> &dims);
std::string identityEntryPoints(const abi::Signature &sig, const std::string &defines);

/// The C symbol of a compiled kernel: "<cell>_<kernel>" (its argv entry adds "_argv").
std::string kernelSymbol(const std::string &cell, const std::string &kernel);

struct LinkRequest {
  std::string glueSource;               // path of the generated glue .cpp
  std::vector<std::string> objects;     // kernels and the Halide runtime
  std::string output;                   // lib<name>.so
  std::vector<std::string> includeDirs; // cellrt and Halide headers
  std::vector<std::string> libraries;   // what the backend's runtime needs ("tbb", ...)
};

/// Links with the host C++ compiler ($CXX, else c++; extra flags from $CELLC_GLUE_CXXFLAGS);
/// returns false with the compiler's output in `error`.
bool linkLibrary(const LinkRequest &req, std::string &error);

/// Runs a shell command; true when it exits 0. `output` gets its stdout and stderr.
bool runCommand(const std::string &command, std::string &output);

} // namespace cellc::backend
