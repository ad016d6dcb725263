#include "dsl/Diagnostics.h"

namespace cellc::dsl {

// Past this many errors the rest are most likely follow-ups of the first ones.
static constexpr unsigned kMaxErrors = 30;

void DiagnosticEngine::error(Range r, std::string message) {
  ++errorCount_;
  if (errorCount_ <= kMaxErrors)
    diags_.push_back({Severity::Error, r, std::move(message)});
}

void DiagnosticEngine::warning(Range r, std::string message) {
  diags_.push_back({Severity::Warning, r, std::move(message)});
}

void DiagnosticEngine::note(Range r, std::string message) {
  if (errorCount_ <= kMaxErrors)
    diags_.push_back({Severity::Note, r, std::move(message)});
}

static const char *severityName(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Note:
    return "note";
  }
  return "error";
}

void DiagnosticEngine::printOne(std::ostream &os, const Diagnostic &d) const {
  LineCol lc = file_.lineCol(d.range.begin);
  std::string_view line = file_.lineText(lc.line);
  // Build the whole diagnostic first: std::cerr is unbuffered, so each << is a write().
  std::string text = file_.path() + ":" + std::to_string(lc.line) + ":" + std::to_string(lc.col) +
                     ": " + severityName(d.severity) + ": " + d.message + "\n  ";
  text.append(line);
  text += "\n  ";
  // Keep tabs so the caret lines up under the text in a terminal, and count a UTF-8 sequence
  // (a character that takes several bytes) as one column.
  auto continuation = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
  for (unsigned i = 1; i < lc.col && i - 1 < line.size(); ++i)
    if (!continuation(line[i - 1]))
      text += line[i - 1] == '\t' ? '\t' : ' ';
  text += '^';
  unsigned len = d.range.end > d.range.begin ? d.range.end - d.range.begin : 1;
  for (unsigned i = 1; i < len && lc.col - 1 + i < line.size(); ++i)
    if (!continuation(line[lc.col - 1 + i]))
      text += '~';
  text += '\n';
  os << text;
}

void DiagnosticEngine::print(std::ostream &os) const {
  for (const Diagnostic &d : diags_)
    printOne(os, d);
  if (errorCount_ > kMaxErrors)
    os << file_.path() << ": too many errors (" << errorCount_ << "), showing the first "
       << kMaxErrors << "\n";
}

} // namespace cellc::dsl
