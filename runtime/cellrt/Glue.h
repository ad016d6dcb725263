// cellrt's support for the glue code that cellc generates into every compiled cell library:
// checked size arithmetic, Halide buffer descriptors over caller memory, the thread-local
// error message, weight packing, and Halide's parallel-for routed to TBB. Header-only, so a
// library needs nothing of cellc at run time. Knows nothing of the compiler.
#pragma once

#include <HalideRuntime.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace cellrt {

enum Code : int {
  kOk = 0,
  kNullPointer = 1,
  kBadShape = 2,
  kWorkspaceTooSmall = 3,
  kReserveTooSmall = 4,
  kOverflow = 5,
  kKernelFailed = 6,
};

/// The message of the last failed call on this thread.
inline std::string &lastError() {
  thread_local std::string message;
  return message;
}

inline int fail(int code, const std::string &message) {
  lastError() = message;
  return code;
}

/// 64-bit size arithmetic that remembers overflow instead of wrapping.
struct Checked {
  bool overflow = false;
  int64_t mul(int64_t a, int64_t b) {
    int64_t r;
    overflow = overflow || __builtin_mul_overflow(a, b, &r);
    return overflow ? 0 : r;
  }
  int64_t add(int64_t a, int64_t b) {
    int64_t r;
    overflow = overflow || __builtin_add_overflow(a, b, &r);
    return overflow ? 0 : r;
  }
};

/// A halide_buffer_t over caller memory, up to 2 dimensions.
struct Buffer {
  halide_buffer_t buf{};
  halide_dimension_t dim[2]{};

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
  halide_buffer_t *get() { return &buf; }

private:
  void set(const float *base, int rank) {
    buf.host = reinterpret_cast<uint8_t *>(const_cast<float *>(base));
    buf.type = halide_type_t(halide_type_float, 32, 1);
    buf.dimensions = rank;
    buf.dim = dim;
  }
};

/// GEMM kernels read packed matrices in whole register tiles: rows are padded with zeros to
/// a multiple of this many floats.
constexpr int64_t kPackPadding = 64;
inline int64_t padded(int64_t n) { return (n + kPackPadding - 1) / kPackPadding * kPackPadding; }

/// Packs the matrix operand A of a GEMM y(i) = sum_k A(i, k) x(k) as dst[k][i], contiguous
/// along the GEMM's rows i and padded with zeros to padded(M) of them, so register tiles of
/// whole vectors never read past it. For `W @ x` (`transposed`: A = W, [rows][cols] with
/// M = rows) the matrix is transposed; for `W^T @ x`, A = W^T and W is copied as it is.
inline void packPadded(const float *W, int64_t rows, int64_t cols, bool transposed, float *dst) {
  const int64_t M = transposed ? rows : cols, K = transposed ? cols : rows, stride = padded(M);
  tbb::parallel_for(int64_t(0), K, [&](int64_t k) {
    float *out = dst + k * stride;
    if (transposed)
      for (int64_t i = 0; i < M; ++i)
        out[i] = W[i * cols + k];
    else
      std::memcpy(out, W + k * cols, size_t(M) * sizeof(float));
    for (int64_t i = M; i < stride; ++i)
      out[i] = 0.0f;
  });
}

inline void fill(float *dst, int64_t count, float value) {
  for (int64_t i = 0; i < count; ++i)
    dst[i] = value;
}

/// Halide's parallel loops run as TBB tasks, so a library composes with the caller's TBB
/// threads and honours tbb::global_control.
inline int doParFor(void *ctx, halide_task_t task, int min, int size, uint8_t *closure) {
  std::atomic<int> result{0};
  tbb::parallel_for(min, min + size, [&](int i) {
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

} // namespace cellrt
