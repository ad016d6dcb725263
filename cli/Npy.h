// Reading and writing NumPy .npy files (format versions 1-3, little-endian float32/float64,
// C order). Errors name the file and say what is wrong with it.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace cellc::npy {

struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data; // values widened to double, C order
};

/// Loads `path`. On failure returns false, leaves `out` as it was and sets `error` to a
/// message that names the file. The header must be the dict numpy writes (exactly 'descr',
/// 'fortran_order' and 'shape', Python literal syntax, padded with spaces to a newline that
/// aligns the data to 16 bytes), and the file must hold exactly the data its shape needs;
/// both are checked before anything is allocated for the data.
bool load(const std::string &path, Array &out, std::string &error);

/// Loads an int64 or int32 array (sample lengths), with load's checks.
bool loadIntegers(const std::string &path, std::vector<int64_t> &shape, std::vector<int64_t> &data,
                  std::string &error);

/// What `load` does after opening the file: reads a .npy image of `size` bytes from `in`,
/// named `name` in messages (the .npy fuzzer feeds it bytes from memory).
bool read(std::istream &in, int64_t size, const std::string &name, Array &out, std::string &error);

/// Writes a float32 array. Writes to a temporary name and renames it into place, so a failed
/// write leaves no partial file under `path`.
bool saveFloat32(const std::string &path, const std::vector<int64_t> &shape,
                 const std::vector<double> &data, std::string &error);
bool saveFloat64(const std::string &path, const std::vector<int64_t> &shape,
                 const std::vector<double> &data, std::string &error);
bool saveInt64(const std::string &path, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &data, std::string &error);

/// "(2, 3, 4)" as NumPy prints shapes.
std::string shapeString(const std::vector<int64_t> &shape);

} // namespace cellc::npy
