// Helpers shared by the unit tests: compile .cell text held in a string through the front end
// (lex, parse, sema, optionally simplify) and keep every object the result points into alive.
#pragma once

#include "compiler/IR.h"
#include "compiler/Passes.h"
#include "compiler/Sema.h"
#include "dsl/Lexer.h"
#include "dsl/Parser.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellc::test {

struct Compiled {
  std::unique_ptr<dsl::SourceFile> file;
  std::unique_ptr<dsl::DiagnosticEngine> diags;
  dsl::Module module;
  sema::Outcome outcome;

  bool ok() const { return outcome.cell.has_value(); }
  const ir::Cell &cell() const { return *outcome.cell; }
  unsigned errorCount() const { return diags->errorCount(); }
  /// The messages of the diagnostics of one severity, in the order they were reported.
  std::vector<std::string> messages(dsl::Severity s = dsl::Severity::Error) const {
    std::vector<std::string> out;
    for (const dsl::Diagnostic &d : diags->diagnostics())
      if (d.severity == s)
        out.push_back(d.message);
    return out;
  }
};

/// Lexes and parses `text` only (no sema).
inline Compiled parseText(const std::string &text) {
  Compiled c;
  c.file = std::make_unique<dsl::SourceFile>("t.cell", text);
  c.diags = std::make_unique<dsl::DiagnosticEngine>(*c.file);
  std::vector<dsl::Token> toks = dsl::lex(*c.file, *c.diags);
  c.module = dsl::parse(toks, *c.diags);
  return c;
}

/// Lexes, parses and checks `text`; on success simplifies the step when `simplify` is set.
inline Compiled compileText(const std::string &text, const DimValues &defines = {},
                            bool simplify = true) {
  Compiled c = parseText(text);
  if (c.diags->hasErrors())
    return c;
  c.outcome = sema::analyze(c.module, *c.diags, {"t", defines});
  if (simplify && c.outcome.cell)
    c.outcome.cell->step = ir::simplify(c.outcome.cell->step);
  return c;
}

/// Whether any message of `c`'s errors contains `part`.
inline bool hasError(const Compiled &c, const std::string &part) {
  for (const std::string &m : c.messages())
    if (m.find(part) != std::string::npos)
      return true;
  return false;
}

/// The number of nodes of `f` with op `op`.
inline int countOps(const ir::Function &f, ir::Op op) {
  int n = 0;
  for (const ir::Node &node : f.nodes)
    n += node.op == op;
  return n;
}

} // namespace cellc::test
