// The reference interpreter's forward pass: the value of every op on small hand-computed data,
// a two-step RNN worked by hand, declared initial states, and batch samples kept apart.
#include "TestUtil.h"

#include "compiler/interp/Interpreter.h"
#include "compiler/ir/Builder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>

using namespace cellc;
using interp::Buffer;
using ir::Op;

namespace {

struct Ran {
  test::Compiled compiled;
  interp::ForwardResult result;
};

/// Compiles `text` and runs it forward over T steps and B samples.
Ran run(const std::string &text, const DimValues &dims, int64_t T, int64_t B,
        std::map<std::string, Buffer> inputs, std::map<std::string, Buffer> params = {},
        std::map<std::string, Buffer> initStates = {}) {
  Ran r{test::compileText(text), {}};
  EXPECT_TRUE(r.compiled.ok()) << (r.compiled.messages().empty() ? "" : r.compiled.messages()[0]);
  if (!r.compiled.ok())
    return r;
  interp::SequenceData data;
  data.T = T;
  data.B = B;
  data.dims = dims;
  data.inputs = std::move(inputs);
  data.params = std::move(params);
  data.initStates = std::move(initStates);
  r.result = interp::forward(r.compiled.cell(), data);
  return r;
}

/// One step, one sample, input x[N]; returns output y.
Buffer unaryOutput(const std::string &expr, const Buffer &x) {
  Ran r = run("dim N\ninput x[N]\noutput y = " + expr + "\n", {{"N", int64_t(x.size())}}, 1, 1,
              {{"x", x}});
  return r.compiled.ok() ? r.result.outputs.at("y") : Buffer{};
}

void expectNear(const Buffer &got, const Buffer &want, double tol = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * std::max(1.0, std::fabs(want[i]))) << "element " << i;
}

TEST(Interpreter, ElementCount) {
  DimValues d{{"H", 3}, {"I", 2}};
  EXPECT_EQ(interp::elementCount(ir::Type::scalar(), d), 1);
  EXPECT_EQ(interp::elementCount(ir::Type::vector(Size::symbol("H")), d), 3);
  EXPECT_EQ(
      interp::elementCount(ir::Type::matrix(*Size::symbol("H").scaled(4), Size::symbol("I")), d),
      24);
}

TEST(Interpreter, MatVec) {
  // W = [[1, 2, 3], [4, 5, 6]] (row-major [H][I]), x = [1, 0, -1].
  Ran r = run("dim I, H\ninput x[I]\nparam W[H, I]\noutput y = W @ x\n", {{"I", 3}, {"H", 2}}, 1, 1,
              {{"x", {1, 0, -1}}}, {{"W", {1, 2, 3, 4, 5, 6}}});
  expectNear(r.result.outputs.at("y"), {-2, -2});
  Ran r2 = run("dim I, H\ninput x[I]\nparam W[H, I]\noutput y = W @ x\n", {{"I", 3}, {"H", 2}}, 1,
               1, {{"x", {0.5, 2, 1}}}, {{"W", {1, 2, 3, 4, 5, 6}}});
  expectNear(r2.result.outputs.at("y"), {0.5 + 4 + 3, 2 + 10 + 6});
}

TEST(Interpreter, Slices) {
  Ran r = run("dim N\ninput x[2*N]\noutput a = x[N:]\noutput b = x[1:N + 1]\noutput c = x[:1]\n",
              {{"N", 2}}, 1, 1, {{"x", {1, 2, 3, 4}}});
  expectNear(r.result.outputs.at("a"), {3, 4});
  expectNear(r.result.outputs.at("b"), {2, 3});
  expectNear(r.result.outputs.at("c"), {1});
}

TEST(Interpreter, SplitParts) {
  Ran r = run("dim N\ninput x[3*N]\nlet a, b, c = split(x, 3)\noutput y = concat(c, a, b)\n",
              {{"N", 2}}, 1, 1, {{"x", {1, 2, 3, 4, 5, 6}}});
  expectNear(r.result.outputs.at("y"), {5, 6, 1, 2, 3, 4});
}

TEST(Interpreter, Concat) {
  Ran r = run("dim N, M\ninput a[N], b[M]\noutput y = concat(b, a, b)\n", {{"N", 2}, {"M", 1}}, 1,
              1, {{"a", {1, 2}}, {"b", {7}}});
  expectNear(r.result.outputs.at("y"), {7, 1, 2, 7});
}

TEST(Interpreter, SumMeanAndScalarBroadcast) {
  expectNear(unaryOutput("x - mean(x)", {1, 2, 3, 6}), {-2, -1, 0, 3});
  expectNear(unaryOutput("x / sum(x)", {1, 3, 4}), {0.125, 0.375, 0.5});
  expectNear(unaryOutput("2 - x * 3", {1, -1}), {-1, 5});
  expectNear(unaryOutput("x * N", {1, -2, 0.5}), {3, -6, 1.5}); // a dim is its value
  Ran r = run("dim N\ninput x[N]\nparam alpha\noutput y = x * alpha + 1\n", {{"N", 2}}, 1, 1,
              {{"x", {1, 2}}}, {{"alpha", {-3}}});
  expectNear(r.result.outputs.at("y"), {-2, -5});
}

TEST(Interpreter, ScalarStateUpdateBroadcasts) {
  Ran r = run("dim N\ninput x[N]\nstate h[N]\nh' = sum(x)\noutput h'\n", {{"N", 3}}, 1, 1,
              {{"x", {1, 2, 4}}});
  expectNear(r.result.outputs.at("h"), {7, 7, 7});
  expectNear(r.result.finalStates.at("h"), {7, 7, 7});
}

TEST(Interpreter, Activations) {
  const Buffer x = {-2, -0.5, 0, 0.5, 2};
  auto each = [&](double (*f)(double)) {
    Buffer y;
    for (double v : x)
      y.push_back(f(v));
    return y;
  };
  expectNear(unaryOutput("-x", x), each([](double v) { return -v; }));
  expectNear(unaryOutput("sigmoid(x)", x), each([](double v) { return 1 / (1 + std::exp(-v)); }));
  expectNear(unaryOutput("tanh(x)", x), each([](double v) { return std::tanh(v); }));
  expectNear(unaryOutput("relu(x)", x), {0, 0, 0, 0.5, 2});
  expectNear(unaryOutput("exp(x)", x), each([](double v) { return std::exp(v); }));
  expectNear(unaryOutput("softplus(x)", x),
             each([](double v) { return std::log(1 + std::exp(v)); }));
  expectNear(unaryOutput("abs(x)", x), {2, 0.5, 0, 0.5, 2});
  EXPECT_DOUBLE_EQ(unaryOutput("sigmoid(x)", {0})[0], 0.5);
  EXPECT_DOUBLE_EQ(unaryOutput("softplus(x)", {0})[0], std::log(2.0));

  const Buffer pos = {0.25, 1, 4, 9};
  expectNear(unaryOutput("log(x)", pos), {std::log(0.25), 0, std::log(4.0), std::log(9.0)});
  expectNear(unaryOutput("sqrt(x)", pos), {0.5, 1, 2, 3});
  expectNear(unaryOutput("rsqrt(x)", pos), {2, 1, 0.5, 1.0 / 3});
  // log(0) = -inf; log, sqrt of a negative number: NaN.
  Buffer edge = unaryOutput("log(x)", {0, -1});
  EXPECT_EQ(edge[0], -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(edge[1]));
  EXPECT_TRUE(std::isnan(unaryOutput("sqrt(x)", {-1})[0]));
}

TEST(Interpreter, SoftplusForLargeMagnitudes) {
  Buffer y = unaryOutput("softplus(x)", {800, 50, -50, -800});
  EXPECT_EQ(y[0], 800);                      // log(1 + e^800) without overflow
  EXPECT_DOUBLE_EQ(y[1], 50);                // 50 + log1p(e^-50)
  EXPECT_NEAR(y[2], std::exp(-50.0), 1e-35); // log1p(e^-50) ~ e^-50
  EXPECT_GT(y[2], 0);
  EXPECT_EQ(y[3], 0); // e^-800 underflows to 0
  for (double v : y)
    EXPECT_TRUE(std::isfinite(v));
}

TEST(Interpreter, HardSigmoid) {
  expectNear(unaryOutput("hard_sigmoid(x)", {-4, -3, -1.5, 0, 1.5, 3, 4}),
             {0, 0, 0.25, 0.5, 0.75, 1, 1});
}

TEST(Interpreter, MinMaxAndTies) {
  Ran r = run("dim N\ninput a[N], b[N]\noutput lo = min(a, b)\noutput hi = max(a, b)\n", {{"N", 3}},
              1, 1, {{"a", {1, -2, 3}}, {"b", {0, 5, 3}}});
  expectNear(r.result.outputs.at("lo"), {0, -2, 3});
  expectNear(r.result.outputs.at("hi"), {1, 5, 3});
  // On a tie the first operand wins: visible with signed zeros.
  Ran z = run("dim N\ninput a[N], b[N]\noutput lo = min(a, b)\noutput hi = max(a, b)\n", {{"N", 2}},
              1, 1, {{"a", {0.0, -0.0}}, {"b", {-0.0, 0.0}}});
  const Buffer &lo = z.result.outputs.at("lo"), &hi = z.result.outputs.at("hi");
  EXPECT_FALSE(std::signbit(lo[0])); // min(+0, -0) = +0
  EXPECT_TRUE(std::signbit(lo[1]));  // min(-0, +0) = -0
  EXPECT_FALSE(std::signbit(hi[0])); // max(+0, -0) = +0
  EXPECT_TRUE(std::signbit(hi[1]));  // max(-0, +0) = -0
  // NaN in either operand gives NaN.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Ran n = run("dim N\ninput a[N], b[N]\noutput lo = min(a, b)\noutput hi = max(a, b)\n", {{"N", 2}},
              1, 1, {{"a", {nan, 1}}, {"b", {1, nan}}});
  for (double v : n.result.outputs.at("lo"))
    EXPECT_TRUE(std::isnan(v));
  for (double v : n.result.outputs.at("hi"))
    EXPECT_TRUE(std::isnan(v));
}

TEST(Interpreter, Clamp) {
  expectNear(unaryOutput("clamp(x, -1, 2)", {-3, -1, 0.5, 2, 7}), {-1, -1, 0.5, 2, 2});
}

TEST(Interpreter, DivisionIsIEEE) {
  Buffer y = unaryOutput("1 / x", {0, -0.0, 4});
  EXPECT_EQ(y[0], std::numeric_limits<double>::infinity());
  EXPECT_EQ(y[1], -std::numeric_limits<double>::infinity());
  EXPECT_EQ(y[2], 0.25);
}

TEST(Interpreter, StepOp) {
  // `step` only appears in derivatives; build a cell that uses it directly.
  ir::Cell cell;
  cell.name = "step";
  cell.dims = {"N"};
  ir::Type t = ir::Type::vector(Size::symbol("N"));
  cell.inputs = {{"x", t}};
  cell.outputs = {{"y", t}};
  ir::Builder b(cell.step, {});
  ir::ValueId y = b.unary(Op::IsPositive, b.leaf(Op::Input, "x", t));
  cell.step.results.push_back({ir::Result::Kind::Output, "y", y});
  interp::SequenceData data;
  data.T = 1;
  data.B = 1;
  data.dims = {{"N", 5}};
  data.inputs["x"] = {-1, -0.0, 0, 1e-300, 2};
  expectNear(interp::forward(cell, data).outputs.at("y"), {0, 0, 0, 1, 1});
}

TEST(Interpreter, TwoStepRnnByHand) {
  // h' = tanh(W x + U h + b), I = H = 2, T = 2, one sample, h0 given.
  const char *text = "dim I, H\ninput x[I]\nstate h[H]\nparam W[H, I], U[H, H], b[H]\n"
                     "h' = tanh(W @ x + U @ h + b)\noutput h'\n";
  Buffer W = {0.5, -1, 0.25, 2}, U = {1, 0.5, -0.5, 0.1}, bias = {0.1, -0.2};
  Buffer x = {1, 2, /*t=1*/ -1, 0.5}, h0 = {0.3, -0.4};
  Ran r = run(text, {{"I", 2}, {"H", 2}}, 2, 1, {{"x", x}}, {{"W", W}, {"U", U}, {"b", bias}},
              {{"h", h0}});
  // Step 0.
  double a0 = 0.5 * 1 + -1 * 2 + 1 * 0.3 + 0.5 * -0.4 + 0.1;    // -1.3
  double a1 = 0.25 * 1 + 2 * 2 + -0.5 * 0.3 + 0.1 * -0.4 - 0.2; // 3.86
  double h1[2] = {std::tanh(a0), std::tanh(a1)};
  // Step 1.
  double c0 = 0.5 * -1 + -1 * 0.5 + 1 * h1[0] + 0.5 * h1[1] + 0.1;
  double c1 = 0.25 * -1 + 2 * 0.5 + -0.5 * h1[0] + 0.1 * h1[1] - 0.2;
  double h2[2] = {std::tanh(c0), std::tanh(c1)};
  expectNear(r.result.outputs.at("h"), {h1[0], h1[1], h2[0], h2[1]});
  expectNear(r.result.finalStates.at("h"), {h2[0], h2[1]});
}

TEST(Interpreter, OutputOfThePreviousAndTheNextState) {
  Ran r = run("dim N\ninput x[N]\nstate h[N]\nh' = h + x\noutput prev = h\noutput next = h'\n",
              {{"N", 1}}, 3, 1, {{"x", {1, 2, 3}}}, {}, {{"h", {10}}});
  expectNear(r.result.outputs.at("prev"), {10, 11, 13});
  expectNear(r.result.outputs.at("next"), {11, 13, 16});
  expectNear(r.result.finalStates.at("h"), {16});
}

TEST(Interpreter, InitialStateFromTheDeclaration) {
  const char *text = "dim H\ninput x[H]\nstate h[H] = 0.5, c[H] = -2\n"
                     "h' = h + x\nc' = c * 2\noutput h'\noutput cc = c'\n";
  Ran r = run(text, {{"H", 2}}, 2, 2, {{"x", {1, 2, 3, 4, /*t=1*/ 10, 20, 30, 40}}});
  // Each sample starts at h = 0.5: step 0 gives 0.5 + x0, step 1 adds x1.
  expectNear(r.result.outputs.at("h"), {1.5, 2.5, 3.5, 4.5, 11.5, 22.5, 33.5, 44.5});
  expectNear(r.result.outputs.at("cc"), {-4, -4, -4, -4, -8, -8, -8, -8});
  // A given initial state replaces the declared one.
  Ran given = run(text, {{"H", 2}}, 1, 2, {{"x", {1, 2, 3, 4}}}, {}, {{"h", {0, 0, 1, 1}}});
  expectNear(given.result.outputs.at("h"), {1, 2, 4, 5});
  expectNear(given.result.finalStates.at("c"), {-4, -4, -4, -4});
}

TEST(Interpreter, SavedValuesPerStepAndSample) {
  test::Compiled c = test::compileText("dim N\ninput x[N]\nstate h[N]\nh' = tanh(h + x)\n"
                                       "output h'\n");
  ASSERT_TRUE(c.ok());
  const ir::Function &f = c.cell().step;
  ir::ValueId tanhId = f.results[0].value;
  ASSERT_EQ(f[tanhId].op, Op::Tanh);
  interp::SequenceData data;
  data.T = 2;
  data.B = 2;
  data.dims = {{"N", 1}};
  data.inputs["x"] = {1, 2, 3, 4};
  auto out = interp::forward(c.cell(), data, {tanhId});
  // The saved tanh is exactly the output.
  expectNear(out.saved.at(tanhId), out.outputs.at("h"), 0);
}

/// Reads an example cell.
std::string example(const std::string &name) {
  std::filesystem::path p = std::filesystem::path(__FILE__).parent_path() / "../../examples" / name;
  std::string text;
  EXPECT_TRUE(dsl::readFile(p.string(), text)) << p;
  return text;
}

TEST(Interpreter, SamplesOfABatchAreIndependent) {
  // The layer-norm LSTM reduces over features (mean); a reduction over the batch by mistake
  // would mix samples.
  test::Compiled c = test::compileText(example("layernorm_lstm.cell"));
  ASSERT_TRUE(c.ok());
  const ir::Cell &cell = c.cell();
  const int64_t T = 3, B = 3;
  DimValues dims{{"I", 2}, {"H", 3}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  interp::SequenceData all;
  all.T = T;
  all.B = B;
  all.dims = dims;
  auto fill = [&](int64_t n) {
    Buffer v(n);
    for (double &e : v)
      e = u(rng);
    return v;
  };
  for (const ir::TensorDecl &x : cell.inputs)
    all.inputs[x.name] = fill(T * B * interp::elementCount(x.type, dims));
  for (const ir::TensorDecl &s : cell.states)
    all.initStates[s.name] = fill(B * interp::elementCount(s.type, dims));
  for (const ir::TensorDecl &p : cell.params)
    all.params[p.name] = fill(interp::elementCount(p.type, dims));
  interp::ForwardResult together = interp::forward(cell, all);

  for (int64_t b = 0; b < B; ++b) {
    interp::SequenceData one = all;
    one.B = 1;
    for (const ir::TensorDecl &x : cell.inputs) {
      int64_t n = interp::elementCount(x.type, dims);
      Buffer v;
      for (int64_t t = 0; t < T; ++t)
        v.insert(v.end(), all.inputs[x.name].begin() + (t * B + b) * n,
                 all.inputs[x.name].begin() + (t * B + b + 1) * n);
      one.inputs[x.name] = v;
    }
    for (const ir::TensorDecl &s : cell.states) {
      int64_t n = interp::elementCount(s.type, dims);
      one.initStates[s.name] = Buffer(all.initStates[s.name].begin() + b * n,
                                      all.initStates[s.name].begin() + (b + 1) * n);
    }
    interp::ForwardResult alone = interp::forward(cell, one);
    for (const ir::TensorDecl &o : cell.outputs) {
      int64_t n = interp::elementCount(o.type, dims);
      for (int64_t t = 0; t < T; ++t)
        for (int64_t i = 0; i < n; ++i)
          EXPECT_EQ(alone.outputs.at(o.name)[t * n + i],
                    together.outputs.at(o.name)[(t * B + b) * n + i])
              << "sample " << b << " step " << t;
    }
    for (const ir::TensorDecl &s : cell.states) {
      int64_t n = interp::elementCount(s.type, dims);
      for (int64_t i = 0; i < n; ++i)
        EXPECT_EQ(alone.finalStates.at(s.name)[i], together.finalStates.at(s.name)[b * n + i]);
    }
  }
  // The samples do differ, so the comparison above means something.
  const Buffer &h = together.outputs.at("h");
  EXPECT_NE(h[0], h[3]);
}

} // namespace
