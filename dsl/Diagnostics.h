// One engine that collects diagnostics (several per run) and renders them as
//   file:line:col: error: message
//     the source line
//         ^~~~~
// User errors are reported here; internal invariants use assert() instead.
#pragma once

#include "dsl/Source.h"

#include <ostream>
#include <string>
#include <vector>

namespace cellc::dsl {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  Severity severity;
  Range range;
  std::string message;
};

class DiagnosticEngine {
public:
  explicit DiagnosticEngine(const SourceFile &file) : file_(file) {}

  void error(Range r, std::string message);
  void warning(Range r, std::string message);
  /// A note attaches to the diagnostic before it.
  void note(Range r, std::string message);

  bool hasErrors() const { return errorCount_ > 0; }
  unsigned errorCount() const { return errorCount_; }
  const std::vector<Diagnostic> &diagnostics() const { return diags_; }
  const SourceFile &file() const { return file_; }

  /// Renders every diagnostic with its location, source line and caret.
  void print(std::ostream &os) const;

private:
  void printOne(std::ostream &os, const Diagnostic &d) const;

  const SourceFile &file_;
  std::vector<Diagnostic> diags_;
  unsigned errorCount_ = 0;
};

} // namespace cellc::dsl
