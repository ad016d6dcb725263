#include "dsl/AST.h"

#include <sstream>

namespace cellc::dsl {

namespace {
class ASTPrinter {
public:
  ASTPrinter(std::ostream &os, const SourceFile &f) : os_(os), file_(f) {}

  void module(const Module &m) {
    os_ << "Module";
    if (!m.cellName.empty())
      os_ << " cell=" << m.cellName << " " << loc(m.cellNameRange);
    os_ << "\n";
    for (const Decl &d : m.decls)
      decl(d);
    for (const Stmt &s : m.stmts)
      stmt(s);
  }

private:
  std::string loc(Range r) {
    LineCol lc = file_.lineCol(r.begin);
    return "@" + std::to_string(lc.line) + ":" + std::to_string(lc.col);
  }

  void indent(int n) { os_ << std::string(2 * n, ' '); }

  void decl(const Decl &d) {
    static const char *names[] = {"Dim", "Input", "State", "Param"};
    indent(1);
    os_ << names[int(d.kind)] << " " << d.name << " " << loc(d.range) << "\n";
    for (const ExprPtr &e : d.shape) {
      indent(2);
      os_ << "size\n";
      expr(*e, 3);
    }
    if (d.value) {
      indent(2);
      os_ << (d.kind == Decl::Kind::Dim ? "fixed\n" : "init\n");
      expr(*d.value, 3);
    }
  }

  void stmt(const Stmt &s) {
    static const char *names[] = {"Let", "Update", "Output"};
    indent(1);
    os_ << names[int(s.kind)];
    for (const Stmt::Target &t : s.targets)
      os_ << " " << t.name << (t.primed ? "'" : "");
    os_ << " " << loc(s.range) << "\n";
    if (s.value)
      expr(*s.value, 2);
  }

  void expr(const Expr &e, int depth) {
    indent(depth);
    switch (e.kind) {
    case Expr::Kind::Number: {
      std::ostringstream ss;
      ss << e.number;
      os_ << "Number " << ss.str();
      break;
    }
    case Expr::Kind::Name:
      os_ << "Name " << e.name << (e.primed ? "'" : "");
      break;
    case Expr::Kind::Unary:
      os_ << "Unary " << e.op;
      break;
    case Expr::Kind::Binary:
      os_ << "Binary " << e.op;
      break;
    case Expr::Kind::Call:
      os_ << "Call " << e.name;
      break;
    case Expr::Kind::Slice:
      os_ << "Slice";
      break;
    }
    os_ << " " << loc(e.range) << "\n";
    for (size_t i = 0; i < e.args.size(); ++i) {
      if (e.args[i]) {
        expr(*e.args[i], depth + 1);
      } else {
        indent(depth + 1);
        os_ << (i == 1 ? "<start>\n" : "<end>\n");
      }
    }
  }

  std::ostream &os_;
  const SourceFile &file_;
};
} // namespace

void printAST(std::ostream &os, const Module &m, const SourceFile &file) {
  ASTPrinter(os, file).module(m);
}

} // namespace cellc::dsl
