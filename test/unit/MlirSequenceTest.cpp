// cellrt/MlirSequence.h without MLIR: a hand-written "sequence function" behind the same
// trampoline signature shows what the runtime binds (shape values, contiguous descriptors,
// fills for omitted states, the reserve), where it copies results, and what it frees.
#include "cellrt/MlirSequence.h"

#include <gtest/gtest.h>

#include <cmath>

namespace {

using cellrt::Extent;
using cellrt::SizeExpr;
using namespace cellrt::mlir;

/// [H] as a size: shape[2].
constexpr SizeExpr kH = {0, 1, {{2, 1}}};

// A fake forward: y[t][b][i] = x[t][b][i] + h0[b][i]; h.final = the argument h0 itself (a
// result aliasing an argument must not be freed); a saved value: x again, in a fresh buffer.
const Operand kArgs[] = {
    {"T", Binding::Shape, 0, Extent::Whole, 0, {}, false, 0.0f, false},
    {"B", Binding::Shape, 1, Extent::Whole, 0, {}, false, 0.0f, false},
    {"input x", Binding::In, 0, Extent::Sequence, 1, {kH}, false, 0.0f, false},
    {"initial state h", Binding::In, 1, Extent::Batch, 1, {kH}, true, 0.5f, false},
    {"param a", Binding::In, 2, Extent::Whole, 0, {}, false, 0.0f, true},
};
const Operand kResults[] = {
    {"output y", Binding::Out, 0, Extent::Sequence, 1, {kH}, false, 0.0f, false},
    {"final state h", Binding::Out, 1, Extent::Batch, 1, {kH}, false, 0.0f, false},
    {"saved value 0", Binding::Reserve, 0, Extent::Sequence, 1, {kH}, false, 0.0f, false},
};

float *g_lastAllocation = nullptr;

template <int R> struct Desc {
  float *allocated, *aligned;
  int64_t offset, sizes[R], strides[R];
};

Desc<3> fresh3(int64_t T, int64_t B, int64_t H) {
  g_lastAllocation = static_cast<float *>(std::malloc(sizeof(float) * size_t(T * B * H)));
  return {g_lastAllocation, g_lastAllocation, 0, {T, B, H}, {B * H, H, 1}};
}

void fakeForward(void *results, const Value *a) {
  const int64_t T = a[0].index, B = a[1].index;
  const auto *x = static_cast<const Desc<3> *>(a[2].memref);
  const auto *h = static_cast<const Desc<2> *>(a[3].memref);
  const int64_t H = x->sizes[2];
  struct {
    Desc<3> y;
    Desc<2> hFinal;
    Desc<3> saved;
  } r{fresh3(T, B, H), *h, fresh3(T, B, H)};
  for (int64_t i = 0; i < T * B * H; ++i) {
    r.y.aligned[i] = x->aligned[i] + h->aligned[i % (B * H)] * a[4].f32;
    r.saved.aligned[i] = x->aligned[i];
  }
  std::memcpy(results, &r, sizeof r);
}

const Module kModule = {"fake", 3, {"forward", kArgs, 5, kResults, 3, fakeForward}, {}, &kH, 1};

TEST(MlirSequenceTest, BindsCopiesAndFillsOmittedStates) {
  const int64_t shape[] = {2, 3, 4}, n = 2 * 3 * 4;
  std::vector<float> x(n), y(n, -1), hFinal(12, -1), reserve(n, -1);
  for (int64_t i = 0; i < n; ++i)
    x[size_t(i)] = float(i);
  const float a = 2;
  const float *in[] = {x.data(), nullptr, &a};
  float *out[] = {y.data(), hFinal.data()};
  int64_t bytes = -1;
  ASSERT_EQ(library::size(kModule, shape, &bytes, true), cellrt::kOk);
  EXPECT_EQ(bytes, n * 4);
  ASSERT_EQ(library::forward(kModule, shape, in, out, reserve.data(), bytes), cellrt::kOk);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(y[size_t(i)], float(i) + 0.5f * 2) << i; // the omitted state is 0.5 everywhere
    EXPECT_EQ(reserve[size_t(i)], float(i)) << i;
  }
  for (float v : hFinal)
    EXPECT_EQ(v, 0.5f); // a result that is an argument (the fill) is copied, not freed
}

TEST(MlirSequenceTest, InferenceDropsTheSavedValues) {
  const int64_t shape[] = {1, 1, 3};
  std::vector<float> x = {1, 2, 3}, h = {0, 0, 0}, y(3), hFinal(3);
  const float a = 1;
  const float *in[] = {x.data(), h.data(), &a};
  float *out[] = {y.data(), hFinal.data()};
  ASSERT_EQ(library::forward(kModule, shape, in, out, nullptr, 0), cellrt::kOk);
  EXPECT_EQ(y, x);
  EXPECT_EQ(hFinal, h);
}

TEST(MlirSequenceTest, ChecksBeforeTheModuleRuns) {
  const int64_t shape[] = {2, 3, 4}, zero[] = {2, 0, 4};
  std::vector<float> x(24), y(24), hFinal(12), reserve(24);
  const float a = 1;
  const float *in[] = {x.data(), nullptr, &a};
  float *out[] = {y.data(), hFinal.data()};
  g_lastAllocation = nullptr;
  EXPECT_EQ(library::forward(kModule, zero, in, out, nullptr, 0), cellrt::kBadShape);
  EXPECT_EQ(library::forward(kModule, nullptr, in, out, nullptr, 0), cellrt::kNullPointer);
  EXPECT_EQ(library::forward(kModule, shape, in, out, reserve.data(), 8), cellrt::kReserveTooSmall);
  EXPECT_EQ(cellrt::lastError(), "fake_forward: reserve has 8 bytes, needs 96");
  const float *noX[] = {nullptr, nullptr, &a};
  EXPECT_EQ(library::forward(kModule, shape, noX, out, nullptr, 0), cellrt::kNullPointer);
  EXPECT_EQ(cellrt::lastError(), "fake_forward: input x is NULL");
  float *noY[] = {nullptr, hFinal.data()};
  EXPECT_EQ(library::forward(kModule, shape, in, noY, nullptr, 0), cellrt::kNullPointer);
  EXPECT_EQ(cellrt::lastError(), "fake_forward: output y is NULL");
  EXPECT_EQ(g_lastAllocation, nullptr); // the module never ran
  const int64_t huge[] = {int64_t(1) << 40, int64_t(1) << 40, 4};
  EXPECT_EQ(library::forward(kModule, huge, in, out, nullptr, 0), cellrt::kOverflow);
}

TEST(MlirSequenceTest, StacksOfOneLayerOnly) {
  int64_t bytes = 0;
  const int64_t shape[] = {2, 3, 4};
  EXPECT_EQ(library::stackSize(kModule, shape, 1, 1, &bytes, true), cellrt::kOk);
  EXPECT_EQ(bytes, 96);
  EXPECT_EQ(library::stackSize(kModule, shape, 2, 1, &bytes, true), cellrt::kBadShape);
  EXPECT_NE(cellrt::lastError().find("runs one layer in one direction"), std::string::npos);
  EXPECT_FALSE(library::plainStack(1, 2, nullptr, 0));
  EXPECT_FALSE(library::plainStack(1, 1, shape, 0));
  EXPECT_FALSE(library::plainStack(1, 1, nullptr, 0.5));
}

TEST(MlirSequenceTest, PackedHeaderOfMoreDimsThanItHoldsIsRefused) {
  // A cell with 31 free dims: the header holds 30, so no forward_packed call may read a 31st
  // value past it, whatever `dims` a (corrupted) header claims.
  Module wide = kModule;
  wide.shapeRank = 2 + 31;
  std::vector<int64_t> shape(33, 1);
  cellrt::PackHeader h{cellrt::PackHeader::kMagic, 100, {}};
  for (int64_t &v : h.value)
    v = 1; // the first 30 dims match the call's
  std::vector<char> packed(sizeof h);
  std::memcpy(packed.data(), &h, sizeof h);
  std::vector<float> x(1), y(1), hFinal(1);
  const float a = 1;
  const float *in[] = {x.data(), nullptr, &a};
  float *out[] = {y.data(), hFinal.data()};
  EXPECT_EQ(library::forwardPacked(wide, shape.data(), in, out, packed.data(),
                                   int64_t(packed.size()), nullptr, 0),
            cellrt::kBadShape);
  EXPECT_EQ(library::packParams(wide, shape.data(), in, packed.data(), int64_t(packed.size())),
            cellrt::kBadShape);
}

TEST(MlirSequenceTest, MemrefCopyFollowsStrides) {
  // A 2x3 source transposed into a 3x2 destination through strides.
  float src[6] = {0, 1, 2, 3, 4, 5}, dst[6] = {};
  Desc<2> s{src, src, 0, {2, 3}, {3, 1}}, d{dst, dst, 0, {2, 3}, {1, 2}};
  UnrankedMemref us{2, &s}, ud{2, &d};
  memrefCopy(sizeof(float), &us, &ud);
  const float want[6] = {0, 3, 1, 4, 2, 5};
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(dst[i], want[i]) << i;
}

} // namespace
