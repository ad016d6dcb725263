// What a library of Halide CPU kernels needs at run time: buffer descriptors over caller
// memory, weight packing, Halide's parallel-for routed to TBB, a cache of Halide's scratch
// blocks, and the Invoker through which cellrt's executor calls the kernels' argv entry
// points. Header-only, so a library needs nothing of cellc at run time.
#pragma once

#include "cellrt/Errors.h"
#include "cellrt/Executor.h"
#include "cellrt/Stack.h"

#include <HalideRuntime.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_invoke.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cellrt {

/// A halide_buffer_t over caller memory, up to 3 dimensions.
struct Buffer {
  halide_buffer_t buf{};
  halide_dimension_t dim[3]{};

  Buffer() = default;
  Buffer(const Buffer &) = delete;

  /// Per-sample values: element i of sample n at base[n * len + i].
  void samples(const float *base, int64_t len, int64_t count) {
    set(base, 2);
    dim[0] = {0, int32_t(len), 1, 0};
    dim[1] = {0, int32_t(count), int32_t(len), 0};
  }
  /// A tensor in its row-major layout: rank 0, [n] or [rows][cols].
  void tensor(const float *base, int rank, int64_t rows, int64_t cols) {
    set(base, rank);
    if (rank == 1)
      dim[0] = {0, int32_t(rows), 1, 0};
    if (rank == 2) {
      dim[0] = {0, int32_t(cols), 1, 0};
      dim[1] = {0, int32_t(rows), int32_t(cols), 0};
    }
  }
  /// A matrix packed by packPadded: (ii, k, panel) over `K` rows k of `padded` elements i.
  void panels(const float *base, int64_t K, int64_t padded, int64_t panel) {
    set(base, 3);
    dim[0] = {0, int32_t(panel), 1, 0};
    dim[1] = {0, int32_t(K), int32_t(panel), 0};
    dim[2] = {0, int32_t(padded / panel), int32_t(K * panel), 0};
  }
  halide_buffer_t *get() { return &buf; }

private:
  void set(const float *base, int rank) {
    buf.host = reinterpret_cast<uint8_t *>(const_cast<float *>(base));
    buf.type = halide_type_t(halide_type_float, 32, 1);
    buf.dimensions = rank;
    buf.dim = dim;
  }
};

/// The runtime's one parallel loop, over TBB. With CELLRT_SERIAL (the glue of the
/// ThreadSanitizer job, scripts/sanitize.sh) it runs on the calling thread: libtbb is not
/// instrumented, so TSan would report TBB's recycling of task objects as races, and that job
/// checks what concurrent callers share.
template <typename I, typename Body> void parallelFor(I begin, I end, const Body &body) {
#ifdef CELLRT_SERIAL
  for (I i = begin; i < end; ++i)
    body(i);
#else
  tbb::parallel_for(begin, end, body);
#endif
}

/// dst[k * P + (i - I0)] = W[i * cols + k] for i in [I0, I1), k in [K0, K1): part of one panel,
/// in micro-tiles of 8 x 8 (a function of its own, so that the bounds live in registers).
inline void transposeTile(const float *W, int64_t cols, int64_t I0, int64_t I1, int64_t K0,
                          int64_t K1, float *panel, int64_t P) {
  constexpr int64_t kMicro = 8;
  for (int64_t k0 = K0; k0 < K1; k0 += kMicro)
    for (int64_t i0 = I0; i0 < I1; i0 += kMicro) {
      const int64_t k1 = std::min(K1, k0 + kMicro), i1 = std::min(I1, i0 + kMicro);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t k = k0; k < k1; ++k)
          panel[k * P + (i - I0)] = W[i * cols + k];
    }
}

/// Packs the matrix operand A of a GEMM y(i) = sum_k A(i, k) x(k) in panels of P = `padding`
/// rows i: panel p holds A(p*P + ii, k) at dst[p*K*P + k*P + ii], the rows past M zero. A
/// register tile of the GEMM (its rows within one panel) then reads one contiguous run, and
/// whole tiles never read past the matrix. For `W @ x` (`transposed`: A = W, [rows][cols],
/// M = rows) the matrix is transposed; for `W^T @ x`, A = W^T, and rows of W are copied.
inline void packPadded(const float *W, int64_t rows, int64_t cols, bool transposed, int64_t padding,
                       float *dst) {
  const int64_t M = transposed ? rows : cols, K = transposed ? cols : rows, P = padding;
  const int64_t panels = paddedTo(M, P) / P;
  // The rows past M, in the last panel: zero.
  parallelFor(int64_t(0), K, [&](int64_t k) {
    float *last = dst + (panels - 1) * K * P + k * P;
    std::fill(last + (M - (panels - 1) * P), last + P, 0.0f);
  });
  if (!transposed) {
    parallelFor(int64_t(0), K, [&](int64_t k) {
      for (int64_t p = 0; p < panels; ++p)
        std::memcpy(dst + p * K * P + k * P, W + k * cols + p * P,
                    size_t(std::min(P, M - p * P)) * sizeof(float));
    });
    return;
  }
  // In tasks of one panel by kTask columns of W, each in micro-tiles whose rows of W read and
  // rows of the panel written stay in L1. Measured for one 4096 x 1024 matrix on the 2-core
  // Zen 4 dev machine, 1 thread: columns of 32 at a time (a page of W per row) 14 ms, tasks
  // of 32 x 32 4.8 ms, of 128 x 128 in 8 x 8 micro-tiles 3.9 ms (a plain copy: 0.9 ms).
  constexpr int64_t kTask = 128;
  const int64_t taskCols = (K + kTask - 1) / kTask;
  parallelFor(int64_t(0), panels * taskCols, [&](int64_t t) {
    const int64_t p = t / taskCols, K0 = t % taskCols * kTask;
    transposeTile(W, cols, p * P, std::min(M, (p + 1) * P), K0, std::min(K, K0 + kTask),
                  dst + p * K * P, P);
  });
}

/// Halide's parallel loops run as TBB tasks, so a library composes with the caller's TBB
/// threads and honours tbb::global_control.
inline int doParFor(void *ctx, halide_task_t task, int min, int size, uint8_t *closure) {
  std::atomic<int> result{0};
  parallelFor(min, min + size, [&](int i) {
    int r = task(ctx, i, closure);
    if (r != 0)
      result.store(r);
  });
  return result.load();
}

/// Halide's scratch memory. Large blocks are kept for reuse instead of being returned to the
/// system: a kernel asks for the same sizes at every call, and fresh pages cost a page fault
/// each (tens of milliseconds for the T*B-sized buffers of a sequence). At most kKeep blocks
/// are kept; the cache is shared by all threads behind a mutex.
class BlockCache {
public:
  static constexpr size_t kAlign = 128, kHeader = 128, kLarge = size_t(1) << 20, kKeep = 16;

  static void *allocate(void *, size_t bytes) {
    size_t total = (bytes + kHeader + kAlign - 1) / kAlign * kAlign;
    if (total >= kLarge) {
      std::lock_guard<std::mutex> lock(instance().mutex_);
      auto &blocks = instance().blocks_;
      for (size_t i = 0; i < blocks.size(); ++i) {
        if (blocks[i].first == total) {
          char *p = blocks[i].second;
          blocks.erase(blocks.begin() + long(i));
          return p + kHeader;
        }
      }
    }
    char *p = static_cast<char *>(std::aligned_alloc(kAlign, total));
    if (!p)
      return nullptr;
    std::memcpy(p, &total, sizeof total);
    return p + kHeader;
  }

  static void release(void *, void *ptr) {
    if (!ptr)
      return;
    char *p = static_cast<char *>(ptr) - kHeader;
    size_t total;
    std::memcpy(&total, p, sizeof total);
    if (total >= kLarge) {
      std::lock_guard<std::mutex> lock(instance().mutex_);
      auto &blocks = instance().blocks_;
      if (blocks.size() < kKeep) {
        blocks.push_back({total, p});
        return;
      }
    }
    std::free(p);
  }

private:
  static BlockCache &instance() {
    static BlockCache cache;
    return cache;
  }
  ~BlockCache() {
    for (auto &b : blocks_)
      std::free(b.second);
  }
  std::mutex mutex_;
  std::vector<std::pair<size_t, char *>> blocks_;
};

/// Halide reports failures (e.g. a buffer too small) through this handler; the message
/// becomes the call's error message.
inline void onHalideError(void *, const char *message) {
  lastError() = std::string("kernel failed: ") + message;
}

inline void setUpHalideRuntime() {
  static bool once = [] {
    halide_set_custom_do_par_for(&doParFor);
    halide_set_error_handler(&onHalideError);
    halide_set_custom_malloc(&BlockCache::allocate);
    halide_set_custom_free(&BlockCache::release);
    return true;
  }();
  (void)once;
}

/// Runs the plan's kernels through their Halide argv entry points: the dims (int32, the
/// shape after T and B), the sample count, then one halide_buffer_t per argument.
class HalideInvoker {
public:
  int run(const SequencePlan &p, int kernel, const int64_t *shape, int64_t samples,
          const View<float> *views) {
    const KernelDecl &k = p.kernels[kernel];
    const int dims = p.shapeRank - 2;
    scalars_.resize(size_t(dims + 1));
    if (buffers_.size() < size_t(k.args))
      buffers_ = std::vector<Buffer>(size_t(k.args)); // not resized: a Buffer points into itself
    argv_.clear();
    for (int d = 0; d < dims; ++d) {
      scalars_[size_t(d)] = int32_t(shape[2 + d]);
      argv_.push_back(&scalars_[size_t(d)]);
    }
    scalars_[size_t(dims)] = int32_t(samples);
    argv_.push_back(&scalars_[size_t(dims)]);
    for (int a = 0; a < k.args; ++a) {
      const View<float> &v = views[a];
      Buffer &b = buffers_[size_t(a)];
      if (v.kind == ViewKind::Samples)
        b.samples(v.base, v.len, v.samples);
      else if (v.kind == ViewKind::Packed)
        b.panels(v.base, v.len, v.cols, p.packPadding);
      else
        b.tensor(v.base, v.rank, v.len, v.cols);
      argv_.push_back(b.get());
    }
    if (k.entry(argv_.data()) != 0)
      return fail(kKernelFailed, std::string(p.cell) + "_" + k.name + ": " + lastError());
    return kOk;
  }

  void pack(const float *src, int64_t rows, int64_t cols, bool transpose, int64_t padding,
            float *dst) {
    packPadded(src, rows, cols, transpose, padding, dst);
  }

private:
  std::vector<int32_t> scalars_;
  std::vector<Buffer> buffers_;
  std::vector<void *> argv_;
};

/// The bodies of a library's C entry points: no exception crosses the C ABI.
namespace library {

template <typename Fn> int guarded(Fn fn) {
  try {
    setUpHalideRuntime();
    return fn();
  } catch (const std::exception &e) {
    return fail(kKernelFailed, e.what());
  }
}

inline int workspaceSize(const SequencePlan &p, const int64_t *shape, int64_t *bytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).workspaceBytes(shape, bytes);
  });
}

inline int reserveSize(const SequencePlan &p, const int64_t *shape, int64_t *bytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).reserveBytes(shape, bytes);
  });
}

inline int forward(const SequencePlan &p, const int64_t *shape, const float *const *in,
                   float *const *out, void *workspace, int64_t workspaceBytes, void *reserve,
                   int64_t reserveBytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).forward(shape, in, out, workspace, workspaceBytes,
                                                        reserve, reserveBytes);
  });
}

inline int packedParamsSize(const SequencePlan &p, const int64_t *shape, int64_t *bytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).packedParamsBytes(shape, bytes);
  });
}

inline int packParams(const SequencePlan &p, const int64_t *shape, const float *const *in,
                      void *packed, int64_t packedBytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).packParams(shape, in, packed, packedBytes);
  });
}

inline int forwardPacked(const SequencePlan &p, const int64_t *shape, const float *const *in,
                         float *const *out, const void *packed, int64_t packedBytes,
                         void *workspace, int64_t workspaceBytes, void *reserve,
                         int64_t reserveBytes) {
  if (!packed)
    return fail(kNullPointer, std::string(p.cell) + "_forward_packed: packed is NULL");
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).forward(shape, in, out, workspace, workspaceBytes,
                                                        reserve, reserveBytes, packed, packedBytes);
  });
}

inline int backward(const SequencePlan &p, const int64_t *shape, const float *const *in,
                    float *const *out, void *workspace, int64_t workspaceBytes, const void *reserve,
                    int64_t reserveBytes) {
  return guarded([&] {
    HalideInvoker k;
    return Executor<float, HalideInvoker>(p, k).backward(shape, in, out, workspace, workspaceBytes,
                                                         reserve, reserveBytes);
  });
}

/// Limits the runtime's threads (TBB's, process-wide) to n; kBadShape for n < 1.
inline int setNumThreads(int n) {
  if (n < 1)
    return fail(kBadShape, "threads must be at least 1");
  static std::mutex mutex;
  static std::unique_ptr<tbb::global_control> limit;
  std::lock_guard<std::mutex> lock(mutex);
  limit.reset(); // one limit at a time: the newest
  limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                size_t(n));
  return kOk;
}

/// The stack calls (cellrt/Stack.h).
inline int stackSize(const SequencePlan &p, const int64_t *shape, int64_t layers,
                     int64_t directions, int64_t *bytes, bool reserve) {
  return guarded([&] {
    HalideInvoker k;
    Stack<float, HalideInvoker> stack(p, k);
    StackConfig c{layers, directions, nullptr, 0, 0};
    return reserve ? stack.reserveBytes(shape, c, bytes) : stack.workspaceBytes(shape, c, bytes);
  });
}

/// The two directions of a stack's layer as two tasks of the runtime's thread pool.
inline void bothDirections(const std::function<void()> &a, const std::function<void()> &b) {
#ifdef CELLRT_SERIAL
  a(), b();
#else
  tbb::parallel_invoke(a, b);
#endif
}

inline int stackForward(const SequencePlan &p, const int64_t *shape, const StackConfig &c,
                        const float *const *in, float *const *out, void *workspace,
                        int64_t workspaceBytes, void *reserve, int64_t reserveBytes) {
  return guarded([&] {
    HalideInvoker k[2];
    return Stack<float, HalideInvoker>(p, k[0], k[1], bothDirections)
        .forward(shape, c, in, out, workspace, workspaceBytes, reserve, reserveBytes);
  });
}

inline int stackBackward(const SequencePlan &p, const int64_t *shape, const StackConfig &c,
                         const float *const *in, float *const *out, void *workspace,
                         int64_t workspaceBytes, const void *reserve, int64_t reserveBytes) {
  return guarded([&] {
    HalideInvoker k[2];
    return Stack<float, HalideInvoker>(p, k[0], k[1], bothDirections)
        .backward(shape, c, in, out, workspace, workspaceBytes, reserve, reserveBytes);
  });
}

} // namespace library

} // namespace cellrt
