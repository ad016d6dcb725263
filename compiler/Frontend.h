// The front half of the pipeline as one call: read, lex, parse, check, lower, simplify.
// Stages can be stopped after and printed (the --emit kinds).
#pragma once

#include "compiler/Autodiff.h"
#include "compiler/IR.h"
#include "compiler/Planner.h"

#include <optional>
#include <ostream>
#include <string>

namespace cellc {

enum class Stage { Tokens, AST, IR, Grad, Plan };

struct FrontendOptions {
  DimValues defines;
  bool optimize = true; // canonicalize + CSE (off: print the IR exactly as lowered)
  std::optional<std::string> sourceText; // the source, when not read from the path
};

struct CompiledCell {
  ir::Cell cell;
  ir::Gradient grad;
  plan::Plan plan; // from the Plan stage on
};

struct FrontendResult {
  bool ok = false;                      // no errors (warnings allowed)
  std::optional<CompiledCell> compiled; // from the IR stage on
};

/// Runs the pipeline on `path` up to `stopAfter`, printing that stage to `out` when
/// `print` is set. Diagnostics go to `diag`. The gradient is derived when stopAfter is Grad.
FrontendResult runFrontend(const std::string &path, const FrontendOptions &opts, Stage stopAfter,
                           bool print, std::ostream &out, std::ostream &diag);

/// A C identifier from a file name: "models/my-cell.cell" -> "my_cell".
std::string cellNameFromPath(const std::string &path);

} // namespace cellc
