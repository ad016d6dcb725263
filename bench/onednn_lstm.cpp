// onednn_lstm: oneDNN's LSTM, timed the way bench_lstm.py times cellc and PyTorch, so that the
// benchmark puts the three side by side in one run.
//
//   onednn_lstm I H B T REPEAT [D]
//                                prints "infer_ms train_ms": medians of REPEAT calls, after one
//                                warm-up call, of forward_inference, and of forward_training
//                                followed by backward (data and weight gradients); D = 2:
//                                bidirectional_concat (bench_stack.py runs a stack as one such
//                                call per layer, since deeper layers read 2*H values)
//   onednn_lstm --version        prints oneDNN's version, threading runtime and CPU ISA
//
// One layer, one direction (or both), f32, with initial states in and final states out, and in
// backward the gradients of the outputs and of the final states: the same work as `cellc run
// --backward` on examples/lstm.cell. Threads: Debian's oneDNN runs on OpenMP, so OMP_NUM_THREADS
// sets them.

#include <dnnl.hpp>
#include <dnnl_debug.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mt19937 rng{1};
};

// oneDNN's shapes for one layer (l = 1), one direction (d = 1) and the LSTM's four gates (g = 4),
// in the order PyTorch uses (i, f, g, o).
struct Dims {
  memory::dims layer_in, layer_out, iter, weights_layer, weights_iter, bias;
};

Dims dims_of(memory::dim I, memory::dim H, memory::dim B, memory::dim T, memory::dim D) {
  return {{T, B, I}, {T, B, D * H}, {1, D, B, H}, {1, D, I, 4, H}, {1, D, H, 4, H}, {1, D, 4, H}};
}

dnnl::rnn_direction direction_of(const Dims &d) {
  return d.iter[1] == 2 ? dnnl::rnn_direction::bidirectional_concat
                        : dnnl::rnn_direction::unidirectional_left2right;
}

memory::desc desc_of(const memory::dims &dims, Tag tag) {
  return memory::desc(dims, memory::data_type::f32, tag);
}

float *data_of(const memory &m) { return static_cast<float *>(m.get_data_handle()); }

size_t count_of(const memory &m) { return m.get_desc().get_size() / sizeof(float); }

memory random_memory(Context &ctx, const memory::desc &md, float scale) {
  memory m(md, ctx.engine);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::generate_n(data_of(m), count_of(m), [&] { return dist(ctx.rng); });
  return m;
}

memory zero_memory(Context &ctx, const memory::desc &md) {
  memory m(md, ctx.engine);
  std::fill_n(data_of(m), count_of(m), 0.0f);
  return m;
}

// What a user holds, in plain layouts: the sequence and initial states, the weights in ldigo,
// one bias (PyTorch's b_ih + b_hh), and the gradients arriving from above.
struct UserData {
  memory x, h0, c0, weights_layer, weights_iter, bias, dy, dh_last, dc_last;
};

UserData random_user_data(Context &ctx, const Dims &d, memory::dim H) {
  const float w = 1.0f / std::sqrt(float(H)); // PyTorch's initialization range
  return {random_memory(ctx, desc_of(d.layer_in, Tag::tnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f),
          random_memory(ctx, desc_of(d.weights_layer, Tag::ldigo), w),
          random_memory(ctx, desc_of(d.weights_iter, Tag::ldigo), w),
          random_memory(ctx, desc_of(d.bias, Tag::ldgo), 2 * w),
          random_memory(ctx, desc_of(d.layer_out, Tag::tnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f)};
}

// `user` in the layout `want` a primitive asked for: reordered once, outside the timing, as a
// user who keeps weights in the library's preferred layout would do.
memory in_layout(Context &ctx, memory user, const memory::desc &want) {
  if (user.get_desc() == want)
    return user;
  memory m(want, ctx.engine);
  dnnl::reorder(user, m).execute(ctx.stream, user, m);
  ctx.stream.wait();
  return m;
}

// Plain layouts for what the user reads and writes; `any` for the weights, so that the
// primitive picks the layout its kernels are fastest on.
dnnl::lstm_forward::desc forward_desc(dnnl::prop_kind kind, const Dims &d) {
  return dnnl::lstm_forward::desc(
      kind, direction_of(d), desc_of(d.layer_in, Tag::tnc), desc_of(d.iter, Tag::ldnc),
      desc_of(d.iter, Tag::ldnc), desc_of(d.weights_layer, Tag::any),
      desc_of(d.weights_iter, Tag::any), desc_of(d.bias, Tag::ldgo), desc_of(d.layer_out, Tag::tnc),
      desc_of(d.iter, Tag::ldnc), desc_of(d.iter, Tag::ldnc));
}

dnnl::lstm_backward::desc backward_desc(const Dims &d) {
  const memory::desc in = desc_of(d.layer_in, Tag::tnc), out = desc_of(d.layer_out, Tag::tnc);
  const memory::desc iter = desc_of(d.iter, Tag::ldnc), bias = desc_of(d.bias, Tag::ldgo);
  const memory::desc wl = desc_of(d.weights_layer, Tag::any);
  const memory::desc wi = desc_of(d.weights_iter, Tag::any);
  return dnnl::lstm_backward::desc(dnnl::prop_kind::backward, direction_of(d), in, iter, iter, wl,
                                   wi, bias, out, iter, iter, in, iter, iter, wl, wi, bias, out,
                                   iter, iter);
}

Args forward_args(Context &ctx, const dnnl::lstm_forward::primitive_desc &pd, const UserData &u) {
  return {{DNNL_ARG_SRC_LAYER, u.x},
          {DNNL_ARG_SRC_ITER, u.h0},
          {DNNL_ARG_SRC_ITER_C, u.c0},
          {DNNL_ARG_WEIGHTS_LAYER, in_layout(ctx, u.weights_layer, pd.weights_layer_desc())},
          {DNNL_ARG_WEIGHTS_ITER, in_layout(ctx, u.weights_iter, pd.weights_iter_desc())},
          {DNNL_ARG_BIAS, in_layout(ctx, u.bias, pd.bias_desc())},
          {DNNL_ARG_DST_LAYER, zero_memory(ctx, pd.dst_layer_desc())},
          {DNNL_ARG_DST_ITER, zero_memory(ctx, pd.dst_iter_desc())},
          {DNNL_ARG_DST_ITER_C, zero_memory(ctx, pd.dst_iter_c_desc())}};
}

// Backward reads what forward read and wrote (the same memory objects, workspace included),
// with the weights in the layout backward asked for, which may differ from forward's.
Args backward_args(Context &ctx, const dnnl::lstm_backward::primitive_desc &pd, const UserData &u,
                   Args args) {
  args[DNNL_ARG_WEIGHTS_LAYER] = in_layout(ctx, u.weights_layer, pd.weights_layer_desc());
  args[DNNL_ARG_WEIGHTS_ITER] = in_layout(ctx, u.weights_iter, pd.weights_iter_desc());
  args[DNNL_ARG_BIAS] = in_layout(ctx, u.bias, pd.bias_desc());
  args[DNNL_ARG_DIFF_DST_LAYER] = u.dy;
  args[DNNL_ARG_DIFF_DST_ITER] = u.dh_last;
  args[DNNL_ARG_DIFF_DST_ITER_C] = u.dc_last;
  args[DNNL_ARG_DIFF_SRC_LAYER] = zero_memory(ctx, pd.diff_src_layer_desc());
  args[DNNL_ARG_DIFF_SRC_ITER] = zero_memory(ctx, pd.diff_src_iter_desc());
  args[DNNL_ARG_DIFF_SRC_ITER_C] = zero_memory(ctx, pd.diff_src_iter_c_desc());
  // oneDNN adds the weight gradients into these (as PyTorch adds into .grad), so they start at
  // zero; adding costs the same on every call, so they are not cleared between calls.
  args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = zero_memory(ctx, pd.diff_weights_layer_desc());
  args[DNNL_ARG_DIFF_WEIGHTS_ITER] = zero_memory(ctx, pd.diff_weights_iter_desc());
  args[DNNL_ARG_DIFF_BIAS] = zero_memory(ctx, pd.diff_bias_desc());
  return args;
}

// Median of `repeat` calls after one warm-up call (which starts the OpenMP pool and touches
// every buffer), in milliseconds.
template <class Fn> double median_ms(Fn &&fn, int repeat) {
  fn();
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double inference_ms(Context &ctx, const Dims &d, const UserData &u, int repeat) {
  const dnnl::lstm_forward::primitive_desc pd(forward_desc(dnnl::prop_kind::forward_inference, d),
                                              ctx.engine);
  const dnnl::lstm_forward forward(pd);
  const Args args = forward_args(ctx, pd, u);
  return median_ms(
      [&] {
        forward.execute(ctx.stream, args);
        ctx.stream.wait();
      },
      repeat);
}

double training_ms(Context &ctx, const Dims &d, const UserData &u, int repeat) {
  const dnnl::lstm_forward::primitive_desc fwd_pd(
      forward_desc(dnnl::prop_kind::forward_training, d), ctx.engine);
  const dnnl::lstm_backward::primitive_desc bwd_pd(backward_desc(d), ctx.engine, fwd_pd);
  Args fwd_args = forward_args(ctx, fwd_pd, u);
  fwd_args[DNNL_ARG_WORKSPACE] = memory(fwd_pd.workspace_desc(), ctx.engine);
  const Args bwd_args = backward_args(ctx, bwd_pd, u, fwd_args);
  const dnnl::lstm_forward forward(fwd_pd);
  const dnnl::lstm_backward backward(bwd_pd);
  return median_ms(
      [&] {
        forward.execute(ctx.stream, fwd_args);
        backward.execute(ctx.stream, bwd_args);
        ctx.stream.wait();
      },
      repeat);
}

void print_version() {
  const dnnl_version_t *v = dnnl_version();
  const char *threads = DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP   ? "OpenMP"
                        : DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_TBB ? "TBB"
                                                                         : "other";
  std::printf("oneDNN %d.%d.%d, %s threads, ISA %s\n", v->major, v->minor, v->patch, threads,
              dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
}

long positive(const char *name, const char *text) {
  char *end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value <= 0)
    throw std::invalid_argument(std::string(name) + " must be a positive integer, got '" + text +
                                "'");
  return value;
}

} // namespace

int main(int argc, char **argv) {
  try {
    if (argc == 2 && std::string(argv[1]) == "--version") {
      print_version();
      return 0;
    }
    if (argc != 6 && argc != 7) {
      std::fprintf(stderr, "usage: onednn_lstm I H B T REPEAT [DIRECTIONS]   (or --version)\n");
      return 1;
    }
    const long I = positive("I", argv[1]), H = positive("H", argv[2]);
    const long B = positive("B", argv[3]), T = positive("T", argv[4]);
    const int repeat = int(positive("REPEAT", argv[5]));
    Context ctx;
    const long D = argc == 7 ? positive("DIRECTIONS", argv[6]) : 1;
    if (D > 2)
      throw std::invalid_argument("DIRECTIONS must be 1 or 2");
    const Dims d = dims_of(I, H, B, T, D);
    const UserData u = random_user_data(ctx, d, H);
    const double infer = inference_ms(ctx, d, u, repeat);
    const double train = training_ms(ctx, d, u, repeat);
    std::printf("%.4f %.4f\n", infer, train);
    return 0;
  } catch (const dnnl::error &e) {
    std::fprintf(stderr, "onednn_lstm: oneDNN failed (status %d): %s\n", int(e.status), e.what());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "onednn_lstm: %s\n", e.what());
    return 1;
  }
}
