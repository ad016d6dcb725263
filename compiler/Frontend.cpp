#include "compiler/Frontend.h"

#include "compiler/Passes.h"
#include "compiler/Sema.h"
#include "dsl/Lexer.h"
#include "dsl/Parser.h"

#include <cctype>

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

static void printTokens(std::ostream &out, const std::vector<dsl::Token> &toks,
                        const dsl::SourceFile &file) {
  for (const dsl::Token &t : toks) {
    dsl::LineCol lc = file.lineCol(t.range.begin);
    out << lc.line << ":" << lc.col << " " << dsl::tokName(t.kind);
    if (t.kind == dsl::Tok::Ident || t.kind == dsl::Tok::Number)
      out << " " << t.text;
    out << "\n";
  }
}

FrontendResult runFrontend(const std::string &path, const FrontendOptions &opts, Stage stopAfter,
                           bool print, std::ostream &out, std::ostream &diag) {
  std::string text;
  if (opts.sourceText) {
    text = *opts.sourceText;
  } else if (!dsl::readFile(path, text)) {
    diag << "cellc: error: cannot read '" << path << "'\n";
    return {};
  }
  dsl::SourceFile file(path, std::move(text));
  dsl::DiagnosticEngine diags(file);

  std::vector<dsl::Token> tokens = dsl::lex(file, diags);
  if (stopAfter == Stage::Tokens && print)
    printTokens(out, tokens, file);
  dsl::Module module = dsl::parse(tokens, diags);
  if (stopAfter == Stage::AST && print && !diags.hasErrors())
    dsl::printAST(out, module, file);
  if (stopAfter <= Stage::AST || diags.hasErrors()) {
    diags.print(diag);
    return {!diags.hasErrors(), std::nullopt};
  }

  sema::Outcome checked = sema::analyze(module, diags, {cellNameFromPath(path), opts.defines});
  diags.print(diag);
  for (const std::string &d : checked.badDefines)
    diag << "cellc: error: -D " << d << ": the cell has no dimension named '" << d << "'\n";
  if (!checked.cell)
    return {};

  CompiledCell result{std::move(*checked.cell), {}};
  if (opts.optimize)
    result.cell.step = ir::simplify(result.cell.step);
  std::string broken = ir::verify(result.cell.step);
  if (!broken.empty()) {
    diag << "cellc: internal error: invalid IR after lowering: " << broken << "\n";
    return {};
  }
  if (stopAfter == Stage::IR) {
    if (print)
      ir::printCell(out, result.cell);
    return {true, std::move(result)};
  }
  result.grad = ir::differentiate(result.cell);
  broken = ir::verify(result.grad.step);
  if (!broken.empty()) {
    diag << "cellc: internal error: invalid gradient IR: " << broken << "\n";
    return {};
  }
  if (stopAfter == Stage::Grad) {
    if (print)
      ir::printGradient(out, result.cell, result.grad);
    return {true, std::move(result)};
  }
  result.plan = plan::makePlan(result.cell, result.grad);
  if (print)
    plan::printPlan(out, result.cell, result.grad, result.plan);
  return {true, std::move(result)};
}

} // namespace cellc
