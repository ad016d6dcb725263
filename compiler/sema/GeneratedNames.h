// The names a cell's tensors take outside the cell: the fields of the generated C header and
// the .npy files of `cellc run` (x, grad_x, h_init, grad_h_final, ...). Sema checks them so
// that a cell which compiles also gives a header that compiles and files that do not
// overwrite each other.
#pragma once

#include "dsl/Diagnostics.h"

#include <string>
#include <vector>

namespace cellc::sema {

/// A declared name that takes generated names.
struct NamedTensor {
  enum class Kind { Dim, Input, State, Param, Output };
  Kind kind;
  std::string name;
  dsl::Range range; // where the name is written
};

/// Reports (as errors in `diags`) names that are C or C++ keywords, dims named T or B (every
/// cell's sequence length and batch size), and two tensors whose generated names coincide
/// (e.g. `param grad_h` beside `output h`, whose gradient is grad_h).
void checkGeneratedNames(const std::vector<NamedTensor> &tensors, dsl::DiagnosticEngine &diags);

} // namespace cellc::sema
