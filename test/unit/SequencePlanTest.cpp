// The sequence plan as data: the LSTM's buffers, programs and layouts, the backend's packing
// rewrite, and the signature's text form.
#include "TestUtil.h"

#include "compiler/abi/Signature.h"
#include "compiler/backend/halide/GemmPacking.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/plan/Planner.h"
#include "compiler/plan/RuntimePlan.h"
#include "compiler/transforms/Autodiff.h"
#include "runtime/cellrt/Executor.h"

#include <gtest/gtest.h>

namespace cellc {
namespace {

const char *kLstm = R"(cell lstm
dim I, H
input x[I]
state h[H], c[H]
param W_ih[4*H, I], W_hh[4*H, H], b_ih[4*H], b_hh[4*H]
let i, f, g, o = split(W_ih @ x + b_ih + W_hh @ h + b_hh, 4)
c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
h' = sigmoid(o) * tanh(c')
output h'
)";

struct LstmPlan {
  test::Compiled c = test::compileText(kLstm);
  ir::Gradient grad = ir::differentiate(c.cell());
  plan::Plan plan = plan::makePlan(c.cell(), grad);
};

std::vector<cellrt::StepKind> kinds(const plan::Program &p) {
  std::vector<cellrt::StepKind> k;
  for (const cellrt::Step &s : p.steps)
    k.push_back(s.kind);
  return k;
}

TEST(SequencePlan, LstmProgramsLoopForwardThenReverse) {
  LstmPlan l;
  ASSERT_TRUE(l.c.ok());
  using K = cellrt::StepKind;
  EXPECT_EQ(kinds(l.plan.inference), (std::vector<K>{K::InitState, K::InitState, K::RunKernel,
                                                     K::Loop, K::FinalState, K::FinalState}));
  EXPECT_EQ(kinds(l.plan.backward), (std::vector<K>{K::InitState, K::InitState, K::Loop,
                                                    K::FinalState, K::FinalState, K::RunKernel}));
  const cellrt::Step &fwdLoop = l.plan.inference.steps[3], &bwdLoop = l.plan.backward.steps[2];
  EXPECT_EQ(l.plan.kernels[fwdLoop.kernel].name, "forward_step");
  EXPECT_EQ(fwdLoop.direction, cellrt::Direction::Forward);
  EXPECT_EQ(l.plan.kernels[bwdLoop.kernel].name, "backward_step");
  EXPECT_EQ(bwdLoop.direction, cellrt::Direction::Reverse);
  EXPECT_EQ(l.plan.forwardIn, 7); // x, h_init, c_init, 4 params
  EXPECT_EQ(l.plan.forwardOut, 3);
  EXPECT_EQ(l.plan.backwardIn, 8); // x, 4 params, grad_h, grad_h_final, grad_c_final
  EXPECT_EQ(l.plan.backwardOut, 7);
}

TEST(SequencePlan, LstmLayoutFromShape) {
  LstmPlan l;
  plan::RuntimePlan tables(l.plan);
  const int64_t T = 3, B = 2, I = 4, H = 5, shape[] = {T, B, I, H};
  cellrt::Layout L;
  ASSERT_EQ(cellrt::makeLayout(tables.tables(), shape, L), cellrt::kOk);
  // Workspace: the frontiers W_ih x (+ biases) and its gradient, [4H] each per sample, and
  // two copies of each state and each carry, [B][H].
  EXPECT_EQ(L.workspace, 2 * 4 * H * T * B + 2 * 2 * 2 * B * H);
  // Reserve: seven [H] values per sample (the plan's saved set).
  EXPECT_EQ(L.reserve, 7 * H * T * B);
  // Workspace and reserve slots do not overlap.
  std::vector<std::pair<int64_t, int64_t>> ws;
  for (size_t b = 0; b < l.plan.buffers.size(); ++b)
    if (l.plan.buffers[b].storage == cellrt::Storage::Workspace)
      ws.push_back({L.offset[b], L.offset[b] + L.elems[b] * (l.plan.buffers[b].pingPong ? 2 : 1)});
  std::sort(ws.begin(), ws.end());
  for (size_t i = 1; i < ws.size(); ++i)
    EXPECT_LE(ws[i - 1].second, ws[i].first);
  EXPECT_EQ(ws.back().second, L.workspace);
}

TEST(SequencePlan, ShapeErrors) {
  LstmPlan l;
  plan::RuntimePlan tables(l.plan);
  cellrt::Layout L;
  const int64_t zero[] = {3, 0, 4, 5}, huge[] = {int64_t(1) << 40, int64_t(1) << 40, 4, 5};
  EXPECT_EQ(cellrt::makeLayout(tables.tables(), nullptr, L), cellrt::kNullPointer);
  EXPECT_EQ(cellrt::makeLayout(tables.tables(), zero, L), cellrt::kBadShape);
  EXPECT_EQ(cellrt::makeLayout(tables.tables(), huge, L), cellrt::kOverflow);
}

TEST(SequencePlan, PackingIsTheBackendsRewrite) {
  LstmPlan l;
  plan::Plan packed = l.plan;
  backend::packGemmOperands(packed, 64);
  // Forward packs W_ih and W_hh for W @ v; backward packs them for W^T @ v.
  int packs = 0;
  for (const cellrt::Step &s : packed.inference.steps)
    packs += s.kind == cellrt::StepKind::Pack;
  EXPECT_EQ(packs, 2);
  for (const plan::Kernel &k : packed.kernels)
    for (const plan::Arg &a : k.inputs) {
      if (a.use != plan::Use::Values) {
        EXPECT_EQ(a.binding.view, cellrt::ViewKind::Packed) << k.name << " " << a.name;
      }
    }
  plan::RuntimePlan tables(packed);
  const int64_t shape[] = {3, 2, 4, 5};
  cellrt::Layout L, plain;
  plan::RuntimePlan plainTables(l.plan);
  ASSERT_EQ(cellrt::makeLayout(tables.tables(), shape, L), cellrt::kOk);
  ASSERT_EQ(cellrt::makeLayout(plainTables.tables(), shape, plain), cellrt::kOk);
  // W_ih: [I][64] and [4H][pad I]; W_hh: [H][64] and [4H][pad H].
  EXPECT_EQ(L.workspace - plain.workspace, 4 * 64 + 20 * 64 + 5 * 64 + 20 * 64);
}

TEST(Signature, RoundTripsThroughText) {
  LstmPlan l;
  abi::Signature s = abi::signatureOf(l.c.cell());
  std::string error;
  std::optional<abi::Signature> back = abi::parse(abi::serialize(s), error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(abi::serialize(*back), abi::serialize(s));
  const abi::Row *r = back->find(abi::Call::Backward, abi::Role::FinalStateGrad, "c");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->names.field, "grad_c_final");
  EXPECT_EQ(r->names.file, "grad_c.final.npy");
  EXPECT_TRUE(r->optional);
  EXPECT_EQ(back->find(abi::Call::Forward, abi::Role::Param, "W_ih")->shape[0],
            *Size::symbol("H").scaled(4));
  EXPECT_FALSE(
      abi::parse("cellc-signature 1\ncell x\nforward read 0 input x sequence 0 0 4*", error));
  EXPECT_FALSE(abi::parse("garbage", error));
}

} // namespace
} // namespace cellc
