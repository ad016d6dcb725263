// libFuzzer harness for the .npy reader: any bytes as a .npy file. A crash, a sanitizer report,
// an allocation the file cannot back or a success whose data disagrees with its shape is a bug.
//
// Built by scripts/sanitize.sh (clang, -fsanitize=fuzzer,address,undefined); run open-ended
// with scripts/fuzz.sh --target npy.
#include "cli/Npy.h"

#include <cstdint>
#include <cstdlib>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char *>(data), size));
  cellc::npy::Array array;
  std::string error;
  if (!cellc::npy::read(in, int64_t(size), "fuzz.npy", array, error)) {
    if (error.empty() || !array.shape.empty() || !array.data.empty())
      std::abort(); // a failure says why and leaves the array as it was
    return 0;
  }
  int64_t count = 1;
  for (int64_t d : array.shape)
    count *= d; // cannot overflow: read() checked it
  if (int64_t(array.data.size()) != count)
    std::abort();
  return 0;
}
