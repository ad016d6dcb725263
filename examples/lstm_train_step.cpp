// Uses a cell library compiled by cellc from examples/lstm.cell (see examples/CMakeLists.txt:
// cellc_add_cell_library). Runs one training step on random data: forward keeping the
// reserve, backward from the gradient of sum(h), a plain SGD update; then checks one weight
// gradient against a finite difference of the loss, and prints what it did.
#include "lstm.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

struct Sizes {
  int64_t T = 12, B = 4, I = 16, H = 32;
};

std::vector<float> random(size_t n, float scale, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = u(rng);
  return v;
}

int check(int rc, const char *what) {
  if (rc != 0)
    std::fprintf(stderr, "%s failed (%d): %s\n", what, rc, lstm_error_message());
  return rc;
}

/// loss = sum of every output h over the sequence, by an inference forward.
double loss(const lstm_shape &s, lstm_forward_args a, std::vector<float> &ws) {
  std::vector<float> h(s.T * s.B * s.H), hf(s.B * s.H), cf(s.B * s.H);
  a.h = h.data();
  a.h_final = hf.data();
  a.c_final = cf.data();
  if (check(lstm_forward(&s, &a, ws.data(), int64_t(ws.size() * 4), nullptr, 0), "forward"))
    return NAN;
  double sum = 0;
  for (float v : h)
    sum += v;
  return sum;
}

} // namespace

int main() {
  Sizes z;
  lstm_shape s = {z.T, z.B, z.I, z.H};
  std::mt19937 rng(42);
  float k = 1.0f / std::sqrt(float(z.H));
  std::vector<float> x = random(z.T * z.B * z.I, 1, rng);
  std::vector<float> W_ih = random(4 * z.H * z.I, k, rng), W_hh = random(4 * z.H * z.H, k, rng);
  std::vector<float> b_ih = random(4 * z.H, k, rng), b_hh = random(4 * z.H, k, rng);

  int64_t wsBytes = 0, rsBytes = 0;
  if (check(lstm_workspace_size(&s, &wsBytes), "workspace_size") ||
      check(lstm_reserve_size(&s, &rsBytes), "reserve_size"))
    return 1;
  std::vector<float> ws(wsBytes / 4 + 1), rs(rsBytes / 4 + 1);

  std::vector<float> h(z.T * z.B * z.H), hf(z.B * z.H), cf(z.B * z.H);
  lstm_forward_args fa = {x.data(),    nullptr,     nullptr, W_ih.data(), W_hh.data(),
                          b_ih.data(), b_hh.data(), h.data(), hf.data(),  cf.data()};
  if (check(lstm_forward(&s, &fa, ws.data(), wsBytes, rs.data(), rsBytes), "forward"))
    return 1;

  std::vector<float> gh(h.size(), 1.0f); // d sum(h) / d h
  std::vector<float> gx(x.size()), gh0(z.B * z.H), gc0(z.B * z.H);
  std::vector<float> gW_ih(W_ih.size()), gW_hh(W_hh.size()), gb_ih(b_ih.size()),
      gb_hh(b_hh.size());
  lstm_backward_args ba = {x.data(),     W_ih.data(),  W_hh.data(),  b_ih.data(),  b_hh.data(),
                           gh.data(),    nullptr,      nullptr,      gx.data(),    gh0.data(),
                           gc0.data(),   gW_ih.data(), gW_hh.data(), gb_ih.data(), gb_hh.data()};
  if (check(lstm_backward(&s, &ba, ws.data(), wsBytes, rs.data(), rsBytes), "backward"))
    return 1;

  // Finite difference of the loss in one recurrent weight, in float32: a loose check.
  const size_t probe = 5 * z.H + 3;
  const float eps = 1e-2f, saved = W_hh[probe];
  W_hh[probe] = saved + eps;
  double up = loss(s, fa, ws);
  W_hh[probe] = saved - eps;
  double down = loss(s, fa, ws);
  W_hh[probe] = saved;
  double fd = (up - down) / (2 * eps), ad = gW_hh[probe];
  bool agrees = std::fabs(fd - ad) <= 1e-2 * std::max(1.0, std::fabs(ad));

  double before = loss(s, fa, ws);
  const float lr = 0.01f; // one SGD step that lowers sum(h)
  for (size_t i = 0; i < W_hh.size(); ++i)
    W_hh[i] -= lr * gW_hh[i];
  for (size_t i = 0; i < W_ih.size(); ++i)
    W_ih[i] -= lr * gW_ih[i];
  double after = loss(s, fa, ws);

  std::printf("lstm T=%ld B=%ld I=%ld H=%ld: workspace %ld bytes, reserve %ld bytes\n",
              long(z.T), long(z.B), long(z.I), long(z.H), long(wsBytes), long(rsBytes));
  std::printf("d loss / d W_hh[%zu]: backward %.5f, finite difference %.5f (%s)\n", probe, ad, fd,
              agrees ? "agree" : "DISAGREE");
  std::printf("one SGD step on sum(h): %.5f -> %.5f (%s)\n", before, after,
              after < before ? "decreased" : "DID NOT DECREASE");
  return agrees && after < before ? 0 : 1;
}
