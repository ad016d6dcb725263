// cellrt's support for the glue code that cellc generates into every compiled cell library:
// checked size arithmetic, Halide buffer descriptors over caller memory, the thread-local
// error message, weight packing, and Halide's parallel-for routed to TBB. Header-only, so a
// library needs nothing of cellc at run time. Knows nothing of the compiler.
#pragma once

#include <HalideRuntime.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

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

/// dst[c][r] = src[r][c] with rows padded: what `W @ x` reads contiguously along r.
inline void packTransposed(const float *src, int64_t rows, int64_t cols, float *dst) {
  const int64_t stride = padded(rows);
  tbb::parallel_for(int64_t(0), cols, [&](int64_t c) {
    for (int64_t r = 0; r < rows; ++r)
      dst[c * stride + r] = src[r * cols + c];
    for (int64_t r = rows; r < stride; ++r)
      dst[c * stride + r] = 0.0f;
  });
}

/// dst[r][c] = src[r][c] with columns padded: what `W^T @ x` reads contiguously along c.
inline void packPadded(const float *src, int64_t rows, int64_t cols, float *dst) {
  const int64_t stride = padded(cols);
  tbb::parallel_for(int64_t(0), rows, [&](int64_t r) {
    std::memcpy(dst + r * stride, src + r * cols, size_t(cols) * sizeof(float));
    for (int64_t c = cols; c < stride; ++c)
      dst[r * stride + c] = 0.0f;
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

/// Halide reports failures (e.g. a buffer too small) through this handler; the message
/// becomes the call's error message.
inline void onHalideError(void *, const char *message) {
  lastError() = std::string("kernel failed: ") + message;
}

inline void setUpHalideRuntime() {
  static bool once = [] {
    halide_set_custom_do_par_for(&doParFor);
    halide_set_error_handler(&onHalideError);
    return true;
  }();
  (void)once;
}

} // namespace cellrt
