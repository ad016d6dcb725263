// Autodiff checked against finite differences. For a cell run over a short sequence by the
// reference interpreter, the loss
//
//   L = sum over outputs of <seed, output> + sum over states of <seed, final state>
//
// is differentiated numerically by central differences in double precision, with respect to
// every element of every input sequence, every initial state and every param, and compared
// with what interp::backward computes from ir::differentiate. This is done for every operator
// alone in a tiny cell, for every example cell in examples/, and for a few cells with
// unusual structure (an output that is not a state, two inputs, a param used twice).
#include "TestUtil.h"

#include "compiler/interp/Interpreter.h"
#include "compiler/transforms/Autodiff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>

using namespace cellc;
using interp::Buffer;

namespace {

// The error measure. For an analytic derivative a and a numeric one n,
//
//   relative error = |a - n| / max(|a|, |n|, kFloor)
//
// a relative error with a small absolute floor: derivatives smaller than kFloor = 1e-4 are
// compared in absolute terms (an error of at most kTolerance * kFloor = 1e-10), since the
// central difference carries a rounding error of ~eps |L| / h, 1e-11 to 1e-10 for the losses
// here (|L| up to ~50), whatever the derivative's size. Every derivative must satisfy
// relative error <= kTolerance = 1e-6.
constexpr double kTolerance = 1e-6;
constexpr double kFloor = 1e-4;
// Central differences (L(x + h) - L(x - h)) / 2h with h = kStep * max(1, |x|): the truncation
// error is ~h^2 |L'''| / 6 ~ 1e-11.
constexpr double kStep = 1e-5;

/// The buffer of a named input, initial state or param.
Buffer &tensor(interp::SequenceData &d, const std::string &name) {
  if (d.inputs.count(name))
    return d.inputs[name];
  if (d.initStates.count(name))
    return d.initStates[name];
  return d.params.at(name);
}

/// Uniform random data for every input, initial state and param, and random seeds.
struct Problem {
  interp::SequenceData data;
  interp::GradientSeeds seeds;
};

Problem randomProblem(const ir::Cell &cell, const DimValues &dims, int64_t T, int64_t B,
                      std::mt19937 &rng) {
  std::uniform_real_distribution<double> u(-1, 1);
  auto fill = [&](int64_t n) {
    Buffer v(n);
    for (double &e : v)
      e = u(rng);
    return v;
  };
  Problem p;
  p.data.T = T;
  p.data.B = B;
  p.data.dims = dims;
  for (const ir::TensorDecl &x : cell.inputs)
    p.data.inputs[x.name] = fill(T * B * interp::elementCount(x.type, dims));
  for (const ir::TensorDecl &s : cell.states)
    p.data.initStates[s.name] = fill(B * interp::elementCount(s.type, dims));
  for (const ir::TensorDecl &w : cell.params)
    p.data.params[w.name] = fill(interp::elementCount(w.type, dims));
  for (const ir::TensorDecl &o : cell.outputs)
    p.seeds.outputs[o.name] = fill(T * B * interp::elementCount(o.type, dims));
  for (const ir::TensorDecl &s : cell.states)
    p.seeds.finalStates[s.name] = fill(B * interp::elementCount(s.type, dims));
  return p;
}

double loss(const ir::Cell &cell, const interp::SequenceData &data,
            const interp::GradientSeeds &seeds) {
  interp::ForwardResult f = interp::forward(cell, data);
  double l = 0;
  for (const auto &[name, v] : f.outputs) {
    const Buffer &s = seeds.outputs.at(name);
    for (size_t i = 0; i < v.size(); ++i)
      l += s[i] * v[i];
  }
  for (const auto &[name, v] : f.finalStates) {
    const Buffer &s = seeds.finalStates.at(name);
    for (size_t i = 0; i < v.size(); ++i)
      l += s[i] * v[i];
  }
  return l;
}

struct FdStats {
  double worst = 0;                // the largest relative error
  std::string worstWhere;          // "param W[3]"
  int64_t elements = 0;            // derivatives checked
  int64_t nonzero = 0;             // of which |numeric| > 1e-6
  std::vector<std::string> silent; // tensors whose every derivative is ~0
};

/// Compares interp::backward with central differences for every element of every input,
/// initial state and param of `p`.
FdStats checkGradients(const ir::Cell &cell, Problem p) {
  FdStats st;
  ir::Gradient grad = ir::differentiate(cell);
  EXPECT_EQ(ir::verify(grad.step), "");
  interp::ForwardResult fwd = interp::forward(cell, p.data, grad.saved);
  interp::BackwardResult bwd = interp::backward(cell, grad, p.data, fwd, p.seeds);

  auto check = [&](const std::string &kind, const std::string &name, const Buffer &analytic) {
    Buffer &x = tensor(p.data, name);
    EXPECT_EQ(x.size(), analytic.size()) << kind << " " << name;
    if (x.size() != analytic.size())
      return;
    bool any = false;
    for (size_t i = 0; i < x.size(); ++i) {
      const double x0 = x[i], h = kStep * std::max(1.0, std::fabs(x0));
      const double xp = x0 + h, xm = x0 - h;
      x[i] = xp;
      const double lp = loss(cell, p.data, p.seeds);
      x[i] = xm;
      const double lm = loss(cell, p.data, p.seeds);
      x[i] = x0;
      const double numeric = (lp - lm) / (xp - xm), a = analytic[i];
      const double err =
          std::fabs(a - numeric) / std::max({std::fabs(a), std::fabs(numeric), kFloor});
      ++st.elements;
      if (std::fabs(numeric) > 1e-6) {
        ++st.nonzero;
        any = true;
      }
      if (!(err <= st.worst)) { // also catches NaN
        st.worst = std::isnan(err) ? INFINITY : err;
        st.worstWhere = kind + " " + name + "[" + std::to_string(i) + "]";
      }
      EXPECT_LE(err, kTolerance) << kind << " " << name << "[" << i << "]: analytic " << a
                                 << ", numeric " << numeric;
    }
    if (!any)
      st.silent.push_back(name);
  };
  for (const ir::TensorDecl &x : cell.inputs)
    check("input", x.name, bwd.inputs.at(x.name));
  for (const ir::TensorDecl &s : cell.states)
    check("initial state", s.name, bwd.initStates.at(s.name));
  for (const ir::TensorDecl &w : cell.params)
    check("param", w.name, bwd.params.at(w.name));
  return st;
}

// ---------------------------------------------------------------------------------------
// Data shaping: keep inputs away from kinks and out of domains where an op is undefined.

using Prepare = std::function<void(interp::SequenceData &, std::mt19937 &)>;

/// Draws every element of `name` from U(lo, hi).
Prepare uniform(const std::string &name, double lo, double hi) {
  return [=](interp::SequenceData &d, std::mt19937 &rng) {
    std::uniform_real_distribution<double> u(lo, hi);
    for (double &v : tensor(d, name))
      v = u(rng);
  };
}

/// Redraws, from U(lo, hi), the elements of `name` within `margin` of any of `points`.
Prepare avoid(const std::string &name, std::vector<double> points, double margin, double lo = -1,
              double hi = 1) {
  return [=](interp::SequenceData &d, std::mt19937 &rng) {
    std::uniform_real_distribution<double> u(lo, hi);
    for (double &v : tensor(d, name))
      while (std::any_of(points.begin(), points.end(),
                         [&](double p) { return std::fabs(v - p) < margin; }))
        v = u(rng);
  };
}

/// Moves the elements of `b` at least 0.1 away from those of `a` (same shape, or `a` a scalar
/// broadcast against `b`).
Prepare separate(const std::string &a, const std::string &b) {
  return [=](interp::SequenceData &d, std::mt19937 &rng) {
    std::uniform_real_distribution<double> u(0.1, 1);
    const Buffer &va = tensor(d, a);
    Buffer &vb = tensor(d, b);
    for (size_t i = 0; i < vb.size(); ++i) {
      double ai = va.size() == 1 ? va[0] : va[i];
      if (std::fabs(vb[i] - ai) < 0.1)
        vb[i] = ai + (rng() % 2 ? 1 : -1) * u(rng);
    }
  };
}

Prepare all(std::vector<Prepare> steps) {
  return [=](interp::SequenceData &d, std::mt19937 &rng) {
    for (const Prepare &s : steps)
      s(d, rng);
  };
}

struct OpCase {
  std::string name;
  std::string text; // the cell
  Prepare prepare = nullptr;
};

std::ostream &operator<<(std::ostream &os, const OpCase &c) { return os << c.name; }

// Dims of the tiny cells: N = 3, M = 2, I = 3, H = 2.
const DimValues kTinyDims = {{"N", 3}, {"M", 2}, {"I", 3}, {"H", 2}};

std::string oneInput(const std::string &expr) {
  return "dim N\ninput x[N]\noutput y = " + expr + "\n";
}
std::string twoInputs(const std::string &expr) {
  return "dim N\ninput a[N], b[N]\noutput y = " + expr + "\n";
}
std::string inputAndScalar(const std::string &expr) {
  return "dim N\ninput a[N]\nparam s\noutput y = " + expr + "\n";
}

std::vector<OpCase> opCases() {
  std::vector<OpCase> cs = {
      {"neg", oneInput("-x")},
      {"sigmoid", oneInput("sigmoid(x)"), uniform("x", -3, 3)},
      {"tanh", oneInput("tanh(x)"), uniform("x", -2, 2)},
      {"relu", oneInput("relu(x)"), avoid("x", {0}, 0.1)},
      {"exp", oneInput("exp(x)"), uniform("x", -2, 2)},
      {"log", oneInput("log(x)"), uniform("x", 0.3, 3)},
      {"softplus", oneInput("softplus(x)"), uniform("x", -4, 4)},
      {"softplus_large", oneInput("softplus(x)"),
       all({uniform("x", 15, 40),
            [](interp::SequenceData &d, std::mt19937 &) {
              Buffer &x = d.inputs["x"]; // half of them large and negative
              for (size_t i = 0; i < x.size(); i += 2)
                x[i] = -x[i];
            }})},
      {"hard_sigmoid", oneInput("hard_sigmoid(x)"),
       all({uniform("x", -5, 5), avoid("x", {-3, 3}, 0.1, -5, 5)})},
      {"sqrt", oneInput("sqrt(x)"), uniform("x", 0.3, 3)},
      {"rsqrt", oneInput("rsqrt(x)"), uniform("x", 0.3, 3)},
      {"abs", oneInput("abs(x)"), avoid("x", {0}, 0.1)},
      {"dim_as_number", oneInput("x * N")},

      {"add", twoInputs("a + b")},
      {"sub", twoInputs("a - b")},
      {"mul", twoInputs("a * b")},
      {"div", twoInputs("a / b"), avoid("b", {0}, 0.3)},
      {"min", twoInputs("min(a, b)"), separate("a", "b")},
      {"max", twoInputs("max(a, b)"), separate("a", "b")},
      {"add_scalar", inputAndScalar("a + s")},
      {"scalar_sub", inputAndScalar("s - a")},
      {"mul_scalar", inputAndScalar("a * s")},
      {"scalar_mul", inputAndScalar("s * a")},
      {"div_scalar", inputAndScalar("a / s"), avoid("s", {0}, 0.3)},
      {"scalar_div", inputAndScalar("s / a"), avoid("a", {0}, 0.3)},
      {"min_scalar", inputAndScalar("min(a, s)"), separate("s", "a")},
      {"max_scalar", inputAndScalar("max(s, a)"), separate("s", "a")},
      {"number_minus", oneInput("1 - x * 2")},

      {"clamp_scalar_bounds", "dim N\ninput x[N]\nparam lo, hi\noutput y = clamp(x, lo, hi)\n",
       all({uniform("lo", -0.4, -0.3), uniform("hi", 0.3, 0.4), uniform("x", -1, 1),
            avoid("x", {-0.4, -0.3, 0.3, 0.4}, 0.05)})},
      {"clamp_vector_bounds", "dim N\ninput x[N], lo[N], hi[N]\noutput y = clamp(x, lo, hi)\n",
       all({uniform("lo", -1, -0.5), uniform("hi", 0.5, 1), uniform("x", -1.5, 1.5),
            separate("lo", "x"), separate("hi", "x")})},
      {"clamp_constant_bounds", oneInput("clamp(x, -0.5, 0.5)"), avoid("x", {-0.5, 0.5}, 0.05)},

      {"matvec", "dim I, H\ninput x[I]\nparam W[H, I]\noutput y = W @ x\n"},
      {"split", "dim N\ninput x[3*N]\nlet a, b, c = split(x, 3)\noutput y = c\n"},
      {"split_all_parts", "dim N\ninput x[3*N]\nlet a, b, c = split(x, 3)\noutput y = a * c - b\n"},
      {"slice", "dim N\ninput x[2*N]\noutput y = x[1:N + 1]\n"},
      {"slice_open_ends", "dim N\ninput x[2*N]\noutput y = x[N:] - x[:N]\n"},
      {"slices_overlapping", "dim N\ninput x[2*N]\noutput y = x[1:N + 1] * x[:N]\n"},
      {"concat", "dim N, M\ninput a[N], b[M]\noutput y = concat(a, b, a)\n"},
      {"sum", twoInputs("b * sum(a)")},
      {"mean", twoInputs("b * mean(a)")},
      {"centered", oneInput("x - mean(x)")},
  };
  return cs;
}

class OpGradient : public ::testing::TestWithParam<OpCase> {};

TEST_P(OpGradient, MatchesFiniteDifferences) {
  const OpCase &oc = GetParam();
  test::Compiled c = test::compileText(oc.text);
  ASSERT_TRUE(c.ok()) << oc.text << (c.messages().empty() ? "" : c.messages()[0]);
  std::mt19937 rng(1234);
  Problem p = randomProblem(c.cell(), kTinyDims, /*T=*/2, /*B=*/2, rng);
  if (oc.prepare)
    oc.prepare(p.data, rng);
  FdStats st = checkGradients(c.cell(), p);
  EXPECT_GT(st.nonzero, 0);
  EXPECT_TRUE(st.silent.empty()) << st.silent[0];
  EXPECT_LE(st.worst, kTolerance) << "at " << st.worstWhere;
  std::cout << "[ fd ] " << oc.name << ": worst relative error " << st.worst << " ("
            << st.worstWhere << ") over " << st.elements << " derivatives\n";
}

INSTANTIATE_TEST_SUITE_P(EveryOp, OpGradient, ::testing::ValuesIn(opCases()),
                         [](const auto &info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Every example cell.

std::filesystem::path examplesDir() {
  return std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "examples";
}

std::vector<std::string> exampleCells() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto &e : std::filesystem::directory_iterator(examplesDir(), ec))
    if (e.path().extension() == ".cell")
      names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ExampleGradient, ExamplesAreFound) {
  // Guards the test below against a wrong path, which would leave it with nothing to check.
  std::vector<std::string> names = exampleCells();
  EXPECT_GE(names.size(), 9u) << examplesDir();
  EXPECT_TRUE(std::find(names.begin(), names.end(), "lstm") != names.end());
}

class ExampleGradient : public ::testing::TestWithParam<std::string> {};

TEST_P(ExampleGradient, MatchesFiniteDifferences) {
  std::string text;
  ASSERT_TRUE(dsl::readFile((examplesDir() / (GetParam() + ".cell")).string(), text));
  test::Compiled c = test::compileText(text);
  ASSERT_TRUE(c.ok()) << (c.messages().empty() ? "" : c.messages()[0]);
  const ir::Cell &cell = c.cell();
  DimValues dims;
  for (const std::string &d : cell.dims)
    dims[d] = d == "I" ? 3 : d == "H" ? 3 : 2;
  std::mt19937 rng(42);
  Problem p = randomProblem(cell, dims, /*T=*/3, /*B=*/2, rng);
  FdStats st = checkGradients(cell, p);
  EXPECT_LE(st.worst, kTolerance) << "at " << st.worstWhere;
  // Every input, state and param of an example influences the loss.
  EXPECT_TRUE(st.silent.empty()) << st.silent[0];
  std::cout << "[ fd ] " << GetParam() << ": worst relative error " << st.worst << " ("
            << st.worstWhere << ") over " << st.elements << " derivatives\n";
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleGradient, ::testing::ValuesIn(exampleCells()),
                         [](const auto &info) { return info.param; });

// ---------------------------------------------------------------------------------------
// Cells with unusual structure.

void checkCell(const std::string &text, const DimValues &dims, int64_t T = 3, int64_t B = 2,
               const DimValues &defines = {}) {
  test::Compiled c = test::compileText(text, defines);
  ASSERT_TRUE(c.ok()) << (c.messages().empty() ? "" : c.messages()[0]);
  std::mt19937 rng(99);
  Problem p = randomProblem(c.cell(), dims, T, B, rng);
  FdStats st = checkGradients(c.cell(), p);
  EXPECT_LE(st.worst, kTolerance) << "at " << st.worstWhere;
  EXPECT_TRUE(st.silent.empty()) << st.silent[0];
}

TEST(CellGradient, OutputThatIsNotAState) {
  checkCell("dim I, H\ninput x[I]\nstate h[H]\nparam W[H, I], U[H, H]\n"
            "h' = tanh(W @ x + U @ h)\n"
            "output y = sigmoid(U @ h') * h\n", // reads the next and the previous state
            {{"I", 3}, {"H", 2}});
}

TEST(CellGradient, PreviousStateAsOutput) {
  checkCell("dim H\ninput x[H]\nstate h[H]\nh' = tanh(h * x + x)\noutput h\n", {{"H", 3}});
}

TEST(CellGradient, TwoInputs) {
  checkCell("dim I, J, H\ninput x[I], z[J]\nstate h[H]\nparam W[H, I], V[H, J], U[H, H]\n"
            "h' = tanh(W @ x + V @ z + U @ h)\noutput h'\noutput zz = z * 2\n",
            {{"I", 3}, {"J", 2}, {"H", 2}});
}

TEST(CellGradient, ParamUsedInTwoPlaces) {
  checkCell("dim H\ninput x[H]\nstate h[H]\nparam W[H, H], b[H], alpha\n"
            "h' = tanh(W @ x + W @ h + b) * b + alpha * h + alpha\n"
            "output y = W @ tanh(W @ h')\n",
            {{"H", 3}});
}

TEST(CellGradient, StateReadThroughAnotherStatesUpdate) {
  checkCell("dim H\ninput x[H]\nstate h[H], c[H]\n"
            "c' = sigmoid(x) * c + tanh(h)\nh' = tanh(c') * sigmoid(h + x)\noutput h'\n",
            {{"H", 2}}, /*T=*/4);
}

TEST(CellGradient, FixedDim) {
  checkCell("dim I, H\ninput x[I]\nstate h[H]\nparam W[2*H, I]\n"
            "let a, b = split(W @ x, 2)\nh' = sigmoid(a) * h + b * H\noutput h'\n",
            {{"I", 2}}, 3, 2, {{"H", 3}});
}

TEST(CellGradient, SameValueAsTwoOutputs) {
  checkCell("dim H\ninput x[H]\nstate h[H]\nh' = tanh(x + h)\noutput a = sigmoid(h')\n"
            "output b = a\noutput h'\n",
            {{"H", 2}});
}

TEST(CellGradient, InputAsOutput) {
  // Under its own name: `output x` would clash with input x in the header and files.
  checkCell("dim H\ninput x[H]\nstate h[H]\nh' = x * h\noutput y = x\n", {{"H", 2}});
}

TEST(CellGradient, ScalarStateUpdate) {
  checkCell("dim H\ninput x[H]\nstate h[H]\nh' = sum(x * h)\noutput y = h' * x\n", {{"H", 3}});
}

TEST(CellGradient, ConstantStateUpdate) {
  checkCell("dim H\ninput x[H]\nstate h[H] = 1\nh' = 2\noutput y = h * x\n", {{"H", 2}});
}

TEST(CellGradient, SlicesNotProvablyOrdered) {
  // [H:2*H] against [0:1] and [1:2]: which comes first, and whether they overlap, depends on H
  // (for H = 1, x[H:2*H] is x[1:2]).
  for (int64_t h : {1, 2, 3}) {
    SCOPED_TRACE("H = " + std::to_string(h));
    checkCell("dim H\ninput x[4*H + 2]\n"
              "output y = concat(x[H:2*H], x[1:2], x[0:1]) * x[3*H:] + "
              "concat(x[:H], x[2*H:2*H + 2])\n",
              {{"H", h}});
  }
}

// The documented choices at points where an op has no derivative (dsl/README.md,
// "Derivatives"): relu'(0) = 0, abs'(0) = 0, hard_sigmoid'(+-3) = 0, and min/max give a tie to
// their first operand, so clamp gives the gradient to x at the bounds.

/// One step, one sample, every output seeded with 1; the gradients.
interp::BackwardResult gradientsAt(const std::string &text, const DimValues &dims,
                                   std::map<std::string, Buffer> inputs,
                                   std::map<std::string, Buffer> params = {}) {
  test::Compiled c = test::compileText(text);
  EXPECT_TRUE(c.ok()) << text;
  if (!c.ok())
    return {};
  const ir::Cell &cell = c.cell();
  interp::SequenceData data;
  data.T = 1;
  data.B = 1;
  data.dims = dims;
  data.inputs = std::move(inputs);
  data.params = std::move(params);
  interp::GradientSeeds seeds;
  for (const ir::TensorDecl &o : cell.outputs)
    seeds.outputs[o.name] = Buffer(interp::elementCount(o.type, dims), 1.0);
  ir::Gradient g = ir::differentiate(cell);
  interp::ForwardResult fwd = interp::forward(cell, data, g.saved);
  return interp::backward(cell, g, data, fwd, seeds);
}

TEST(KinkGradient, ReluAbsHardSigmoid) {
  DimValues n{{"N", 5}};
  Buffer x = {-3, -1, 0, 2, 3};
  EXPECT_EQ(gradientsAt("dim N\ninput x[N]\noutput y = relu(x)\n", n, {{"x", x}}).inputs["x"],
            (Buffer{0, 0, 0, 1, 1}));
  EXPECT_EQ(gradientsAt("dim N\ninput x[N]\noutput y = abs(x)\n", n, {{"x", x}}).inputs["x"],
            (Buffer{-1, -1, 0, 1, 1}));
  Buffer hs =
      gradientsAt("dim N\ninput x[N]\noutput y = hard_sigmoid(x)\n", n, {{"x", x}}).inputs["x"];
  ASSERT_EQ(hs.size(), 5u);
  EXPECT_EQ(hs[0], 0); // -3
  EXPECT_DOUBLE_EQ(hs[1], 1.0 / 6);
  EXPECT_DOUBLE_EQ(hs[2], 1.0 / 6);
  EXPECT_DOUBLE_EQ(hs[3], 1.0 / 6);
  EXPECT_EQ(hs[4], 0); // 3
}

TEST(KinkGradient, MinMaxTieGoesToTheFirstOperand) {
  DimValues n{{"N", 3}};
  std::map<std::string, Buffer> ab = {{"a", {1, 2, 3}}, {"b", {1, 5, 0}}};
  auto mn = gradientsAt("dim N\ninput a[N], b[N]\noutput y = min(a, b)\n", n, ab);
  EXPECT_EQ(mn.inputs["a"], (Buffer{1, 1, 0}));
  EXPECT_EQ(mn.inputs["b"], (Buffer{0, 0, 1}));
  auto mx = gradientsAt("dim N\ninput a[N], b[N]\noutput y = max(a, b)\n", n, ab);
  EXPECT_EQ(mx.inputs["a"], (Buffer{1, 0, 1}));
  EXPECT_EQ(mx.inputs["b"], (Buffer{0, 1, 0}));
  // Swapping the operands moves the tie's gradient.
  auto swapped = gradientsAt("dim N\ninput a[N], b[N]\noutput y = min(b, a)\n", n, ab);
  EXPECT_EQ(swapped.inputs["a"], (Buffer{0, 1, 0}));
  EXPECT_EQ(swapped.inputs["b"], (Buffer{1, 0, 1}));
}

TEST(KinkGradient, ClampGivesTheBoundsToX) {
  // x at lo, inside, at hi, below lo, above hi; scalar bounds lo = -1, hi = 1.
  auto g = gradientsAt("dim N\ninput x[N]\nparam lo, hi\noutput y = clamp(x, lo, hi)\n", {{"N", 5}},
                       {{"x", {-1, 0.5, 1, -2, 3}}}, {{"lo", {-1}}, {"hi", {1}}});
  EXPECT_EQ(g.inputs["x"], (Buffer{1, 1, 1, 0, 0}));
  EXPECT_EQ(g.params["lo"], (Buffer{1})); // from x = -2 only
  EXPECT_EQ(g.params["hi"], (Buffer{1})); // from x = 3 only
}

} // namespace
