// cellrt::packPadded, the weight packing of every compiled library's GEMMs: the panel layout, tiled
// transpose and copy against the definition, at sizes that are not multiples of its tile or of
// the padding.
#include "runtime/cellrt/HalideKernels.h"

#include <gtest/gtest.h>

namespace {

/// A(i, k) at [i / P][k][i % P] (panels of P = `padding` rows), rows past M zero; A = W
/// (transposed) or W^T.
std::vector<float> packedByDefinition(const std::vector<float> &W, int64_t rows, int64_t cols,
                                      bool transposed, int64_t P) {
  const int64_t M = transposed ? rows : cols, K = transposed ? cols : rows;
  std::vector<float> out(size_t(K * cellrt::paddedTo(M, P)), 0.0f);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t i = 0; i < M; ++i)
      out[size_t(i / P * K * P + k * P + i % P)] =
          transposed ? W[size_t(i * cols + k)] : W[size_t(k * cols + i)];
  return out;
}

TEST(Pack, MatchesTheDefinitionAtOddSizes) {
  for (int64_t rows : {1, 3, 31, 32, 33, 70})
    for (int64_t cols : {1, 5, 32, 65})
      for (bool transposed : {true, false})
        for (int64_t padding : {1, 16, 64}) {
          std::vector<float> W(size_t(rows * cols));
          for (size_t e = 0; e < W.size(); ++e)
            W[e] = float(e) + 0.5f;
          std::vector<float> expected = packedByDefinition(W, rows, cols, transposed, padding);
          std::vector<float> got(expected.size(), -1.0f); // padding must be overwritten with 0
          cellrt::packPadded(W.data(), rows, cols, transposed, padding, got.data());
          EXPECT_EQ(got, expected)
              << rows << "x" << cols << " transposed " << transposed << " padding " << padding;
        }
}

} // namespace
