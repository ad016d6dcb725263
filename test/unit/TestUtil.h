// Helpers shared by the unit tests: compile .cell text held in a string through the compile
// API (compiler/Compiler.h) and keep it alive while a test looks at its stages.
#pragma once

#include "compiler/Compiler.h"
#include "compiler/sema/Sema.h"
#include "compiler/transforms/Passes.h"
#include "dsl/Lexer.h"
#include "dsl/Parser.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellc::test {

struct Compiled {
  std::unique_ptr<Compiler> compiler;

  bool ok() const { return compiler->has(Stage::IR); }
  const ir::Cell &cell() const { return compiler->cell(); }
  const dsl::Module &module() const { return compiler->ast(); }
  const dsl::SourceFile &file() const { return compiler->diagnostics().file(); }
  unsigned errorCount() const { return compiler->diagnostics().errorCount(); }
  /// The messages of the diagnostics of one severity, in the order they were reported.
  std::vector<std::string> messages(dsl::Severity s = dsl::Severity::Error) const {
    std::vector<std::string> out;
    for (const dsl::Diagnostic &d : compiler->diagnostics().diagnostics())
      if (d.severity == s)
        out.push_back(d.message);
    return out;
  }
};

/// Lexes and parses `text` only (no sema).
inline Compiled parseText(const std::string &text) {
  Compiled c{std::make_unique<Compiler>("t.cell", text)};
  c.compiler->runTo(Stage::AST);
  return c;
}

/// Lexes, parses and checks `text` (cell name "t"); simplifies the step when `simplify` is set.
inline Compiled compileText(const std::string &text, const DimValues &defines = {},
                            bool simplify = true) {
  Compiled c{std::make_unique<Compiler>("t.cell", text, CompileOptions{defines, simplify})};
  c.compiler->runTo(Stage::IR);
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
