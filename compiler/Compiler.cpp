#include "compiler/Compiler.h"

#include "compiler/sema/Sema.h"
#include "compiler/transforms/Passes.h"
#include "dsl/Parser.h"

#include <cctype>
#include <stdexcept>

namespace cellc {

std::string cellNameFromPath(const std::string &path) {
  size_t slash = path.find_last_of('/');
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = base.find('.');
  if (dot != std::string::npos)
    base = base.substr(0, dot);
  for (char &c : base)
    if (!std::isalnum((unsigned char)c))
      c = '_';
  if (base.empty() || std::isdigit((unsigned char)base[0]))
    base = "cell_" + base;
  return base;
}

Compiler::Compiler(std::string path, std::string text, CompileOptions opts)
    : file_(std::make_unique<dsl::SourceFile>(std::move(path), std::move(text))),
      diags_(std::make_unique<dsl::DiagnosticEngine>(*file_)), opts_(std::move(opts)) {}

std::unique_ptr<Compiler> Compiler::open(const std::string &path, CompileOptions opts,
                                         std::string &error) {
  std::string text;
  if (!dsl::readFile(path, text)) {
    error = "cannot read '" + path + "'";
    return nullptr;
  }
  return std::make_unique<Compiler>(path, std::move(text), std::move(opts));
}

bool Compiler::runTo(Stage last) {
  static bool (Compiler::*const stages[])() = {&Compiler::lex, &Compiler::parse, &Compiler::check,
                                               &Compiler::differentiate, &Compiler::makePlan};
  int next = reached_ ? int(*reached_) + 1 : 0;
  for (int s = next; s <= int(last) && !failed_; ++s) {
    try {
      failed_ = !(this->*stages[s])();
    } catch (const std::logic_error &e) { // a broken invariant of the compiler, not the cell
      errors_.push_back(std::string("internal error: ") + e.what());
      failed_ = true;
    }
    if (!failed_)
      reached_ = Stage(s);
  }
  return !failed_;
}

bool Compiler::lex() {
  // The lexer recovers from bad characters; the parser runs on, so that one run reports the
  // syntax errors too. parse() fails for both.
  tokens_ = dsl::lex(*file_, *diags_);
  return true;
}

bool Compiler::parse() {
  module_ = dsl::parse(tokens_, *diags_);
  return !diags_->hasErrors();
}

bool Compiler::check() {
  sema::Outcome checked =
      sema::analyze(module_, *diags_, {cellNameFromPath(file_->path()), opts_.defines});
  for (const std::string &d : checked.badDefines)
    errors_.push_back("-D " + d + ": the cell has no dimension named '" + d + "'");
  if (!checked.cell)
    return false;
  compiled_.cell = std::move(*checked.cell);
  if (opts_.optimize)
    compiled_.cell.step = ir::simplify(compiled_.cell.step);
  std::string broken = ir::verify(compiled_.cell.step);
  if (!broken.empty())
    errors_.push_back("internal error: invalid IR after lowering: " + broken);
  return broken.empty();
}

bool Compiler::differentiate() {
  compiled_.grad = ir::differentiate(compiled_.cell);
  std::string broken = ir::verify(compiled_.grad.step);
  if (!broken.empty())
    errors_.push_back("internal error: invalid gradient IR: " + broken);
  return broken.empty();
}

bool Compiler::makePlan() {
  compiled_.plan = plan::makePlan(compiled_.cell, compiled_.grad);
  return true;
}

void Compiler::printDiagnostics(std::ostream &os) const {
  diags_->print(os);
  for (const std::string &e : errors_)
    os << "cellc: " << (e.rfind("internal error", 0) == 0 ? "" : "error: ") << e << "\n";
}

void Compiler::print(Stage s, std::ostream &out) const {
  switch (s) {
  case Stage::Tokens:
    for (const dsl::Token &t : tokens_) {
      dsl::LineCol lc = file_->lineCol(t.range.begin);
      out << lc.line << ":" << lc.col << " " << dsl::tokName(t.kind);
      if (t.kind == dsl::Tok::Ident || t.kind == dsl::Tok::Number)
        out << " " << t.text;
      out << "\n";
    }
    return;
  case Stage::AST:
    dsl::printAST(out, module_, *file_);
    return;
  case Stage::IR:
    ir::printCell(out, compiled_.cell);
    return;
  case Stage::Grad:
    ir::printGradient(out, compiled_.cell, compiled_.grad);
    return;
  case Stage::Plan:
    plan::printPlan(out, compiled_.cell, compiled_.grad, compiled_.plan);
    return;
  }
}

} // namespace cellc
