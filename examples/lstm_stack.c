/* A 2-layer bidirectional LSTM over a ragged batch, from C, through the stack call of a library
 * compiled by cellc from examples/lstm.cell (lstm_stack_forward_v / lstm_stack_backward_v, see
 * lstm.h). The pointer arrays are the one-layer call's with every param repeated per layer and
 * direction (W_ih_l0, W_ih_l0_reverse, W_ih_l1, W_ih_l1_reverse, then W_hh_..., ...); states are
 * [layers * 2][B][H], the output [T][B][2 * H]. It runs a training forward with dropout and the
 * backward, and checks what a user relies on:
 *  - outputs past a sample's length are 0;
 *  - a ragged sample gives what a call on that sample alone, cut to its length, gives;
 *  - one layer, one direction, no lengths is the one-layer call (lstm_forward_v). */
#include "lstm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { T = 6, B = 3, I = 4, H = 5, L = 2, D = 2 };

static float *filled(size_t n, unsigned *seed) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; i < n; ++i)
    v[i] = (float)rand_r(seed) / RAND_MAX - 0.5f;
  return v;
}

static int check(int rc, const char *what) {
  if (rc)
    fprintf(stderr, "%s failed (%d): %s\n", what, rc, lstm_error_message());
  return rc;
}

/* Scratch of the given sizes (freed by the caller). */
static void *scratch(int64_t bytes) { return calloc((size_t)bytes + 4, 1); }

int main(void) {
  unsigned seed = 7;
  const int64_t lengths[B] = {6, 2, 4};
  const int64_t shape[4] = {T, B, I, H}; /* T, B, then the dims in declaration order */
  float *x = filled(T * B * I, &seed);
  /* Params of layer l, direction d: W_ih reads I values in layer 0, 2 * H after. */
  float *W_ih[L * D], *W_hh[L * D], *b_ih[L * D], *b_hh[L * D];
  for (int k = 0; k < L * D; ++k) {
    W_ih[k] = filled(4 * H * (k < D ? I : D * H), &seed);
    W_hh[k] = filled(4 * H * H, &seed);
    b_ih[k] = filled(4 * H, &seed);
    b_hh[k] = filled(4 * H, &seed);
  }
  const float *in[3 + 4 * L * D] = {x, NULL, NULL}; /* no initial states: zeros */
  for (int k = 0; k < L * D; ++k) {
    in[3 + k] = W_ih[k];
    in[3 + L * D + k] = W_hh[k];
    in[3 + 2 * L * D + k] = b_ih[k];
    in[3 + 3 * L * D + k] = b_hh[k];
  }
  float *h = filled(T * B * D * H, &seed), *hf = filled(L * D * B * H, &seed);
  float *cf = filled(L * D * B * H, &seed);
  float *out[3] = {h, hf, cf};

  int64_t wsBytes, rsBytes;
  if (check(lstm_stack_workspace_size_v(shape, L, D, &wsBytes), "workspace size") ||
      check(lstm_stack_reserve_size_v(shape, L, D, &rsBytes), "reserve size"))
    return 1;
  void *ws = scratch(wsBytes), *rs = scratch(rsBytes);
  if (check(lstm_stack_forward_v(shape, L, D, lengths, 0.2, 42, in, out, ws, wsBytes, rs, rsBytes),
            "stack forward"))
    return 1;

  /* Backward of sum(h): inputs x and the params; out dx, d initial states, param gradients. */
  float *gh = malloc(T * B * D * H * sizeof *gh);
  for (int i = 0; i < T * B * D * H; ++i)
    gh[i] = 1;
  const float *bin[2 + 4 * L * D + 2];
  bin[0] = x;
  for (int i = 0; i < 4 * L * D; ++i)
    bin[1 + i] = in[3 + i];
  bin[1 + 4 * L * D] = gh;
  bin[2 + 4 * L * D] = bin[3 + 4 * L * D] = NULL; /* no gradient of the final states */
  float *bout[3 + 4 * L * D];
  bout[0] = calloc(T * B * I, sizeof(float));
  bout[1] = calloc(L * D * B * H, sizeof(float));
  bout[2] = calloc(L * D * B * H, sizeof(float));
  for (int i = 0; i < 4 * L * D; ++i)
    bout[3 + i] = calloc(4 * H * 2 * H, sizeof(float));
  if (check(
          lstm_stack_backward_v(shape, L, D, lengths, 0.2, 42, bin, bout, ws, wsBytes, rs, rsBytes),
          "stack backward"))
    return 1;

  double past = 0, grad = 0;
  for (int t = 0; t < T; ++t)
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < D * H; ++i)
        if (t >= lengths[b])
          past = fmax(past, fabs(h[(t * B + b) * D * H + i]));
  for (int i = 0; i < 4 * H * I; ++i)
    grad = fmax(grad, fabs(bout[3][i]));

  /* One layer, one direction: sample 1 (length 2) alone, cut to 2 steps, through the one-layer
   * call, against the ragged stack call. And no lengths against the one-layer call. */
  const float *in1[7] = {x, NULL, NULL, W_ih[0], W_hh[0], b_ih[0], b_hh[0]};
  float *y1 = calloc(T * B * H, sizeof(float)), *f1 = calloc(B * H, sizeof(float));
  float *g1 = calloc(B * H, sizeof(float));
  float *o1[3] = {y1, f1, g1};
  if (check(lstm_stack_forward_v(shape, 1, 1, lengths, 0, 0, in1, o1, ws, wsBytes, NULL, 0),
            "ragged one-layer forward"))
    return 1;
  const int64_t alone[4] = {2, 1, I, H};
  float xs[2 * I], ys[2 * H], hs[H], cs[H];
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < I; ++i)
      xs[t * I + i] = x[(t * B + 1) * I + i];
  const float *ina[7] = {xs, NULL, NULL, W_ih[0], W_hh[0], b_ih[0], b_hh[0]};
  float *outa[3] = {ys, hs, cs};
  if (check(lstm_forward_v(alone, ina, outa, ws, wsBytes, NULL, 0), "one sample"))
    return 1;
  double ragged = 0;
  for (int i = 0; i < H; ++i)
    ragged = fmax(ragged, fmax(fabs(ys[H + i] - y1[(1 * B + 1) * H + i]), fabs(hs[i] - f1[H + i])));

  float *y2 = calloc(T * B * H, sizeof(float));
  float *o2[3] = {y2, f1, g1};
  if (check(lstm_forward_v(shape, in1, o2, ws, wsBytes, NULL, 0), "one-layer forward") ||
      check(lstm_stack_forward_v(shape, 1, 1, NULL, 0, 0, in1, o1, ws, wsBytes, NULL, 0),
            "padded one-layer forward"))
    return 1;
  double same = 0;
  for (int i = 0; i < T * B * H; ++i)
    same = fmax(same, fabs(y1[i] - y2[i]));

  printf("lstm stack: %d layers, bidirectional, T=%d B=%d I=%d H=%d, lengths 6 2 4, dropout 0.2:"
         " workspace %ld bytes, reserve %ld bytes\n",
         L, T, B, I, H, (long)wsBytes, (long)rsBytes);
  printf("output past the lengths: max |h| %g; max |d sum(h) / d W_ih_l0| %.4f\n", past, grad);
  printf("ragged sample of length 2 vs that sample alone: max difference %g\n", ragged);
  printf("one layer, one direction vs lstm_forward_v: max difference %g\n", same);
  const int ok = past == 0 && grad > 0 && ragged < 1e-6 && same == 0;
  printf("%s\n", ok ? "all checks passed" : "A CHECK FAILED");
  return ok ? 0 : 1;
}
