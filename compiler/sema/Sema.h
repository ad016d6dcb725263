// Semantic analysis: resolves names, infers and checks every shape, and lowers the checked
// module to the cell IR. All user errors are reported through the DiagnosticEngine with the
// location of the offending text.
#pragma once

#include "compiler/ir/IR.h"
#include "dsl/AST.h"
#include "dsl/Diagnostics.h"

#include <optional>
#include <string>
#include <vector>

namespace cellc::sema {

struct Options {
  std::string defaultName; // the cell's name when the file has no `cell NAME` line
  DimValues defines;       // -D NAME=VALUE: dims fixed at compile time
};

struct Outcome {
  std::optional<ir::Cell> cell;        // set when there were no errors
  std::vector<std::string> badDefines; // -D names that are not dims of the cell
};

/// Checks `m` and lowers it to IR (unoptimized: the passes run after).
Outcome analyze(const dsl::Module &m, dsl::DiagnosticEngine &diags, const Options &opts);

} // namespace cellc::sema
