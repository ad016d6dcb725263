// The stack call (cellrt/Stack.h) on the reference interpreter: its port table, its checks
// (every bad configuration, pointer and size is an error code with a message, nothing is
// written) and its layouts. Its numbers are checked against PyTorch in test/lit/numeric.
#include "TestUtil.h"

#include "compiler/abi/Signature.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/transforms/Autodiff.h"

#include <gtest/gtest.h>

namespace cellc {
namespace {

const char *kRnn = R"(cell rnn
dim I, H
input x[I]
state h[H]
param W[H, I], U[H, H]
h' = tanh(W @ x + U @ h)
output h'
)";

const char *kTwoInputs = R"(cell mix
dim I, J, H
input x[I], y[J]
state h[H]
param W[H, I], U[H, J], V[H, H]
h' = tanh(W @ x + U @ y + V @ h)
output h'
)";

/// A cell on the interpreter with a stack call's memory: T = 3, B = 2, I = 4, H = 5.
struct StackCall {
  test::Compiled c;
  ir::Gradient grad;
  interp::SequenceInterpreter si;
  std::vector<int64_t> shape = {3, 2, 4, 5};
  std::vector<double> x = std::vector<double>(3 * 2 * 4, 0.5), h, hf, ws, rs;
  std::vector<std::vector<double>> params;

  explicit StackCall(const char *text)
      : c(test::compileText(text)), grad(ir::differentiate(c.cell())), si(c.cell(), grad) {}

  /// x, h_init (null), then W and U for each of `copies` layers and directions.
  int forward(const cellrt::StackConfig &cfg, bool sized = true) {
    int64_t copies = cfg.layers * cfg.directions, wsBytes = 0, rsBytes = 0;
    if (int rc = si.stackSize(shape.data(), cfg, &wsBytes, false))
      return rc;
    if (int rc = si.stackSize(shape.data(), cfg, &rsBytes, true))
      return rc;
    ws.assign(size_t(wsBytes / 8) + 1, 0), rs.assign(size_t(rsBytes / 8) + 1, 0);
    params.clear();
    std::vector<const double *> in = {x.data(), nullptr};
    for (int p = 0; p < 2; ++p)
      for (int64_t k = 0; k < copies; ++k) {
        int64_t cols = p == 0 ? (k < cfg.directions ? 4 : 5 * cfg.directions) : 5;
        params.emplace_back(size_t(5 * cols), 0.1);
      }
    for (auto &p : params)
      in.push_back(p.data());
    h.assign(size_t(3 * 2 * 5 * cfg.directions), -1), hf.assign(size_t(copies * 2 * 5), -1);
    std::vector<double *> out = {h.data(), hf.data()};
    return si.stackForward(shape.data(), cfg, in.data(), out.data(), ws.data(),
                           sized ? wsBytes : wsBytes - 8, rs.data(), rsBytes);
  }
};

TEST(Stack, PortsListEveryPositionOfBothCalls) {
  StackCall s(kRnn);
  const cellrt::SequencePlan &p = s.si.tables();
  ASSERT_EQ(p.portCount, p.forwardIn + p.forwardOut + p.backwardIn + p.backwardOut);
  const cellrt::PortDecl &x = p.ports[0], &W = p.ports[2];
  EXPECT_STREQ(x.tensor, "x");
  EXPECT_EQ(x.kind, cellrt::PortKind::Input);
  EXPECT_EQ(x.len.terms, 1); // I per sample
  EXPECT_EQ(x.len.term[0].index, 2);
  EXPECT_STREQ(W.tensor, "W");
  EXPECT_EQ(W.kind, cellrt::PortKind::Param);
}

TEST(Stack, RunsAndZeroesPastLengths) {
  StackCall s(kRnn);
  const int64_t lengths[2] = {1, 3};
  ASSERT_EQ(s.forward({2, 2, lengths, 0, 0}), cellrt::kOk) << cellrt::lastError();
  for (int t = 1; t < 3; ++t) // sample 0 ends after step 0
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(s.h[size_t((t * 2 + 0) * 10 + i)], 0.0);
  EXPECT_NE(s.h[size_t((2 * 2 + 1) * 10)], 0.0);
}

TEST(Stack, RejectsBadConfigurations) {
  StackCall s(kRnn);
  const int64_t tooLong[2] = {1, 4}, zero[2] = {0, 3};
  struct Case {
    cellrt::StackConfig cfg;
    int code;
    const char *message;
  } cases[] = {
      {{0, 1, nullptr, 0, 0}, cellrt::kBadShape, "layers must be in 1..1024, got 0"},
      {{1, 3, nullptr, 0, 0}, cellrt::kBadShape, "directions must be 1 or 2, got 3"},
      {{2, 1, nullptr, 1.0, 0}, cellrt::kBadShape, "dropout must be in [0, 1)"},
      {{1, 1, tooLong, 0, 0}, cellrt::kBadShape, "lengths[1] is 4; every length must be in 1..T"},
      {{1, 1, zero, 0, 0}, cellrt::kBadShape, "lengths[0] is 0"},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(s.forward(c.cfg), c.code) << c.message;
    EXPECT_NE(cellrt::lastError().find(c.message), std::string::npos) << cellrt::lastError();
  }
}

TEST(Stack, RejectsSmallWorkspaceAndMissingPointers) {
  StackCall s(kRnn);
  EXPECT_EQ(s.forward({2, 2, nullptr, 0, 0}, false), cellrt::kWorkspaceTooSmall);
  EXPECT_NE(cellrt::lastError().find("rnn_stack_forward: workspace has"), std::string::npos);
  // A missing param of layer 1, reverse: named as PyTorch names it.
  int64_t ws = 0;
  cellrt::StackConfig cfg{2, 2, nullptr, 0, 0};
  ASSERT_EQ(s.si.stackSize(s.shape.data(), cfg, &ws, false), cellrt::kOk);
  std::vector<double> scratch(size_t(ws / 8) + 1), p(100, 0.1), h(60), hf(40);
  std::vector<const double *> in = {s.x.data(), nullptr};
  for (int k = 0; k < 8; ++k)
    in.push_back(k == 3 ? nullptr : p.data());
  std::vector<double *> out = {h.data(), hf.data()};
  EXPECT_EQ(s.si.stackForward(s.shape.data(), cfg, in.data(), out.data(), scratch.data(), ws,
                              nullptr, 0),
            cellrt::kNullPointer);
  EXPECT_NE(cellrt::lastError().find("W_l1_reverse (in[5]) is NULL"), std::string::npos)
      << cellrt::lastError();
  EXPECT_EQ(s.si.stackSize(nullptr, cfg, &ws, false), cellrt::kNullPointer);
  EXPECT_EQ(s.si.stackSize(s.shape.data(), cfg, nullptr, true), cellrt::kNullPointer);
}

TEST(Stack, LayersNeedOneInput) {
  StackCall s(kTwoInputs);
  std::vector<int64_t> shape = {3, 2, 4, 4, 5};
  int64_t bytes = 0;
  EXPECT_EQ(s.si.stackSize(shape.data(), {2, 1, nullptr, 0, 0}, &bytes, false),
            cellrt::kBadShape);
  EXPECT_NE(cellrt::lastError().find("a stack of layers needs a cell with one input"),
            std::string::npos);
  // One layer in both directions is fine: each input is reversed.
  EXPECT_EQ(s.si.stackSize(shape.data(), {1, 2, nullptr, 0, 0}, &bytes, false), cellrt::kOk);
}

TEST(Stack, SignatureNamesLayersAsPyTorch) {
  StackCall s(kRnn);
  std::string error;
  std::optional<abi::Signature> sig = abi::stacked(s.c.compiler->signature(), 2, 2, error);
  ASSERT_TRUE(sig) << error;
  std::vector<std::string> files;
  for (const abi::Row *r : sig->select(abi::Call::Forward, false))
    files.push_back(r->names.file + "@" + std::to_string(r->position));
  EXPECT_EQ(files, (std::vector<std::string>{"x.npy@0", "h.init.npy@1", "W_l0.npy@2",
                                             "W_l0_reverse.npy@3", "W_l1.npy@4",
                                             "W_l1_reverse.npy@5", "U_l0.npy@6",
                                             "U_l0_reverse.npy@7", "U_l1.npy@8",
                                             "U_l1_reverse.npy@9"}));
  const abi::Row *W1 = sig->find(abi::Call::Forward, abi::Role::Param, "W_l1");
  ASSERT_TRUE(W1);
  EXPECT_EQ(W1->shape[1].str(), "2*H"); // layer 1 reads both directions of layer 0
  EXPECT_EQ(sig->find(abi::Call::Forward, abi::Role::InitState, "h")->copies, 4);
  EXPECT_EQ(sig->find(abi::Call::Forward, abi::Role::Output, "h")->shape[0].str(), "2*H");
}

} // namespace
} // namespace cellc
