// cellrt's error codes, the thread-local message of the last failed call, and 64-bit size
// arithmetic that remembers overflow. Knows nothing of the compiler.
#pragma once

#include <cstdint>
#include <string>

namespace cellrt {

/// The codes every entry point returns (the generated header lists them for users).
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

} // namespace cellrt
