// The compile API: one cell through the pipeline's stages in order — tokens, AST, IR, gradient,
// plan — each stage's result kept as a value, printing apart from computing. The driver and
// the tests use it; the backend stages (Halide, header, objects, library) take its results
// (cli/CompileCommand.h, compiler/backend/Backend.h).
#pragma once

#include "compiler/abi/Signature.h"
#include "compiler/ir/IR.h"
#include "compiler/plan/Planner.h"
#include "compiler/transforms/Autodiff.h"
#include "dsl/AST.h"
#include "dsl/Diagnostics.h"
#include "dsl/Lexer.h"

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cellc {

enum class Stage { Tokens, AST, IR, Grad, Plan };

struct CompileOptions {
  DimValues defines;
  bool optimize = true; // canonicalize + CSE (off: the IR exactly as lowered)
};

/// What the back half of the pipeline takes.
struct CompiledCell {
  ir::Cell cell;
  ir::Gradient grad;
  plan::Plan plan;
};

class Compiler {
public:
  Compiler(std::string path, std::string text, CompileOptions opts = {});
  Compiler(const Compiler &) = delete;
  /// Reads `path`; null with a message in `error` when it cannot be read.
  static std::unique_ptr<Compiler> open(const std::string &path, CompileOptions opts,
                                        std::string &error);

  /// Runs the stages not run yet, up to and including `last`; false once any stage failed.
  bool runTo(Stage last);
  bool failed() const { return failed_; }
  /// Whether `s` has run and produced its result.
  bool has(Stage s) const { return reached_ && *reached_ >= s && !failed_; }

  const std::vector<dsl::Token> &tokens() const { return tokens_; }
  const dsl::Module &ast() const { return module_; }
  const ir::Cell &cell() const { return compiled_.cell; }
  const ir::Gradient &grad() const { return compiled_.grad; }
  const plan::Plan &plan() const { return compiled_.plan; }
  const CompiledCell &compiled() const { return compiled_; }
  abi::Signature signature() const { return abi::signatureOf(compiled_.cell); }

  /// The diagnostics (file:line:col, source line, caret) and the pipeline's own errors.
  void printDiagnostics(std::ostream &os) const;
  const dsl::DiagnosticEngine &diagnostics() const { return *diags_; }
  /// Errors with no place in the source (an unknown -D, an internal error).
  const std::vector<std::string> &errors() const { return errors_; }
  /// The --emit text of a stage that has run.
  void print(Stage s, std::ostream &os) const;

private:
  bool lex();
  bool parse();
  bool check();
  bool differentiate();
  bool makePlan();

  std::unique_ptr<dsl::SourceFile> file_;
  std::unique_ptr<dsl::DiagnosticEngine> diags_;
  CompileOptions opts_;
  std::vector<dsl::Token> tokens_;
  dsl::Module module_;
  CompiledCell compiled_;
  std::vector<std::string> errors_; // errors with no place in the source
  std::optional<Stage> reached_;
  bool failed_ = false;
};

/// A C identifier from a file name: "models/my-cell.cell" -> "my_cell".
std::string cellNameFromPath(const std::string &path);

} // namespace cellc
