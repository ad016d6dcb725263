// The IR: symbolic Size arithmetic, the printer, the verifier, and the passes (canonicalize,
// CSE, dead code).
#include "TestUtil.h"

#include "compiler/ir/Builder.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>

using namespace cellc;
using namespace cellc::ir;

namespace {

const Size H = Size::symbol("H");
const Size I = Size::symbol("I");
Size k(int64_t c) { return Size::constant(c); }

std::string print(const Function &f) {
  std::ostringstream os;
  printFunction(os, f);
  return os.str();
}

// ---------------------------------------------------------------------------------------
// Size

TEST(Size, Str) {
  EXPECT_EQ(k(0).str(), "0");
  EXPECT_EQ(k(-3).str(), "-3");
  EXPECT_EQ(H.str(), "H");
  EXPECT_EQ(H.scaled(4)->str(), "4*H");
  EXPECT_EQ(H.plus(I)->str(), "H + I");
  EXPECT_EQ(H.scaled(2)->minus(k(1))->str(), "2*H - 1");
  EXPECT_EQ(H.scaled(-1)->plus(k(2))->str(), "-H + 2");
  EXPECT_EQ(I.minus(H)->str(), "-H + I");
  EXPECT_EQ(H.scaled(3)->minus(I.scaled(2).value())->plus(k(5))->str(), "3*H - 2*I + 5");
}

TEST(Size, Arithmetic) {
  Size fourH = *H.scaled(4);
  EXPECT_EQ(*fourH.plus(fourH), *H.scaled(8));
  EXPECT_EQ(*fourH.minus(H), *H.scaled(3));
  // A zero coefficient disappears, so H - H is the constant 0.
  Size zero = *H.minus(H);
  EXPECT_TRUE(zero.isConstant());
  EXPECT_EQ(zero, k(0));
  EXPECT_TRUE(zero.terms().empty());
  EXPECT_EQ(*H.scaled(0), k(0));
  Size mixed = *H.scaled(2)->plus(I)->plus(k(7));
  EXPECT_EQ(mixed.constantPart(), 7);
  EXPECT_EQ(mixed.terms().at("H"), 2);
  EXPECT_EQ(mixed.terms().at("I"), 1);
  EXPECT_FALSE(mixed.isConstant());
  EXPECT_NE(mixed, *H.scaled(2)->plus(I));
}

TEST(Size, DividedBy) {
  EXPECT_EQ(*H.scaled(4)->dividedBy(2), *H.scaled(2));
  EXPECT_EQ(*H.scaled(6)->plus(k(9))->dividedBy(3), *H.scaled(2)->plus(k(3)));
  EXPECT_EQ(*k(12).dividedBy(4), k(3));
  EXPECT_FALSE(H.dividedBy(2));                        // H/2 is not whole for every H
  EXPECT_FALSE(H.scaled(4)->plus(k(1))->dividedBy(2)); // the constant does not divide
  EXPECT_FALSE(k(7).dividedBy(2));
  EXPECT_FALSE(k(4).dividedBy(0));
  EXPECT_FALSE(k(4).dividedBy(-2));
}

TEST(Size, EvaluateAndSubstitute) {
  Size s = *H.scaled(4)->plus(I)->minus(k(1));
  EXPECT_EQ(s.evaluate({{"H", 3}, {"I", 5}}), 16);
  EXPECT_FALSE(s.evaluate({{"H", 3}})); // I is missing
  Size partial = *s.substitute({{"H", 3}});
  EXPECT_EQ(partial, *I.plus(k(11)));
  EXPECT_EQ(partial.str(), "I + 11");
  EXPECT_EQ(k(5).evaluate({}), 5);
}

TEST(Size, OverflowGivesNullopt) {
  const int64_t big = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(k(big).plus(k(1)));
  EXPECT_FALSE(Size::symbol("H").scaled(big)->plus(H));
  EXPECT_FALSE(k(std::numeric_limits<int64_t>::min()).minus(k(1)));
  EXPECT_FALSE(k(big / 2 + 1).scaled(2));
  EXPECT_FALSE(H.scaled(big / 2 + 1)->scaled(2));
  EXPECT_FALSE(H.scaled(big / 2 + 1)->evaluate({{"H", 2}}));
  EXPECT_FALSE(H.plus(k(big))->evaluate({{"H", 1}}));
  EXPECT_TRUE(k(big).plus(k(0)));
  EXPECT_EQ(H.scaled(big / 2)->evaluate({{"H", 2}}), big - 1);
}

TEST(Size, TypeStr) {
  EXPECT_EQ(Type::scalar().str(), "[]");
  EXPECT_EQ(Type::vector(*H.scaled(4)).str(), "[4*H]");
  EXPECT_EQ(Type::matrix(*H.scaled(4), I).str(), "[4*H, I]");
  EXPECT_EQ(Type::vector(H), Type::vector(H));
  EXPECT_NE(Type::vector(H), Type::vector(I));
  EXPECT_NE(Type::vector(H), Type::scalar());
  EXPECT_NE(Type::matrix(H, H), Type::matrix(H, I));
}

// ---------------------------------------------------------------------------------------
// Printer and verifier

/// x[I], h[H], W[2*H, I]; h' = tanh(W @ x [H:2*H] + h); y = concat(h', broadcast(sum(h' *
/// 0.5) / H)).
Function smallFunction() {
  Function f;
  Builder b(f, {});
  ValueId x = b.leaf(Op::Input, "x", Type::vector(I));
  ValueId h = b.leaf(Op::State, "h", Type::vector(H));
  ValueId w = b.leaf(Op::Param, "W", Type::matrix(*H.scaled(2), I));
  ValueId half = b.constant(0.5);
  ValueId mv = b.matVec(w, x);
  ValueId s = b.slice(mv, H, *H.scaled(2));
  ValueId t = b.unary(Op::Tanh, b.binary(Op::Add, s, h));
  ValueId m = b.binary(Op::Mul, t, half);
  ValueId total = b.sum(m);
  ValueId mean = b.binary(Op::Div, total, b.dimSize(H));
  ValueId y = b.concat({t, b.broadcast(mean, H)});
  f.results.push_back({Result::Kind::NewState, "h", t});
  f.results.push_back({Result::Kind::Output, "y", y});
  return f;
}

TEST(IRPrinter, SmallFunction) {
  EXPECT_EQ(print(smallFunction()), "  %0 = input x : [I]\n"
                                    "  %1 = state h : [H]\n"
                                    "  %2 = param W : [2*H, I]\n"
                                    "  %3 = const 0.5 : []\n"
                                    "  %4 = matvec %2, %0 : [2*H]\n"
                                    "  %5 = slice %4[H:2*H] : [H]\n"
                                    "  %6 = add %5, %1 : [H]\n"
                                    "  %7 = tanh %6 : [H]\n"
                                    "  %8 = mul %7, %3 : [H]\n"
                                    "  %9 = sum %8 : []\n"
                                    "  %10 = dimsize H : []\n"
                                    "  %11 = div %9, %10 : []\n"
                                    "  %12 = broadcast %11 : [H]\n"
                                    "  %13 = concat %7, %12 : [2*H]\n"
                                    "  state h' = %7\n"
                                    "  output y = %13\n");
}

TEST(IRPrinter, CellHeaderAndGradientLeaves) {
  Cell c;
  c.name = "demo";
  c.dims = {"I", "H"};
  c.fixedDims = {{"K", 4}};
  c.step = smallFunction();
  std::ostringstream os;
  printCell(os, c);
  EXPECT_EQ(os.str().substr(0, os.str().find('\n')), "cell demo [I, H] K=4");

  Gradient g;
  Builder b(g.step, {});
  ValueId seed = b.seed("h", true, Type::vector(H));
  ValueId out = b.seed("y", false, Type::vector(*H.scaled(2)));
  ValueId saved = b.saved(7, Type::vector(H));
  ValueId m = b.binary(Op::Mul, seed, saved);
  ValueId s = b.unary(Op::IsPositive, m);
  ValueId o = b.outer(s, b.saved(0, Type::vector(I)));
  ValueId tv = b.matTVec(b.leaf(Op::Param, "W", Type::matrix(H, I)), s);
  g.step.results.push_back({Result::Kind::GradState, "h", m});
  g.step.results.push_back({Result::Kind::GradParam, "W", o});
  g.step.results.push_back({Result::Kind::GradInput, "x", tv});
  (void)out;
  g.saved = {0, 7};
  std::ostringstream gs;
  printGradient(gs, c, g);
  EXPECT_EQ(gs.str(), "grad demo [I, H] K=4\n"
                      "  saved: %0(input x) %7(tanh)\n"
                      "  %0 = gradient state h' : [H]\n"
                      "  %1 = gradient output y : [2*H]\n"
                      "  %2 = saved %7 : [H]\n"
                      "  %3 = mul %0, %2 : [H]\n"
                      "  %4 = is_positive %3 : [H]\n"
                      "  %5 = saved %0 : [I]\n"
                      "  %6 = outer %4, %5 : [H, I]\n"
                      "  %7 = param W : [H, I]\n"
                      "  %8 = matvec_t %7, %4 : [I]\n"
                      "  grad h = %3\n"
                      "  grad W = %6\n"
                      "  grad x = %8\n");
  EXPECT_EQ(verify(g.step), "");
}

TEST(IRVerify, AcceptsAWellFormedFunction) { EXPECT_EQ(verify(smallFunction()), ""); }

TEST(IRVerify, OperandUsedBeforeItIsDefined) {
  Function f = smallFunction();
  f.nodes[6].operands[1] = 9; // add %5, %9
  EXPECT_EQ(verify(f), "%6 (add): operand %9 is not defined before use");
  f.nodes[6].operands[1] = 6; // itself
  EXPECT_EQ(verify(f), "%6 (add): operand %6 is not defined before use");
  f.nodes[6].operands[1] = -1;
  EXPECT_EQ(verify(f), "%6 (add): operand %-1 is not defined before use");
}

TEST(IRVerify, WrongArity) {
  Function f = smallFunction();
  f.nodes[7].operands.push_back(1); // tanh with two operands
  EXPECT_EQ(verify(f), "%7 (tanh): wrong number of operands");
  Function g = smallFunction();
  g.nodes[13].operands.clear(); // concat of nothing
  EXPECT_EQ(verify(g), "%13 (concat): variadic op without operands");
}

TEST(IRVerify, TypeErrors) {
  Function f = smallFunction();
  f.nodes[4].operands[1] = 1; // W[2*H, I] @ h[H]
  EXPECT_EQ(verify(f), "%4 (matvec): matvec types");

  Function g = smallFunction();
  g.nodes[6].operands[1] = 0; // [H] + x[I]
  EXPECT_EQ(verify(g), "%6 (add): elementwise operand type differs from the result");

  Function s = smallFunction();
  s.nodes[9].operands[0] = 3; // sum of a scalar
  EXPECT_EQ(verify(s), "%9 (sum): sum types");

  Function m = smallFunction();
  m.nodes[7].operands[0] = 2; // tanh of a matrix
  m.nodes[7].type = m.nodes[2].type;
  EXPECT_EQ(verify(m), "%7 (tanh): elementwise op on a matrix");
}

TEST(IRVerify, ResultOfAMissingValue) {
  Function f = smallFunction();
  f.results[1].value = 14;
  EXPECT_EQ(verify(f), "result y refers to a missing value");
}

// ---------------------------------------------------------------------------------------
// canonicalize

/// A function with one vector input x[H] and another y[H], built unfolded by `body`, with its
/// value as the single output; returns the canonicalized function.
template <typename Body> Function canonicalized(Body body, Size n = H) {
  Function f;
  Builder b(f, {});
  ValueId x = b.leaf(Op::Input, "x", Type::vector(n));
  ValueId y = b.leaf(Op::Input, "y", Type::vector(n));
  ValueId v = body(b, x, y);
  f.results.push_back({Result::Kind::Output, "out", v});
  EXPECT_EQ(verify(f), "");
  Function c = canonicalize(f);
  EXPECT_EQ(verify(c), "");
  return c;
}

const Node &outputNode(const Function &f) { return f[f.results.back().value]; }

TEST(Canonicalize, MultiplicativeIdentities) {
  auto xTimesOne = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Mul, x, b.constant(1)); });
  EXPECT_EQ(xTimesOne.results[0].value, 0); // x itself
  EXPECT_EQ(xTimesOne.nodes.size(), 2u);    // the constant is gone
  auto oneTimesX = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Mul, b.constant(1), x); });
  EXPECT_EQ(oneTimesX.results[0].value, 0);
  auto xOverOne = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Div, x, b.constant(1)); });
  EXPECT_EQ(xOverOne.results[0].value, 0);
  auto timesMinusOne = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Mul, x, b.constant(-1)); });
  EXPECT_EQ(outputNode(timesMinusOne).op, Op::Neg);
  EXPECT_EQ(outputNode(timesMinusOne).operands[0], 0);
  // x * 2 stays.
  auto timesTwo = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Mul, x, b.constant(2)); });
  EXPECT_EQ(outputNode(timesTwo).op, Op::Mul);
}

TEST(Canonicalize, AdditiveIdentities) {
  auto xPlusZero = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Add, x, b.constant(0)); });
  EXPECT_EQ(xPlusZero.results[0].value, 0);
  auto zeroPlusX = canonicalized([](Builder &b, ValueId, ValueId y) {
    return b.binary(Op::Add, b.constant(0, Type::vector(H)), y);
  });
  EXPECT_EQ(zeroPlusX.results[0].value, 1);
  auto xMinusZero = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Sub, x, b.constant(0)); });
  EXPECT_EQ(xMinusZero.results[0].value, 0);
  auto zeroMinusX = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.binary(Op::Sub, b.constant(0), x); });
  EXPECT_EQ(outputNode(zeroMinusX).op, Op::Neg);
  EXPECT_EQ(outputNode(zeroMinusX).operands[0], 0);
}

TEST(Canonicalize, IdentityThatWouldChangeTheTypeIsKept) {
  // sum(x) + zeros[H] is a vector; dropping the zeros would leave a scalar.
  auto f = canonicalized([](Builder &b, ValueId x, ValueId) {
    return b.binary(Op::Add, b.sum(x), b.constant(0, Type::vector(H)));
  });
  EXPECT_EQ(outputNode(f).op, Op::Add);
  EXPECT_EQ(outputNode(f).type, Type::vector(H));
}

TEST(Canonicalize, DoubleNegation) {
  auto f = canonicalized(
      [](Builder &b, ValueId x, ValueId) { return b.unary(Op::Neg, b.unary(Op::Neg, x)); });
  EXPECT_EQ(f.results[0].value, 0);
  EXPECT_EQ(f.nodes.size(), 2u);
  auto triple = canonicalized([](Builder &b, ValueId x, ValueId) {
    return b.unary(Op::Neg, b.unary(Op::Neg, b.unary(Op::Neg, x)));
  });
  EXPECT_EQ(outputNode(triple).op, Op::Neg);
  EXPECT_EQ(outputNode(triple).operands[0], 0);
  EXPECT_EQ(test::countOps(triple, Op::Neg), 1);
}

TEST(Canonicalize, ConstantFolding) {
  auto f = canonicalized([](Builder &b, ValueId x, ValueId) {
    // (2 + 3) * tanh(0) + exp(0) * sigmoid(0) * x  ->  0 + 0.5 * x  ->  0.5 * x
    ValueId five = b.binary(Op::Add, b.constant(2), b.constant(3));
    ValueId zero = b.binary(Op::Mul, five, b.unary(Op::Tanh, b.constant(0)));
    ValueId half =
        b.binary(Op::Mul, b.unary(Op::Exp, b.constant(0)), b.unary(Op::Sigmoid, b.constant(0)));
    return b.binary(Op::Add, zero, b.binary(Op::Mul, half, x));
  });
  EXPECT_EQ(print(f), "  %0 = input x : [H]\n"
                      "  %1 = input y : [H]\n"
                      "  %2 = const 0.5 : []\n"
                      "  %3 = mul %2, %0 : [H]\n"
                      "  output out = %3\n");
}

TEST(Canonicalize, FoldedConstantsKeepTheirType) {
  auto f = canonicalized([](Builder &b, ValueId, ValueId) {
    return b.binary(Op::Mul, b.constant(3, Type::vector(H)), b.constant(4));
  });
  const Node &n = outputNode(f);
  EXPECT_EQ(n.op, Op::Const);
  EXPECT_EQ(n.value, 12);
  EXPECT_EQ(n.type, Type::vector(H));
  auto minOf = canonicalized([](Builder &b, ValueId, ValueId) {
    return b.binary(Op::Max, b.constant(-2, Type::vector(H)), b.unary(Op::Abs, b.constant(-7)));
  });
  EXPECT_EQ(outputNode(minOf).value, 7);
}

TEST(Canonicalize, SliceOfSlice) {
  auto f = canonicalized(
      [](Builder &b, ValueId x, ValueId) {
        ValueId outer = b.slice(x, H, *H.scaled(3)); // x[H:3*H], [2*H]
        return b.slice(outer, k(1), *H.plus(k(1)));  // [1:H+1] of that
      },
      *H.scaled(4));
  const Node &n = outputNode(f);
  ASSERT_EQ(n.op, Op::Slice);
  EXPECT_EQ(n.operands[0], 0);
  EXPECT_EQ(n.lo, *H.plus(k(1)));
  EXPECT_EQ(n.hi, *H.scaled(2)->plus(k(1)));
  EXPECT_EQ(test::countOps(f, Op::Slice), 1);
}

TEST(Canonicalize, FullSliceIsTheValue) {
  auto f = canonicalized([](Builder &b, ValueId x, ValueId) { return b.slice(x, k(0), H); });
  EXPECT_EQ(f.results[0].value, 0);
}

TEST(Canonicalize, SliceOfAConstant) {
  auto f = canonicalized(
      [](Builder &b, ValueId, ValueId) {
        return b.slice(b.constant(2.5, Type::vector(*H.scaled(2))), H, *H.scaled(2));
      },
      H);
  const Node &n = outputNode(f);
  EXPECT_EQ(n.op, Op::Const);
  EXPECT_EQ(n.value, 2.5);
  EXPECT_EQ(n.type, Type::vector(H));
}

TEST(Canonicalize, SliceOfConcat) {
  // Exactly one part.
  auto part = canonicalized([](Builder &b, ValueId x, ValueId y) {
    return b.slice(b.concat({x, y}), H, *H.scaled(2));
  });
  EXPECT_EQ(part.results[0].value, 1);
  EXPECT_EQ(test::countOps(part, Op::Concat), 0);
  // Inside one part at a constant offset.
  auto inside = canonicalized(
      [](Builder &b, ValueId x, ValueId y) {
        return b.slice(b.concat({x, y}), k(5), k(7)); // y[1:3]
      },
      k(4));
  const Node &n = outputNode(inside);
  ASSERT_EQ(n.op, Op::Slice);
  EXPECT_EQ(n.operands[0], 1);
  EXPECT_EQ(n.lo, k(1));
  EXPECT_EQ(n.hi, k(3));
  // Across two parts: stays a slice of the concat.
  auto across = canonicalized(
      [](Builder &b, ValueId x, ValueId y) {
        return b.slice(b.concat({x, y}), k(3), k(5));
      },
      k(4));
  ASSERT_EQ(outputNode(across).op, Op::Slice);
  EXPECT_EQ(across[outputNode(across).operands[0]].op, Op::Concat);
}

TEST(Canonicalize, ConcatOfAdjacentSlices) {
  auto f = canonicalized(
      [](Builder &b, ValueId x, ValueId) {
        return b.concat({b.slice(x, k(0), H), b.slice(x, H, *H.scaled(2))});
      },
      *H.scaled(3));
  const Node &n = outputNode(f);
  ASSERT_EQ(n.op, Op::Slice);
  EXPECT_EQ(n.operands[0], 0);
  EXPECT_EQ(n.lo, k(0));
  EXPECT_EQ(n.hi, *H.scaled(2));
  // All the pieces in order give the value back.
  auto whole = canonicalized(
      [](Builder &b, ValueId x, ValueId) {
        return b.concat({b.slice(x, k(0), H), b.slice(x, H, *H.scaled(2)),
                         b.slice(x, *H.scaled(2), *H.scaled(3))});
      },
      *H.scaled(3));
  EXPECT_EQ(whole.results[0].value, 0);
  // Slices of different values, or not adjacent, stay a concat.
  auto apart = canonicalized(
      [](Builder &b, ValueId x, ValueId y) {
        return b.concat({b.slice(x, k(0), H), b.slice(y, H, *H.scaled(2)),
                         b.slice(x, *H.scaled(2), *H.scaled(3))});
      },
      *H.scaled(3));
  EXPECT_EQ(outputNode(apart).op, Op::Concat);
  EXPECT_EQ(outputNode(apart).operands.size(), 3u);
  // A concat of one part is that part.
  auto single = canonicalized([](Builder &b, ValueId x, ValueId) { return b.concat({x}); });
  EXPECT_EQ(single.results[0].value, 0);
}

TEST(Canonicalize, ThroughTheFrontEnd) {
  auto c = test::compileText("dim H\ninput x[H]\noutput y = --(x * 1 + 0) * (2 - 1)\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.cell().step.nodes.size(), 1u);
  EXPECT_EQ(c.cell().step.results[0].value, 0);
}

// ---------------------------------------------------------------------------------------
// CSE and dead code

TEST(CSE, MergesDuplicates) {
  Function f;
  Builder b(f, {});
  ValueId x = b.leaf(Op::Input, "x", Type::vector(H));
  ValueId w = b.leaf(Op::Param, "W", Type::matrix(H, H));
  ValueId a1 = b.unary(Op::Tanh, b.matVec(w, x));
  ValueId a2 = b.unary(Op::Tanh, b.matVec(w, x));
  // Sliced from y[H + 1], as x[H] has no [1:2] when H = 1 (the verifier rejects that).
  ValueId y = b.leaf(Op::Input, "y", Type::vector(*H.plus(k(1))));
  ValueId s1 = b.slice(y, k(0), k(1));
  ValueId s2 = b.slice(y, k(0), k(1));
  ValueId s3 = b.slice(y, k(1), k(2)); // different bounds: not merged
  ValueId c1 = b.constant(2), c2 = b.constant(2), c3 = b.constant(3);
  ValueId cv = b.constant(2, Type::vector(H)); // different type: not merged
  ValueId sum = b.binary(Op::Add, b.binary(Op::Mul, a1, c1), b.binary(Op::Mul, a2, c2));
  ValueId other = b.binary(Op::Add, b.binary(Op::Mul, cv, c3), x);
  f.results.push_back({Result::Kind::Output, "a", sum});
  f.results.push_back({Result::Kind::Output, "b", other});
  f.results.push_back({Result::Kind::Output, "c", b.concat({s1, s2, s3})});
  ASSERT_EQ(verify(f), "");

  Function g = eliminateCommonSubexpressions(f);
  ASSERT_EQ(verify(g), "");
  EXPECT_EQ(test::countOps(g, Op::MatVec), 1);
  EXPECT_EQ(test::countOps(g, Op::Tanh), 1);
  EXPECT_EQ(test::countOps(g, Op::Slice), 2);
  EXPECT_EQ(test::countOps(g, Op::Const), 3); // 2, 3 and the vector 2
  // Both products are now the same node: a + a.
  const Node &add = g[g.results[0].value];
  ASSERT_EQ(add.op, Op::Add);
  EXPECT_EQ(add.operands[0], add.operands[1]);
  const Node &cat = g[g.results[2].value];
  EXPECT_EQ(cat.operands[0], cat.operands[1]);
  EXPECT_NE(cat.operands[1], cat.operands[2]);
}

TEST(CSE, DistinguishesLeavesByName) {
  Function f;
  Builder b(f, {});
  ValueId x = b.leaf(Op::Input, "x", Type::vector(H));
  ValueId y = b.leaf(Op::Input, "y", Type::vector(H));
  ValueId x2 = b.leaf(Op::State, "x", Type::vector(H)); // same name, another kind
  f.results.push_back(
      {Result::Kind::Output, "o",
       b.binary(Op::Add, b.binary(Op::Add, b.unary(Op::Exp, x), b.unary(Op::Exp, y)),
                b.unary(Op::Exp, x2))});
  Function g = eliminateCommonSubexpressions(f);
  EXPECT_EQ(test::countOps(g, Op::Exp), 3);
  EXPECT_EQ(g.nodes.size(), f.nodes.size());
}

TEST(CSE, ThroughTheFrontEnd) {
  auto c = test::compileText("dim I, H\ninput x[I]\nparam W[H, I]\n"
                             "output y = tanh(W @ x) * sigmoid(W @ x) + tanh(W @ x)\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(test::countOps(c.cell().step, Op::MatVec), 1);
  EXPECT_EQ(test::countOps(c.cell().step, Op::Tanh), 1);
}

TEST(DeadCode, KeepsSignatureLeavesAndDropsTheRest) {
  Function f;
  Builder b(f, {});
  ValueId x = b.leaf(Op::Input, "x", Type::vector(H));
  ValueId unusedInput = b.leaf(Op::Input, "u", Type::vector(H));
  ValueId dead = b.unary(Op::Tanh, x);
  ValueId state = b.leaf(Op::State, "h", Type::vector(H));
  b.binary(Op::Mul, dead, unusedInput); // dead too
  ValueId param = b.leaf(Op::Param, "W", Type::matrix(H, H));
  ValueId deadConst = b.constant(4);
  ValueId live = b.unary(Op::Exp, x);
  (void)state, (void)param, (void)deadConst;
  f.results.push_back({Result::Kind::Output, "y", live});

  Function g = removeDeadCode(f);
  ASSERT_EQ(verify(g), "");
  EXPECT_EQ(print(g), "  %0 = input x : [H]\n"
                      "  %1 = input u : [H]\n"
                      "  %2 = state h : [H]\n"
                      "  %3 = param W : [H, H]\n"
                      "  %4 = exp %0 : [H]\n"
                      "  output y = %4\n");
}

TEST(DeadCode, SimplifyKeepsUnusedDeclarations) {
  auto c = test::compileText("dim H\ninput x[H], u[H]\nstate h[H]\nparam W[H, H]\n"
                             "let _dead = tanh(W @ u)\nh' = x\noutput h'\n");
  ASSERT_TRUE(c.ok());
  const Function &f = c.cell().step;
  EXPECT_EQ(test::countOps(f, Op::Input), 2);
  EXPECT_EQ(test::countOps(f, Op::State), 1);
  EXPECT_EQ(test::countOps(f, Op::Param), 1);
  EXPECT_EQ(test::countOps(f, Op::Tanh), 0);
  EXPECT_EQ(test::countOps(f, Op::MatVec), 0);
}

// Regression: verify() checked no type of a slice or a concat. It accepted a slice whose type
// is not [hi - lo] or whose bounds lie outside its operand, and a concat whose type is not the
// sum of its parts' sizes, so a pass that broke either went unnoticed (the interpreter would
// then read or write out of bounds).
TEST(IRVerify, SliceAndConcatTypes) {
  Function wrongSliceType = smallFunction();
  wrongSliceType.nodes[5].type = Type::vector(I); // slice %4[H:2*H] : [I]
  EXPECT_EQ(verify(wrongSliceType), "%5 (slice): slice [H:2*H] has type [I], not [H]");

  Function outOfBounds = smallFunction();
  outOfBounds.nodes[5].lo = *H.scaled(2); // slice %4[2*H:3*H] of a [2*H] vector
  outOfBounds.nodes[5].hi = *H.scaled(3);
  EXPECT_EQ(verify(outOfBounds),
            "%5 (slice): slice [2*H:3*H] is out of range for a vector of size 2*H");

  Function wrongConcatType = smallFunction();
  wrongConcatType.nodes[13].type = Type::vector(*H.scaled(3)); // concat of [H], [H] : [3*H]
  EXPECT_EQ(verify(wrongConcatType), "%13 (concat): concat has type [3*H], not [2*H]");
}

// Bounds must hold for every value of the dims (each at least 1), as sema requires of slices.
TEST(IRVerify, SliceBoundsForEveryValueOfTheDims) {
  auto withBounds = [](Size lo, Size hi) {
    Function f; // output y = v[lo:hi] of an input v[2*H]
    f.add(Node{Op::Input, Type::vector(*H.scaled(2)), {}, "v"});
    Node s{Op::Slice, Type::vector(*hi.minus(lo)), {0}};
    s.lo = lo;
    s.hi = hi;
    f.results.push_back({Result::Kind::Output, "y", f.add(s)});
    return verify(f);
  };
  EXPECT_EQ(withBounds(k(0), *H.scaled(2)), "");             // all of [2*H]
  EXPECT_EQ(withBounds(k(1), *H.plus(k(1))), "");            // H elements from 1
  EXPECT_EQ(withBounds(k(0), *H.plus(k(1))), "");            // H + 1 <= 2*H as H >= 1
  EXPECT_NE(withBounds(k(1), H), "");                        // empty for H = 1
  EXPECT_NE(withBounds(k(-1), H), "");                       // starts before 0
  EXPECT_NE(withBounds(H, H), "");                           // empty
  EXPECT_NE(withBounds(H, k(0)), "");                        // reversed
  EXPECT_NE(withBounds(k(0), *H.scaled(2)->plus(k(1))), ""); // past the end
  EXPECT_NE(withBounds(I, *I.plus(k(1))), "");               // I may exceed 2*H - 1
}

TEST(IRVerify, SliceAndConcatOperandsAreVectors) {
  Function sliceOfMatrix = smallFunction();
  sliceOfMatrix.nodes[5].operands[0] = 2; // slice of W[2*H, I]
  EXPECT_EQ(verify(sliceOfMatrix), "%5 (slice): slice of a non-vector or to a non-vector");

  Function concatOfScalar = smallFunction();
  concatOfScalar.nodes[13].operands[1] = 11; // concat %7, %11 where %11 : []
  EXPECT_EQ(verify(concatOfScalar), "%13 (concat): operand %11 is not a vector");

  Function concatToScalar = smallFunction();
  concatToScalar.nodes[13].type = Type::scalar();
  EXPECT_EQ(verify(concatToScalar), "%13 (concat): concat to a non-vector");
}

} // namespace
