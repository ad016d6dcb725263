// onednn_rnn: oneDNN's recurrent cells, timed the way the bench scripts time cellc and PyTorch,
// so that they stand side by side in one run.
//
//   onednn_rnn CELL I H B T REPEAT [D]
//                                prints "infer_ms train_ms": medians of REPEAT calls, after one
//                                warm-up call, of forward_inference, and of forward_training
//                                followed by backward (data and weight gradients); D = 2:
//                                bidirectional_concat (bench_stack.py runs a stack as one such
//                                call per layer, since deeper layers read 2*H values)
//   onednn_rnn --version         prints oneDNN's version, threading runtime and CPU ISA
//
// CELL is the example cell whose work it does: rnn_tanh (vanilla RNN, tanh), lstm, gru (the
// linear-before-reset GRU, which is torch.nn.GRU and examples/gru.cell), peephole_lstm (oneDNN's
// LSTM with peephole weights: i and f see c, o sees c', as examples/peephole_lstm.cell). One
// layer, f32, initial states in and final states out, and in backward the gradients of the
// outputs and of the final states: the same work as `cellc run --backward` on the example.
// Threads: Debian's oneDNN runs on OpenMP, so OMP_NUM_THREADS sets them.

#include <dnnl.hpp>
#include <dnnl_debug.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;
using dnnl::prop_kind;

struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::mt19937 rng{1};
};

/// What differs between the cells: gates, bias gates (the linear-before-reset GRU has a fourth,
/// the reset-gated recurrent bias), a cell state c, peephole weights.
struct Kind {
  std::string name;
  memory::dim gates, biasGates;
  bool cellState, peephole;
};

Kind kind_of(const std::string &cell) {
  if (cell == "rnn_tanh")
    return {cell, 1, 1, false, false};
  if (cell == "lstm")
    return {cell, 4, 4, true, false};
  if (cell == "peephole_lstm")
    return {cell, 4, 4, true, true};
  if (cell == "gru")
    return {cell, 3, 4, false, false};
  throw std::invalid_argument("CELL must be rnn_tanh, lstm, gru or peephole_lstm, got '" + cell +
                              "'");
}

// oneDNN's shapes for one layer (l = 1) and D directions, gates in PyTorch's order.
struct Dims {
  memory::dims layer_in, layer_out, iter, weights_layer, weights_iter, peephole, bias;
};

Dims dims_of(const Kind &k, memory::dim I, memory::dim H, memory::dim B, memory::dim T,
             memory::dim D) {
  return {{T, B, I},
          {T, B, D * H},
          {1, D, B, H},
          {1, D, I, k.gates, H},
          {1, D, H, k.gates, H},
          {1, D, 3, H},
          {1, D, k.biasGates, H}};
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
// one bias, and the gradients arriving from above (c's only where the cell has one).
struct UserData {
  memory x, h0, c0, weights_layer, weights_iter, peephole, bias, dy, dh_last, dc_last;
};

UserData random_user_data(Context &ctx, const Dims &d, memory::dim H) {
  const float w = 1.0f / std::sqrt(float(H)); // PyTorch's initialization range
  return {random_memory(ctx, desc_of(d.layer_in, Tag::tnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f),
          random_memory(ctx, desc_of(d.iter, Tag::ldnc), 1.0f),
          random_memory(ctx, desc_of(d.weights_layer, Tag::ldigo), w),
          random_memory(ctx, desc_of(d.weights_iter, Tag::ldigo), w),
          random_memory(ctx, desc_of(d.peephole, Tag::ldgo), w),
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

/// The memory descriptors of one call: plain layouts for what the user reads and writes, `any`
/// for the weights (the primitive picks the layout its kernels are fastest on).
struct Descs {
  memory::desc in, out, iter, wl, wi, peephole, bias;
  explicit Descs(const Dims &d)
      : in(desc_of(d.layer_in, Tag::tnc)), out(desc_of(d.layer_out, Tag::tnc)),
        iter(desc_of(d.iter, Tag::ldnc)), wl(desc_of(d.weights_layer, Tag::any)),
        wi(desc_of(d.weights_iter, Tag::any)), peephole(desc_of(d.peephole, Tag::ldgo)),
        bias(desc_of(d.bias, Tag::ldgo)) {}
};

/// The primitives of one cell: forward for a prop kind, and backward over a training forward.
struct Primitives {
  dnnl::primitive forward, backward;
  dnnl::rnn_primitive_desc_base fwd, bwd;
};

Primitives primitives_of(Context &ctx, const Kind &k, const Dims &d, prop_kind kind) {
  const Descs m(d);
  const auto dir = direction_of(d);
  const bool train = kind == prop_kind::forward_training;
  const auto tanh = dnnl::algorithm::eltwise_tanh;
  if (k.name == "rnn_tanh") {
    dnnl::vanilla_rnn_forward::primitive_desc f(
        {kind, tanh, dir, m.in, m.iter, m.wl, m.wi, m.bias, m.out, m.iter}, ctx.engine);
    if (!train)
      return {dnnl::vanilla_rnn_forward(f), {}, f, {}};
    dnnl::vanilla_rnn_backward::primitive_desc b({prop_kind::backward, tanh, dir, m.in, m.iter,
                                                  m.wl, m.wi, m.bias, m.out, m.iter, m.in, m.iter,
                                                  m.wl, m.wi, m.bias, m.out, m.iter},
                                                 ctx.engine, f);
    return {dnnl::vanilla_rnn_forward(f), dnnl::vanilla_rnn_backward(b), f, b};
  }
  if (k.name == "gru") {
    dnnl::lbr_gru_forward::primitive_desc f(
        {kind, dir, m.in, m.iter, m.wl, m.wi, m.bias, m.out, m.iter}, ctx.engine);
    if (!train)
      return {dnnl::lbr_gru_forward(f), {}, f, {}};
    dnnl::lbr_gru_backward::primitive_desc b({prop_kind::backward, dir, m.in, m.iter, m.wl, m.wi,
                                              m.bias, m.out, m.iter, m.in, m.iter, m.wl, m.wi,
                                              m.bias, m.out, m.iter},
                                             ctx.engine, f);
    return {dnnl::lbr_gru_forward(f), dnnl::lbr_gru_backward(b), f, b};
  }
  // lstm and peephole_lstm; a zero peephole desc is "no peepholes".
  const memory::desc peep = k.peephole ? m.peephole : memory::desc();
  dnnl::lstm_forward::primitive_desc f(
      {kind, dir, m.in, m.iter, m.iter, m.wl, m.wi, peep, m.bias, m.out, m.iter, m.iter},
      ctx.engine);
  if (!train)
    return {dnnl::lstm_forward(f), {}, f, {}};
  dnnl::lstm_backward::primitive_desc b({prop_kind::backward,
                                         dir,
                                         m.in,
                                         m.iter,
                                         m.iter,
                                         m.wl,
                                         m.wi,
                                         peep,
                                         m.bias,
                                         m.out,
                                         m.iter,
                                         m.iter,
                                         m.in,
                                         m.iter,
                                         m.iter,
                                         m.wl,
                                         m.wi,
                                         peep,
                                         m.bias,
                                         m.out,
                                         m.iter,
                                         m.iter},
                                        ctx.engine, f);
  return {dnnl::lstm_forward(f), dnnl::lstm_backward(b), f, b};
}

Args forward_args(Context &ctx, const Kind &k, const dnnl::rnn_primitive_desc_base &pd,
                  const UserData &u) {
  Args args = {{DNNL_ARG_SRC_LAYER, u.x},
               {DNNL_ARG_SRC_ITER, u.h0},
               {DNNL_ARG_WEIGHTS_LAYER, in_layout(ctx, u.weights_layer, pd.weights_layer_desc())},
               {DNNL_ARG_WEIGHTS_ITER, in_layout(ctx, u.weights_iter, pd.weights_iter_desc())},
               {DNNL_ARG_BIAS, in_layout(ctx, u.bias, pd.bias_desc())},
               {DNNL_ARG_DST_LAYER, zero_memory(ctx, pd.dst_layer_desc())},
               {DNNL_ARG_DST_ITER, zero_memory(ctx, pd.dst_iter_desc())}};
  if (k.cellState) {
    args[DNNL_ARG_SRC_ITER_C] = u.c0;
    args[DNNL_ARG_DST_ITER_C] = zero_memory(ctx, pd.dst_iter_c_desc());
  }
  if (k.peephole)
    args[DNNL_ARG_WEIGHTS_PEEPHOLE] = u.peephole;
  return args;
}

// Backward reads what forward read and wrote (the same memory objects, workspace included),
// with the weights in the layout backward asked for, which may differ from forward's.
Args backward_args(Context &ctx, const Kind &k, const dnnl::rnn_primitive_desc_base &pd,
                   const UserData &u, Args args) {
  args[DNNL_ARG_WEIGHTS_LAYER] = in_layout(ctx, u.weights_layer, pd.weights_layer_desc());
  args[DNNL_ARG_WEIGHTS_ITER] = in_layout(ctx, u.weights_iter, pd.weights_iter_desc());
  args[DNNL_ARG_BIAS] = in_layout(ctx, u.bias, pd.bias_desc());
  args[DNNL_ARG_DIFF_DST_LAYER] = u.dy;
  args[DNNL_ARG_DIFF_DST_ITER] = u.dh_last;
  args[DNNL_ARG_DIFF_SRC_LAYER] = zero_memory(ctx, pd.diff_src_layer_desc());
  args[DNNL_ARG_DIFF_SRC_ITER] = zero_memory(ctx, pd.diff_src_iter_desc());
  // oneDNN adds the weight gradients into these (as PyTorch adds into .grad), so they start at
  // zero; adding costs the same on every call, so they are not cleared between calls.
  args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = zero_memory(ctx, pd.diff_weights_layer_desc());
  args[DNNL_ARG_DIFF_WEIGHTS_ITER] = zero_memory(ctx, pd.diff_weights_iter_desc());
  args[DNNL_ARG_DIFF_BIAS] = zero_memory(ctx, pd.diff_bias_desc());
  if (k.cellState) {
    args[DNNL_ARG_DIFF_DST_ITER_C] = u.dc_last;
    args[DNNL_ARG_DIFF_SRC_ITER_C] = zero_memory(ctx, pd.diff_src_iter_c_desc());
  }
  if (k.peephole)
    args[DNNL_ARG_DIFF_WEIGHTS_PEEPHOLE] = zero_memory(ctx, pd.diff_weights_peephole_desc());
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

double inference_ms(Context &ctx, const Kind &k, const Dims &d, const UserData &u, int repeat) {
  const Primitives p = primitives_of(ctx, k, d, prop_kind::forward_inference);
  const Args args = forward_args(ctx, k, p.fwd, u);
  return median_ms(
      [&] {
        p.forward.execute(ctx.stream, args);
        ctx.stream.wait();
      },
      repeat);
}

double training_ms(Context &ctx, const Kind &k, const Dims &d, const UserData &u, int repeat) {
  const Primitives p = primitives_of(ctx, k, d, prop_kind::forward_training);
  Args fwd_args = forward_args(ctx, k, p.fwd, u);
  fwd_args[DNNL_ARG_WORKSPACE] = memory(p.fwd.workspace_desc(), ctx.engine);
  const Args bwd_args = backward_args(ctx, k, p.bwd, u, fwd_args);
  return median_ms(
      [&] {
        p.forward.execute(ctx.stream, fwd_args);
        p.backward.execute(ctx.stream, bwd_args);
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
    if (argc != 7 && argc != 8) {
      std::fprintf(stderr, "usage: onednn_rnn CELL I H B T REPEAT [DIRECTIONS]   (or --version)\n");
      return 1;
    }
    const Kind k = kind_of(argv[1]);
    const long I = positive("I", argv[2]), H = positive("H", argv[3]);
    const long B = positive("B", argv[4]), T = positive("T", argv[5]);
    const int repeat = int(positive("REPEAT", argv[6]));
    Context ctx;
    const long D = argc == 8 ? positive("DIRECTIONS", argv[7]) : 1;
    if (D > 2)
      throw std::invalid_argument("DIRECTIONS must be 1 or 2");
    const Dims d = dims_of(k, I, H, B, T, D);
    const UserData u = random_user_data(ctx, d, H);
    const double infer = inference_ms(ctx, k, d, u, repeat);
    const double train = training_ms(ctx, k, d, u, repeat);
    std::printf("%.4f %.4f\n", infer, train);
    return 0;
  } catch (const dnnl::error &e) {
    std::fprintf(stderr, "onednn_rnn: oneDNN failed (status %d): %s\n", int(e.status), e.what());
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "onednn_rnn: %s\n", e.what());
    return 1;
  }
}
