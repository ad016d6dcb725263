// The parser: the tree it builds for each kind of statement, operator precedence and
// associativity, slices and calls, and recovery after syntax errors.
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <sstream>

using namespace cellc;
using namespace cellc::dsl;
using cellc::test::parseText;

namespace {

/// The expression as a fully parenthesized prefix form: (+ a (* b c)), (call f a b),
/// (slice v lo hi) with _ for a missing bound, h' for a primed name, (neg a).
std::string sexpr(const Expr *e) {
  if (!e)
    return "_";
  std::ostringstream os;
  switch (e->kind) {
  case Expr::Kind::Number:
    os << e->number;
    break;
  case Expr::Kind::Name:
    os << e->name << (e->primed ? "'" : "");
    break;
  case Expr::Kind::Unary:
    os << "(neg " << sexpr(e->args[0].get()) << ")";
    break;
  case Expr::Kind::Binary:
    os << "(" << e->op << " " << sexpr(e->args[0].get()) << " " << sexpr(e->args[1].get()) << ")";
    break;
  case Expr::Kind::Call:
    os << "(call " << e->name;
    for (const ExprPtr &a : e->args)
      os << " " << sexpr(a.get());
    os << ")";
    break;
  case Expr::Kind::Slice:
    os << "(slice " << sexpr(e->args[0].get()) << " " << sexpr(e->args[1].get()) << " "
       << sexpr(e->args[2].get()) << ")";
    break;
  }
  return os.str();
}

/// Parses `let v = <text>` and returns the value's prefix form ("" on a syntax error).
std::string parseExpr(const std::string &text) {
  auto c = parseText("let v = " + text + "\n");
  if (c.errorCount() != 0 || c.module().stmts.size() != 1)
    return "";
  return sexpr(c.module().stmts[0].value.get());
}

TEST(Parser, CellNameAndDims) {
  auto c = parseText("cell my_cell\ndim I, H = 512\n");
  ASSERT_EQ(c.errorCount(), 0u);
  EXPECT_EQ(c.module().cellName, "my_cell");
  EXPECT_EQ(c.file().slice(c.module().cellNameRange), "my_cell");
  ASSERT_EQ(c.module().decls.size(), 2u);
  EXPECT_EQ(c.module().decls[0].kind, Decl::Kind::Dim);
  EXPECT_EQ(c.module().decls[0].name, "I");
  EXPECT_EQ(c.module().decls[0].value, nullptr);
  EXPECT_EQ(c.module().decls[1].name, "H");
  EXPECT_EQ(sexpr(c.module().decls[1].value.get()), "512");
  EXPECT_EQ(c.file().slice(c.module().decls[1].range), "H = 512");
}

TEST(Parser, TensorDeclarations) {
  auto c = parseText("input x[I]\nstate h[H], c[H] = -0.5\nparam W[4*H, I], alpha\n");
  ASSERT_EQ(c.errorCount(), 0u);
  const auto &d = c.module().decls;
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].kind, Decl::Kind::Input);
  EXPECT_EQ(d[0].name, "x");
  ASSERT_EQ(d[0].shape.size(), 1u);
  EXPECT_EQ(sexpr(d[0].shape[0].get()), "I");

  EXPECT_EQ(d[1].kind, Decl::Kind::State);
  EXPECT_EQ(d[1].value, nullptr);
  EXPECT_EQ(d[2].kind, Decl::Kind::State);
  EXPECT_EQ(d[2].name, "c");
  EXPECT_EQ(sexpr(d[2].value.get()), "(neg 0.5)");
  EXPECT_EQ(c.file().slice(d[2].range), "c[H] = -0.5");

  EXPECT_EQ(d[3].kind, Decl::Kind::Param);
  ASSERT_EQ(d[3].shape.size(), 2u);
  EXPECT_EQ(sexpr(d[3].shape[0].get()), "(* 4 H)");
  EXPECT_EQ(sexpr(d[3].shape[1].get()), "I");
  EXPECT_EQ(d[4].name, "alpha");
  EXPECT_TRUE(d[4].shape.empty());
  EXPECT_EQ(c.file().slice(d[4].nameRange), "alpha");
}

TEST(Parser, OnlyAStateHasAnInitialValue) {
  auto c = parseText("input x[I] = 1\n");
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_NE(c.messages()[0].find("only a state can have an initial value"), std::string::npos);
}

TEST(Parser, LetWithSeveralTargets) {
  auto c = parseText("let i, f, g, o = split(z, 4)\n");
  ASSERT_EQ(c.errorCount(), 0u);
  ASSERT_EQ(c.module().stmts.size(), 1u);
  const Stmt &s = c.module().stmts[0];
  EXPECT_EQ(s.kind, Stmt::Kind::Let);
  ASSERT_EQ(s.targets.size(), 4u);
  const char *names[] = {"i", "f", "g", "o"};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_EQ(s.targets[k].name, names[k]);
    EXPECT_FALSE(s.targets[k].primed);
    EXPECT_EQ(c.file().slice(s.targets[k].range), names[k]);
  }
  EXPECT_EQ(sexpr(s.value.get()), "(call split z 4)");
  EXPECT_EQ(c.file().slice(s.range), "let i, f, g, o = split(z, 4)");
}

TEST(Parser, UpdatesAndOutputs) {
  auto c = parseText("h' = tanh(x)\noutput h'\noutput z\noutput y = r * c'\n");
  ASSERT_EQ(c.errorCount(), 0u);
  const auto &s = c.module().stmts;
  ASSERT_EQ(s.size(), 4u);

  EXPECT_EQ(s[0].kind, Stmt::Kind::Update);
  EXPECT_EQ(s[0].targets[0].name, "h");
  EXPECT_TRUE(s[0].targets[0].primed);
  EXPECT_EQ(c.file().slice(s[0].targets[0].range), "h'");
  EXPECT_EQ(sexpr(s[0].value.get()), "(call tanh x)");

  EXPECT_EQ(s[1].kind, Stmt::Kind::Output);
  EXPECT_EQ(s[1].targets[0].name, "h");
  EXPECT_TRUE(s[1].targets[0].primed);
  EXPECT_EQ(s[1].value, nullptr);

  EXPECT_EQ(s[2].kind, Stmt::Kind::Output);
  EXPECT_EQ(s[2].targets[0].name, "z");
  EXPECT_FALSE(s[2].targets[0].primed);
  EXPECT_EQ(s[2].value, nullptr);

  EXPECT_EQ(s[3].kind, Stmt::Kind::Output);
  EXPECT_EQ(s[3].targets[0].name, "y");
  EXPECT_EQ(sexpr(s[3].value.get()), "(* r c')");
}

TEST(Parser, SemicolonsSeparateStatements) {
  auto c = parseText("dim H; input x[H];; output x");
  ASSERT_EQ(c.errorCount(), 0u);
  EXPECT_EQ(c.module().decls.size(), 2u);
  EXPECT_EQ(c.module().stmts.size(), 1u);
}

TEST(Parser, MatmulBindsTighterThanMulWhichBindsTighterThanAdd) {
  EXPECT_EQ(parseExpr("a + b * W @ x"), "(+ a (* b (@ W x)))");
  EXPECT_EQ(parseExpr("W @ x * 2 + b"), "(+ (* (@ W x) 2) b)");
  EXPECT_EQ(parseExpr("a * b + c * d"), "(+ (* a b) (* c d))");
  EXPECT_EQ(parseExpr("a - b / c"), "(- a (/ b c))");
}

TEST(Parser, Associativity) {
  EXPECT_EQ(parseExpr("a - b - c"), "(- (- a b) c)");
  EXPECT_EQ(parseExpr("a / b * c"), "(* (/ a b) c)");
  EXPECT_EQ(parseExpr("W @ U @ x"), "(@ W (@ U x))"); // @ groups to the right
}

TEST(Parser, UnaryMinus) {
  EXPECT_EQ(parseExpr("-a * b"), "(* (neg a) b)");
  EXPECT_EQ(parseExpr("-W @ x"), "(neg (@ W x))");
  EXPECT_EQ(parseExpr("a - -b"), "(- a (neg b))");
  EXPECT_EQ(parseExpr("--a"), "(neg (neg a))");
  EXPECT_EQ(parseExpr("-1"), "(neg 1)"); // no signed numbers
}

TEST(Parser, ParenthesesOverridePrecedence) {
  EXPECT_EQ(parseExpr("(a + b) * c"), "(* (+ a b) c)");
  EXPECT_EQ(parseExpr("W @ (f * h)"), "(@ W (* f h))");
  EXPECT_EQ(parseExpr("(W @ x)[0:H]"), "(slice (@ W x) 0 H)");
}

TEST(Parser, RightOfMatmulIsPostfix) {
  EXPECT_EQ(parseExpr("W @ x[0:H]"), "(@ W (slice x 0 H))");
  EXPECT_EQ(parseExpr("W @ -x"), ""); // a syntax error
}

TEST(Parser, SlicesWithMissingBounds) {
  EXPECT_EQ(parseExpr("v[H:2*H]"), "(slice v H (* 2 H))");
  EXPECT_EQ(parseExpr("v[:H]"), "(slice v _ H)");
  EXPECT_EQ(parseExpr("v[H:]"), "(slice v H _)");
  EXPECT_EQ(parseExpr("v[:]"), "(slice v _ _)");
  EXPECT_EQ(parseExpr("v[1:][:2]"), "(slice (slice v 1 _) _ 2)");
}

TEST(Parser, SliceNeedsAColon) {
  auto c = parseText("let a = v[0]\n");
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_NE(c.messages()[0].find("expected ':' in a slice"), std::string::npos);
}

TEST(Parser, Calls) {
  EXPECT_EQ(parseExpr("f()"), "(call f)");
  EXPECT_EQ(parseExpr("sigmoid(a + b)"), "(call sigmoid (+ a b))");
  EXPECT_EQ(parseExpr("clamp(x, -1, y * 2)"), "(call clamp x (neg 1) (* y 2))");
  EXPECT_EQ(parseExpr("concat(a, tanh(b), c[0:1])"), "(call concat a (call tanh b) (slice c 0 1))");
  // A function name is not reserved: `sum` alone is a name.
  EXPECT_EQ(parseExpr("sum(sum)"), "(call sum sum)");
}

TEST(Parser, PrimedNamesInExpressions) {
  EXPECT_EQ(parseExpr("sigmoid(o) * tanh(c')"), "(* (call sigmoid o) (call tanh c'))");
}

TEST(Parser, ExpressionsContinueOverLinesInsideBrackets) {
  auto c = parseText("h' = tanh(a\n  + b)\noutput h'\n");
  ASSERT_EQ(c.errorCount(), 0u);
  ASSERT_EQ(c.module().stmts.size(), 2u);
  EXPECT_EQ(sexpr(c.module().stmts[0].value.get()), "(call tanh (+ a b))");
}

TEST(Parser, NodeRangesCoverTheirText) {
  auto c = parseText("let v = a + tanh(b)[0:H]\n");
  ASSERT_EQ(c.errorCount(), 0u);
  const Expr &e = *c.module().stmts[0].value;
  EXPECT_EQ(c.file().slice(e.range), "a + tanh(b)[0:H]");
  EXPECT_EQ(c.file().slice(e.args[1]->range), "tanh(b)[0:H]");
  EXPECT_EQ(c.file().slice(e.args[1]->args[0]->range), "tanh(b)");
}

TEST(Parser, TwoBadLinesGiveTwoErrorsAndLaterLinesAreParsed) {
  auto c = parseText("dim H\n"
                     "let a = b +\n"  // error 1: the expression ends early
                     "let = c\n"      // error 2: no name
                     "input x[H]\n"   // still parsed
                     "h' = tanh(x)\n" // still parsed
                     "output h'\n");  // still parsed
  EXPECT_EQ(c.errorCount(), 2u);
  auto msgs = c.messages();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_NE(msgs[0].find("expected an expression, found end of line"), std::string::npos)
      << msgs[0];
  EXPECT_NE(msgs[1].find("expected identifier after 'let'"), std::string::npos) << msgs[1];
  // Line 2 and 3 are dropped; the rest is all there.
  ASSERT_EQ(c.module().decls.size(), 2u);
  EXPECT_EQ(c.module().decls[1].name, "x");
  ASSERT_EQ(c.module().stmts.size(), 2u);
  EXPECT_EQ(c.module().stmts[0].kind, Stmt::Kind::Update);
  EXPECT_EQ(sexpr(c.module().stmts[0].value.get()), "(call tanh x)");
  EXPECT_EQ(c.module().stmts[1].kind, Stmt::Kind::Output);
}

TEST(Parser, ErrorsAreLocatedAtTheOffendingToken) {
  auto c = parseText("let a = b c\n");
  ASSERT_EQ(c.errorCount(), 1u);
  const Diagnostic &d = c.compiler->diagnostics().diagnostics()[0];
  EXPECT_EQ(c.file().slice(d.range), "c");
  EXPECT_NE(d.message.find("expected the end of the statement, found 'c'"), std::string::npos);
}

TEST(Parser, AssignmentWithoutLetOrPrimeSuggestsBoth) {
  auto c = parseText("h = x\n");
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_NE(c.messages()[0].find("needs 'let'"), std::string::npos);
  EXPECT_NE(c.messages()[0].find("h' = ..."), std::string::npos);
}

TEST(Parser, PrimedLetAndPrimedOutputDefinitionAreErrors) {
  auto c = parseText("let h' = x\noutput h' = x\n");
  EXPECT_EQ(c.errorCount(), 2u);
  EXPECT_TRUE(c.module().stmts.empty());
}

TEST(Parser, SecondCellNameIsAnError) {
  auto c = parseText("cell a\ncell b\n");
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_EQ(c.module().cellName, "a");
  EXPECT_NE(c.messages()[0].find("already named 'a'"), std::string::npos);
}

TEST(Parser, DeepNestingIsAnErrorNotACrash) {
  std::string deep(500, '(');
  deep += "a" + std::string(500, ')');
  auto c = parseText("let v = " + deep + "\n");
  ASSERT_GE(c.errorCount(), 1u);
  EXPECT_NE(c.messages()[0].find("nested too deeply"), std::string::npos);
  // Moderate nesting is fine.
  std::string ok = std::string(50, '(') + "a" + std::string(50, ')');
  EXPECT_EQ(parseExpr(ok), "a");
}

TEST(Parser, StrayClosingBracketDoesNotSwallowLaterLines) {
  auto c = parseText("let a = x)\nlet b = y]\nlet c = z\n");
  // Each stray bracket is reported as trailing text; the brackets' depth does not go negative,
  // so the newlines still end the statements and line 3 is parsed.
  EXPECT_EQ(c.errorCount(), 2u);
  ASSERT_EQ(c.module().stmts.size(), 3u);
  EXPECT_EQ(c.module().stmts[2].targets[0].name, "c");
  EXPECT_EQ(sexpr(c.module().stmts[2].value.get()), "z");
}

// Regression: the depth guard counted three levels per parenthesis (parseExpr, parseUnary and
// parseMatmul each took one), so 66 nested parentheses were rejected "for more than 200
// levels". Now each parenthesis is one level and the statement's value is the first, so 199
// parentheses are the most that fit (dsl/README.md).
TEST(Parser, TwoHundredNestedParenthesesAreAccepted) {
  EXPECT_EQ(parseExpr(std::string(199, '(') + "a" + std::string(199, ')')), "a");
  auto deeper = parseText("let v = " + std::string(200, '(') + "a" + std::string(200, ')') + "\n");
  ASSERT_EQ(deeper.errorCount(), 1u);
  EXPECT_NE(deeper.messages()[0].find("nested too deeply (more than 200 levels)"),
            std::string::npos);
}

} // namespace
