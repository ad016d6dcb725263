/* Misuses the C ABI of a compiled rnn_tanh library; each call must fail with an error code and
 * a message, never crash. Prints one line per case. */
#include "rnn_tanh.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void report(const char *what, int rc) {
  printf("%s: rc=%d msg=%s\n", what, rc, rc ? rnn_tanh_error_message() : "");
}

int main(void) {
  enum { T = 3, B = 2, I = 4, H = 5 };
  static float x[T * B * I], W_ih[H * I], W_hh[H * H], b_ih[H], b_hh[H];
  static float h[T * B * H], hf[B * H], gh[T * B * H], gx[T * B * I], gh0[B * H];
  static float gW_ih[H * I], gW_hh[H * H], gb_ih[H], gb_hh[H];
  rnn_tanh_shape s = {T, B, I, H};
  rnn_tanh_forward_args fa = {x, NULL, W_ih, W_hh, b_ih, b_hh, h, hf};
  rnn_tanh_backward_args ba = {x,  W_ih, W_hh,  b_ih,  b_hh,  gh,   NULL,
                               gx, gh0,  gW_ih, gW_hh, gb_ih, gb_hh};
  int64_t ws = 0, rs = 0;
  report("sizes", rnn_tanh_workspace_size(&s, &ws) | rnn_tanh_reserve_size(&s, &rs));
  float *work = malloc(ws + 64), *reserve = malloc(rs + 64);

  report("null shape", rnn_tanh_forward(NULL, &fa, work, ws, NULL, 0));
  report("null args", rnn_tanh_forward(&s, NULL, work, ws, NULL, 0));
  report("null workspace", rnn_tanh_forward(&s, &fa, NULL, ws, NULL, 0));
  rnn_tanh_forward_args no_weight = fa;
  no_weight.W_hh = NULL;
  report("null param", rnn_tanh_forward(&s, &no_weight, work, ws, NULL, 0));
  rnn_tanh_forward_args no_output = fa;
  no_output.h = NULL;
  report("null output", rnn_tanh_forward(&s, &no_output, work, ws, NULL, 0));
  report("null size result", rnn_tanh_workspace_size(&s, NULL));

  rnn_tanh_shape negative = {-1, B, I, H};
  report("negative T", rnn_tanh_forward(&negative, &fa, work, ws, NULL, 0));
  rnn_tanh_shape zero = {T, B, 0, H};
  report("zero I", rnn_tanh_workspace_size(&zero, &ws));
  rnn_tanh_shape huge = {INT64_C(1) << 40, INT64_C(1) << 40, I, H};
  report("overflowing T*B", rnn_tanh_workspace_size(&huge, &ws));
  rnn_tanh_shape wide = {1, 1, I, INT64_C(1) << 40};
  report("dimension past 32-bit indexing", rnn_tanh_workspace_size(&wide, &ws));

  rnn_tanh_workspace_size(&s, &ws);
  report("workspace too small", rnn_tanh_forward(&s, &fa, work, ws - 4, NULL, 0));
  report("negative workspace size", rnn_tanh_forward(&s, &fa, work, -8, NULL, 0));
  report("reserve too small", rnn_tanh_forward(&s, &fa, work, ws, reserve, rs - 4));
  report("backward without reserve", rnn_tanh_backward(&s, &ba, work, ws, NULL, 0));
  report("backward reserve too small", rnn_tanh_backward(&s, &ba, work, ws, reserve, rs - 4));
  rnn_tanh_backward_args no_grad = ba;
  no_grad.grad_h = NULL;
  report("backward null output gradient", rnn_tanh_backward(&s, &no_grad, work, ws, reserve, rs));

  report("training forward", rnn_tanh_forward(&s, &fa, work, ws, reserve, rs));
  report("backward", rnn_tanh_backward(&s, &ba, work, ws, reserve, rs));

  /* Packed params: made for some dims, used only with those, never read past their size. */
  int64_t ps = 0;
  report("packed size", rnn_tanh_packed_params_size(&s, &ps));
  char *packed = malloc(ps + 64);
  report("pack null params", rnn_tanh_pack_params(&s, &no_weight, packed, ps));
  report("pack too small", rnn_tanh_pack_params(&s, &fa, packed, ps - 4));
  report("pack", rnn_tanh_pack_params(&s, &fa, packed, ps));
  report("forward packed null", rnn_tanh_forward_packed(&s, &fa, NULL, ps, work, ws, NULL, 0));
  report("forward packed too small",
         rnn_tanh_forward_packed(&s, &fa, packed, ps - 4, work, ws, NULL, 0));
  rnn_tanh_shape other = {T, B, I, H - 1};
  report("forward packed other dims",
         rnn_tanh_forward_packed(&other, &fa, packed, ps, work, ws, NULL, 0));
  char garbage[512] = {0};
  report("forward packed not packed",
         rnn_tanh_forward_packed(&s, &fa, garbage, sizeof garbage, work, ws, NULL, 0));
  report("forward packed", rnn_tanh_forward_packed(&s, &fa, packed, ps, work, ws, NULL, 0));
  report("training forward packed",
         rnn_tanh_forward_packed(&s, &fa, packed, ps, work, ws, reserve, rs));
  free(packed);
  free(work);
  free(reserve);
  return 0;
}
