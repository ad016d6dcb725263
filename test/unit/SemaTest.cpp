// Sema: shape inference for every operator, symbolic sizes, dims fixed with -D, dims that
// cannot be bound at run time, and the messages of a handful of errors (their locations are
// checked by the lit tests).
#include "TestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace cellc;
using cellc::test::compileText;
using cellc::test::hasError;
using ir::Op;

namespace {

const char *kDecls = "dim I, H\n"
                     "input x[I]\n"
                     "state h[H]\n"
                     "param W[4*H, I], U[H, H], alpha\n"
                     "h' = h\n"
                     "let z = W @ x\n"
                     "let _keep = U @ h + alpha\n";

/// The shape of `expr` (written in the scope of kDecls), as printed: "[4*H]"; "[]" for a
/// scalar; or the first error's message.
std::string shapeOf(const std::string &expr, const DimValues &defines = {}) {
  auto c = compileText(std::string(kDecls) + "let v = " + expr + "\noutput y = h * v\n", defines,
                       /*simplify=*/false);
  if (!c.ok())
    return c.messages().empty() ? "?" : c.messages()[0];
  // `y = h * v` broadcasts a scalar v; for a vector v the product has v's shape, so look at the
  // operand itself.
  const ir::Function &f = c.cell().step;
  for (const ir::Result &r : f.results)
    if (r.name == "y")
      return f[f[r.value].operands[1]].type.str();
  return "?";
}

/// Like shapeOf, for vectors of any size: the output is v itself.
std::string vectorShapeOf(const std::string &expr, const DimValues &defines = {}) {
  auto c = compileText(std::string(kDecls) + "output y = " + expr + "\n", defines, false);
  if (!c.ok())
    return c.messages().empty() ? "?" : c.messages()[0];
  return c.cell().outputs.at(0).type.str();
}

TEST(Sema, DeclaredShapes) {
  auto c = compileText(kDecls + std::string("output h'\n"));
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  const ir::Cell &cell = c.cell();
  EXPECT_EQ(cell.name, "t"); // the default name
  ASSERT_EQ(cell.inputs.size(), 1u);
  EXPECT_EQ(cell.inputs[0].type.str(), "[I]");
  EXPECT_EQ(cell.states[0].type.str(), "[H]");
  ASSERT_EQ(cell.params.size(), 3u);
  EXPECT_EQ(cell.params[0].type.str(), "[4*H, I]");
  EXPECT_EQ(cell.params[1].type.str(), "[H, H]");
  EXPECT_EQ(cell.params[2].type.str(), "[]");
  EXPECT_EQ(cell.dims, (std::vector<std::string>{"I", "H"}));
  EXPECT_TRUE(cell.fixedDims.empty());
  ASSERT_EQ(cell.outputs.size(), 1u);
  EXPECT_EQ(cell.outputs[0].name, "h"); // output h' is named after its state
  EXPECT_EQ(cell.outputs[0].type.str(), "[H]");
}

TEST(Sema, ElementwiseWithScalarBroadcast) {
  EXPECT_EQ(shapeOf("h + h"), "[H]");
  EXPECT_EQ(shapeOf("h - 1"), "[H]");
  EXPECT_EQ(shapeOf("2 * h"), "[H]");
  EXPECT_EQ(shapeOf("alpha / h"), "[H]");
  EXPECT_EQ(shapeOf("h * alpha"), "[H]");
  EXPECT_EQ(shapeOf("alpha + 1"), "[]");
  EXPECT_EQ(shapeOf("-h"), "[H]");
  EXPECT_EQ(shapeOf("-alpha"), "[]");
}

TEST(Sema, ElementwiseMismatch) {
  EXPECT_EQ(shapeOf("h + x"), "shape mismatch in '+': left is [H], right is [I]");
  EXPECT_EQ(shapeOf("x * h"), "shape mismatch in '*': left is [I], right is [H]");
}

TEST(Sema, UnaryFunctionsKeepTheShape) {
  for (const char *f : {"sigmoid", "tanh", "relu", "exp", "log", "softplus", "hard_sigmoid", "sqrt",
                        "rsqrt", "abs"}) {
    EXPECT_EQ(shapeOf(std::string(f) + "(h)"), "[H]") << f;
    EXPECT_EQ(shapeOf(std::string(f) + "(alpha)"), "[]") << f;
  }
}

TEST(Sema, MatVec) {
  EXPECT_EQ(vectorShapeOf("W @ x"), "[4*H]");
  EXPECT_EQ(shapeOf("U @ U @ h"), "[H]");
  EXPECT_EQ(shapeOf("U @ x"),
            "shape mismatch in '@': the matrix is [H, H] so the vector must be [H], but it is [I]");
  EXPECT_EQ(shapeOf("h @ x"), "the left of '@' must be a matrix param, got [H]");
  EXPECT_EQ(shapeOf("U @ alpha"), "the right of '@' must be a vector, got []");
  EXPECT_EQ(shapeOf("U + h"), "the matrix [H, H] can only be used on the left of '@' ('+')");
  EXPECT_EQ(shapeOf("tanh(U)"),
            "the matrix [H, H] can only be used on the left of '@' (in tanh())");
}

TEST(Sema, Split) {
  auto c = compileText(std::string(kDecls) + "let i, f, g, o = split(z, 4)\n"
                                             "output y = g\n",
                       {}, /*simplify=*/false);
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  // Four slices of [H] each; the unused ones are warned about.
  std::vector<std::string> bounds;
  for (const ir::Node &n : c.cell().step.nodes)
    if (n.op == Op::Slice && n.type.str() == "[H]")
      bounds.push_back(n.lo.str() + ":" + n.hi.str());
  EXPECT_EQ(bounds, (std::vector<std::string>{"0:H", "H:2*H", "2*H:3*H", "3*H:4*H"}));
  EXPECT_EQ(c.cell().outputs[0].type.str(), "[H]");
  const ir::Function &f = c.cell().step;
  const ir::Node &y = f[f.results.back().value];
  EXPECT_EQ(y.op, Op::Slice);
  EXPECT_EQ(y.lo.str(), "2*H");
  EXPECT_EQ(c.messages(dsl::Severity::Warning).size(), 3u); // i, f, o never used
}

TEST(Sema, SplitErrors) {
  auto notDivisible = compileText(std::string(kDecls) + "let a, b = split(h, 2)\noutput a\n");
  EXPECT_TRUE(hasError(notDivisible, "split of a vector of size H into 2 parts: H is not "
                                     "divisible by 2 for every value of its dimensions"));
  auto wrongCount = compileText(std::string(kDecls) + "let a, b = split(z, 4)\noutput a\n");
  EXPECT_TRUE(hasError(wrongCount, "split gives 4 values but 'let' names 2"));
  auto alone = compileText(std::string(kDecls) + "output y = split(z, 4)\n");
  EXPECT_TRUE(hasError(alone, "split(...) gives several values"));
}

TEST(Sema, SlicesWithSymbolicBounds) {
  EXPECT_EQ(vectorShapeOf("z[H:3*H]"), "[2*H]");
  EXPECT_EQ(vectorShapeOf("z[2*H:]"), "[2*H]");
  EXPECT_EQ(vectorShapeOf("z[:H + 1]"), "[H + 1]");
  EXPECT_EQ(vectorShapeOf("z[:]"), "[4*H]");
  EXPECT_EQ(vectorShapeOf("z[H:][H:2*H]"), "[H]");
  EXPECT_EQ(vectorShapeOf("x[0:1]"), "[1]");
  EXPECT_EQ(vectorShapeOf("(W @ x)[(4*H)/2:]"), "[2*H]");
}

TEST(Sema, SliceOutOfRange) {
  // H may be 1, so [1:H] may be empty.
  EXPECT_EQ(vectorShapeOf("h[1:H]"), "slice [1:H] is out of range for a vector of size H (it "
                                     "needs 0 <= start < end <= H)");
  EXPECT_EQ(vectorShapeOf("h[0:H + 1]"), "slice [0:H + 1] is out of range for a vector of size "
                                         "H (it needs 0 <= start < end <= H)");
  EXPECT_EQ(vectorShapeOf("z[2*H:H]").rfind("slice [2*H:H] is out of range", 0), 0u);
  EXPECT_EQ(shapeOf("alpha[0:1]"), "only a vector can be sliced, got []");
}

TEST(Sema, Concat) {
  EXPECT_EQ(vectorShapeOf("concat(x, h)"), "[H + I]");
  EXPECT_EQ(vectorShapeOf("concat(x, h, x, z)"), "[5*H + 2*I]");
  EXPECT_EQ(vectorShapeOf("concat(h)"), "[H]");
  EXPECT_EQ(shapeOf("concat(h, alpha)"), "'concat' joins vectors, got []");
}

TEST(Sema, SumAndMeanGiveScalars) {
  EXPECT_EQ(shapeOf("sum(h)"), "[]");
  EXPECT_EQ(shapeOf("mean(z)"), "[]");
  EXPECT_EQ(shapeOf("h - mean(h)"), "[H]");
  EXPECT_EQ(shapeOf("sum(alpha)"), "'sum' reduces a vector, got []");
  // An output must be a vector.
  auto c = compileText(std::string(kDecls) + "output y = sum(h)\n");
  EXPECT_TRUE(hasError(c, "output 'y' must be a vector, got []"));
}

TEST(Sema, MeanIsSumDividedByTheSize) {
  auto c = compileText(std::string(kDecls) + "output y = h * mean(z)\n", {}, false);
  ASSERT_TRUE(c.ok());
  const ir::Function &f = c.cell().step;
  const ir::Node &mul = f[f.results.back().value];
  ASSERT_EQ(mul.op, Op::Mul);
  const ir::Node &div = f[mul.operands[1]];
  ASSERT_EQ(div.op, Op::Div);
  EXPECT_EQ(f[div.operands[0]].op, Op::Sum);
  ASSERT_EQ(f[div.operands[1]].op, Op::DimSize);
  EXPECT_EQ(f[div.operands[1]].lo.str(), "4*H");
}

TEST(Sema, ClampMinMax) {
  EXPECT_EQ(shapeOf("min(h, 0)"), "[H]");
  EXPECT_EQ(shapeOf("max(alpha, h)"), "[H]");
  EXPECT_EQ(shapeOf("max(alpha, 2)"), "[]");
  EXPECT_EQ(shapeOf("clamp(h, -1, 1)"), "[H]");
  EXPECT_EQ(shapeOf("clamp(alpha, h, 1)"), "[H]");
  EXPECT_EQ(shapeOf("min(h, x)"), "shape mismatch in 'min': left is [H], right is [I]");
  EXPECT_EQ(shapeOf("clamp(h, 0)"), "'clamp' takes 3 arguments, got 2");
  EXPECT_EQ(shapeOf("tanh(h, h)"), "'tanh' takes 1 argument, got 2");
  // clamp(x, lo, hi) is min(max(x, lo), hi).
  auto c = compileText(std::string(kDecls) + "output y = clamp(h, -1, 2)\n", {}, false);
  ASSERT_TRUE(c.ok());
  const ir::Function &f = c.cell().step;
  const ir::Node &mn = f[f.results.back().value];
  ASSERT_EQ(mn.op, Op::Min);
  EXPECT_EQ(f[mn.operands[1]].value, 2);
  const ir::Node &mx = f[mn.operands[0]];
  ASSERT_EQ(mx.op, Op::Max);
  EXPECT_EQ(f[mx.operands[0]].op, Op::State);
}

TEST(Sema, DimNameInAnExpressionIsAScalar) {
  EXPECT_EQ(shapeOf("H"), "[]");
  EXPECT_EQ(shapeOf("h * H"), "[H]");
  auto c = compileText(std::string(kDecls) + "output y = h / I\n", {}, false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(test::countOps(c.cell().step, Op::DimSize), 1);
}

TEST(Sema, ScalarStateUpdateIsBroadcast) {
  auto c = compileText("dim H\ninput x[H]\nstate h[H]\nh' = sum(x)\noutput h'\n");
  ASSERT_TRUE(c.ok());
  const ir::Function &f = c.cell().step;
  const ir::Node &next = f[f.results[0].value];
  EXPECT_EQ(next.op, Op::Broadcast);
  EXPECT_EQ(next.type.str(), "[H]");
}

TEST(Sema, SymbolicSizes) {
  auto c = compileText("dim I, H\n"
                       "input x[H + I]\n"
                       "state h[H]\n"
                       "param W[4*H, H + I], V[(4*H)/2, H*3], b[2*(H + 1) - 2]\n"
                       "h' = (W @ x)[0:H] + (V @ concat(h, h, h))[H:] + b[0:H]\n"
                       "output h'\n");
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  EXPECT_EQ(c.cell().inputs[0].type.str(), "[H + I]");
  EXPECT_EQ(c.cell().params[0].type.str(), "[4*H, H + I]");
  EXPECT_EQ(c.cell().params[1].type.str(), "[2*H, 3*H]");
  EXPECT_EQ(c.cell().params[2].type.str(), "[2*H]");
  // H comes from h, then I from x's H + I.
  EXPECT_EQ(c.cell().dims, (std::vector<std::string>{"I", "H"}));
}

TEST(Sema, SizeErrors) {
  auto twoDims = compileText("dim I, H\ninput x[H*I]\noutput x\n");
  EXPECT_TRUE(hasError(twoDims, "a size can only multiply a dimension by a number"));
  auto inexact = compileText("dim H\ninput x[H/2]\noutput x\n");
  EXPECT_TRUE(hasError(inexact, "'H' is not divisible by 2 for every value of its dimensions"));
  auto zero = compileText("dim H\ninput x[H - H]\noutput x\n");
  EXPECT_TRUE(hasError(zero, "a size must be positive, got 0"));
  auto unknown = compileText("dim H\ninput x[K]\noutput x\n");
  EXPECT_TRUE(hasError(unknown, "unknown dimension 'K'"));
  auto rank3 = compileText("dim H\ninput x[H]\nparam W[H, H, H]\noutput x\n");
  EXPECT_TRUE(hasError(rank3, "'W' has 3 dimensions; tensors have at most two"));
  auto scalarInput = compileText("dim H\ninput x\noutput x\n");
  EXPECT_TRUE(hasError(scalarInput, "an input is a vector per sample: declare it as x[N]"));
}

TEST(Sema, DefinesFixDims) {
  auto c = compileText(kDecls + std::string("let i, f, g, o = split(z, 4)\n"
                                            "output y = g * H\n"),
                       {{"H", 8}});
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  const ir::Cell &cell = c.cell();
  EXPECT_EQ(cell.dims, (std::vector<std::string>{"I"}));
  EXPECT_EQ(cell.fixedDims, (DimValues{{"H", 8}}));
  EXPECT_EQ(cell.states[0].type.str(), "[8]");
  EXPECT_EQ(cell.params[0].type.str(), "[32, I]");
  EXPECT_EQ(cell.params[1].type.str(), "[8, 8]");
  EXPECT_EQ(cell.outputs[0].type.str(), "[8]");
  // Every type is constant in H: no 'H' anywhere, and the dim in the expression is a number.
  for (const ir::Node &n : cell.step.nodes) {
    EXPECT_EQ(n.type.str().find('H'), std::string::npos) << n.type.str();
    EXPECT_NE(n.op, Op::DimSize);
  }
  bool sawEight = false;
  for (const ir::Node &n : cell.step.nodes)
    sawEight = sawEight || (n.op == Op::Const && n.value == 8);
  EXPECT_TRUE(sawEight);
}

TEST(Sema, DefineOverridesAFixedDim) {
  const char *text = "dim H = 16\ninput x[H]\noutput y = x * H\n";
  auto fixed = compileText(text);
  ASSERT_TRUE(fixed.ok());
  EXPECT_TRUE(fixed.cell().dims.empty());
  EXPECT_EQ(fixed.cell().inputs[0].type.str(), "[16]");
  auto overridden = compileText(text, {{"H", 4}});
  ASSERT_TRUE(overridden.ok());
  EXPECT_EQ(overridden.cell().inputs[0].type.str(), "[4]");
  EXPECT_EQ(overridden.cell().fixedDims.at("H"), 4);
}

TEST(Sema, DefineOfAnUnknownDim) {
  auto c = compileText("dim H\ninput x[H]\noutput y = x\n", {{"Q", 3}});
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.compiler->errors(),
            (std::vector<std::string>{"-D Q: the cell has no dimension named 'Q'"}));
  EXPECT_EQ(c.errorCount(), 0u); // no place in the source: not a caret diagnostic
}

TEST(Sema, DimUsedOnlyInAnExpressionCannotBeInferred) {
  auto c = compileText("dim I, K\ninput x[I]\noutput y = x * K\n");
  EXPECT_FALSE(c.ok());
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_EQ(c.messages()[0], "dimension 'K' cannot be inferred from the shapes of inputs, "
                             "states and params; use it alone in a shape (e.g. x[K]) or fix "
                             "it with -D K=N");
  // Fixing it makes the cell fine.
  auto fixed = compileText("dim I, K\ninput x[I]\noutput y = x * K\n", {{"K", 3}});
  EXPECT_TRUE(fixed.ok());
}

TEST(Sema, DimsOnlyInASumCannotBeInferred) {
  auto c = compileText("dim A, C\ninput x[A + C]\noutput y = x\n");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.errorCount(), 2u);
  EXPECT_TRUE(hasError(c, "dimension 'A' cannot be inferred"));
  EXPECT_TRUE(hasError(c, "dimension 'C' cannot be inferred"));
  // One more shape that names A alone solves both, one unknown at a time.
  auto solvable = compileText("dim A, C\ninput x[A + C], a[2*A]\noutput y = x\noutput z = a\n");
  ASSERT_TRUE(solvable.ok()) << solvable.messages()[0];
  EXPECT_EQ(solvable.cell().dims, (std::vector<std::string>{"A", "C"}));
}

TEST(Sema, UnusedDimIsAWarning) {
  auto c = compileText("dim H, K\ninput x[H]\noutput y = x\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.cell().dims, (std::vector<std::string>{"H"}));
  EXPECT_EQ(c.messages(dsl::Severity::Warning),
            (std::vector<std::string>{"dimension 'K' is never used"}));
}

TEST(Sema, DefinitionsInAnyOrder) {
  auto c = compileText("output y = b\nlet b = a * 2\nlet a = x\ndim H\ninput x[H]\n");
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  EXPECT_EQ(c.cell().outputs[0].type.str(), "[H]");
}

TEST(Sema, StateInitialValues) {
  auto c = compileText("dim H\ninput x[H]\nstate h[H] = 0.5, c[H] = -2, z[H]\n"
                       "h' = x\nc' = x\nz' = x\noutput h'\n");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.cell().states.size(), 3u);
  EXPECT_EQ(c.cell().states[0].init, 0.5);
  EXPECT_EQ(c.cell().states[1].init, -2);
  EXPECT_EQ(c.cell().states[2].init, 0);
  auto bad = compileText("dim H\ninput x[H]\nstate h[H] = x\nh' = x\noutput h'\n");
  EXPECT_TRUE(hasError(bad, "a state's initial value must be a number"));
}

TEST(Sema, NameErrors) {
  auto c = compileText("dim H\ninput x[H]\nstate h[H]\nh' = tanch(x) + hh\noutput h'\n");
  // The first error abandons the definition: one error for the update.
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_EQ(c.messages()[0], "unknown function 'tanch'; did you mean 'tanh'?");
  auto name = compileText("dim H\ninput x[H]\nstate h[H]\nh' = tanh(xx)\noutput h'\n");
  ASSERT_EQ(name.errorCount(), 1u);
  EXPECT_EQ(name.messages()[0], "unknown name 'xx'; did you mean 'x'?");
  auto notState = compileText("dim H\ninput x[H]\nx' = x\noutput x\n");
  EXPECT_TRUE(hasError(notState, "'x' is not a state; only a state has a next value"));
}

TEST(Sema, RedefinitionHasANote) {
  auto c = compileText("dim H\ninput x[H]\nlet x = x\noutput x\n");
  ASSERT_EQ(c.errorCount(), 1u);
  EXPECT_EQ(c.messages()[0], "redefinition of 'x'");
  EXPECT_EQ(c.messages(dsl::Severity::Note),
            (std::vector<std::string>{"'x' was first defined here"}));
}

TEST(Sema, CyclicDefinitions) {
  auto lets = compileText("dim H\ninput x[H]\nlet a = b\nlet b = a + x\noutput y = a\n");
  EXPECT_TRUE(hasError(lets, "cyclic definition: 'a' depends on itself (a -> b -> a)"));
  auto updates = compileText("dim H\ninput x[H]\nstate h[H], c[H]\n"
                             "h' = c'\nc' = h' + x\noutput h'\n");
  EXPECT_TRUE(hasError(updates, "cyclic definition: 'h'' depends on itself (h' -> c' -> h')"));
}

TEST(Sema, CellAsAWhole) {
  auto neverUpdated = compileText("dim H\ninput x[H]\nstate h[H], c[H]\nh' = x\noutput h'\n");
  ASSERT_EQ(neverUpdated.errorCount(), 1u);
  EXPECT_EQ(neverUpdated.messages()[0].rfind("state 'c' is never updated", 0), 0u);
  auto twice = compileText("dim H\ninput x[H]\nstate h[H]\nh' = x\nh' = x\noutput h'\n");
  EXPECT_TRUE(hasError(twice, "state 'h' is updated twice"));
  auto noOutput = compileText("dim H\ninput x[H]\nstate h[H]\nh' = x\n");
  EXPECT_TRUE(hasError(noOutput, "the cell has no output"));
  auto noInput = compileText("dim H\nstate h[H]\nh' = h\noutput h'\n");
  EXPECT_TRUE(hasError(noInput, "the cell has no input"));
  auto outputTwice = compileText("dim H\ninput x[H]\nstate h[H]\nh' = x\noutput h'\noutput h\n");
  EXPECT_TRUE(hasError(outputTwice, "output 'h' is declared twice"));
  auto wrongUpdate = compileText("dim I, H\ninput x[I]\nstate h[H]\nh' = x\noutput h'\n");
  EXPECT_TRUE(hasError(wrongUpdate,
                       "the next value of state 'h' has shape [I] but the state is declared "
                       "[H]"));
}

TEST(Sema, IndependentErrorsAreAllReported) {
  auto c = compileText("dim I, H\n"
                       "input x[I]\n"
                       "state h[H]\n"
                       "let a = x + h\n"       // shape mismatch
                       "let b = sigmoud(x)\n"  // unknown function
                       "let _c = h[0:H + 1]\n" // slice out of range
                       "h' = h\n"
                       "output y = a + b\n");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.errorCount(), 3u);
  EXPECT_TRUE(hasError(c, "shape mismatch in '+': left is [I], right is [H]"));
  EXPECT_TRUE(hasError(c, "unknown function 'sigmoud'; did you mean 'sigmoid'?"));
  EXPECT_TRUE(hasError(c, "slice [0:H + 1] is out of range"));
}

TEST(Sema, WarningsForUnusedThings) {
  auto c = compileText("dim H\ninput x[H], u[H]\nparam W[H, H]\nlet a = x\nlet _b = x\n"
                       "output y = x\n");
  ASSERT_TRUE(c.ok());
  auto w = c.messages(dsl::Severity::Warning);
  EXPECT_EQ(w.size(), 3u);
  EXPECT_TRUE(std::find(w.begin(), w.end(), "input 'u' is never used") != w.end());
  EXPECT_TRUE(std::find(w.begin(), w.end(), "param 'W' is never used") != w.end());
  EXPECT_TRUE(std::find(w.begin(), w.end(),
                        "'a' is defined but never used (name it _a to silence this)") != w.end());
}

// Regression: dsl/README.md allows `let p1, ..., pk = split(v, k)` naming exactly k names, but
// for k = 1 sema said "split(...) gives several values: bind them with let a, b, ... =
// split(...)", which a one-part split does not. It is the vector itself.
TEST(Sema, SplitIntoOnePart) {
  auto c = compileText("dim H\ninput x[H]\nlet a = split(x, 1)\noutput a\n");
  ASSERT_TRUE(c.ok()) << c.messages()[0];
  EXPECT_EQ(c.cell().outputs[0].type.str(), "[H]");
}

} // namespace
