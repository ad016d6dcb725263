#include "runtime/Npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

namespace cellrt::npy {

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

bool fail(std::string &error, const std::string &path, const std::string &what) {
  error = path + ": " + what;
  return false;
}

/// Reads the value of `key` from the header dict, e.g. 'descr': '<f4'.
bool headerValue(const std::string &header, const std::string &key, const std::string &pattern,
                 std::smatch &m) {
  std::regex re("['\"]" + key + "['\"]\\s*:\\s*" + pattern);
  return std::regex_search(header, m, re);
}

bool parseShape(const std::string &text, std::vector<int64_t> &shape) {
  // "3, 4" or "3," or "" (a scalar)
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ','))
      ++i;
    if (i == text.size())
      break;
    if (!std::isdigit((unsigned char)text[i]))
      return false;
    int64_t v = 0;
    while (i < text.size() && std::isdigit((unsigned char)text[i])) {
      if (v > (INT64_MAX - 9) / 10)
        return false;
      v = v * 10 + (text[i++] - '0');
    }
    shape.push_back(v);
  }
  return true;
}

} // namespace

bool load(const std::string &path, Array &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(error, path, std::string("cannot open: ") + std::strerror(errno));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return fail(error, path, "not a .npy file (bad magic bytes)");
  int major = (unsigned char)magic[6];
  if (major < 1 || major > 3)
    return fail(error, path, "unsupported .npy format version " + std::to_string(major));
  uint32_t headerLen = 0;
  unsigned char lenBytes[4] = {0, 0, 0, 0};
  int lenSize = major == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char *>(lenBytes), lenSize))
    return fail(error, path, "truncated header");
  for (int i = lenSize - 1; i >= 0; --i)
    headerLen = headerLen << 8 | lenBytes[i];
  if (headerLen > (1u << 20))
    return fail(error, path, "header is too long (" + std::to_string(headerLen) + " bytes)");
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen))
    return fail(error, path, "truncated header");

  std::smatch m;
  if (!headerValue(header, "descr", "['\"]([^'\"]*)['\"]", m))
    return fail(error, path, "header has no 'descr'");
  std::string descr = m[1];
  int itemSize;
  if (descr == "<f4" || descr == "=f4")
    itemSize = 4;
  else if (descr == "<f8" || descr == "=f8")
    itemSize = 8;
  else
    return fail(error, path,
                "dtype '" + descr +
                    "' is not supported; use float32 or float64 "
                    "(little-endian)");
  if (headerValue(header, "fortran_order", "True", m))
    return fail(error, path,
                "Fortran-ordered arrays are not supported; save a C-ordered array "
                "(numpy.ascontiguousarray)");
  if (!headerValue(header, "shape", "\\(([^)]*)\\)", m))
    return fail(error, path, "header has no 'shape'");
  out.shape.clear();
  if (!parseShape(m[1], out.shape))
    return fail(error, path, "malformed shape '(" + std::string(m[1]) + ")'");

  int64_t count = 1;
  for (int64_t d : out.shape)
    if (__builtin_mul_overflow(count, d, &count) || count > (int64_t(1) << 40))
      return fail(error, path, "shape " + shapeString(out.shape) + " is too large");
  out.data.resize(size_t(count));
  std::vector<char> raw(size_t(count) * itemSize);
  in.read(raw.data(), std::streamsize(raw.size()));
  if (size_t(in.gcount()) != raw.size())
    return fail(error, path,
                "truncated data: shape " + shapeString(out.shape) + " needs " +
                    std::to_string(raw.size()) + " bytes, the file has " +
                    std::to_string(in.gcount()));
  if (in.peek() != EOF)
    return fail(error, path, "has bytes after the data of shape " + shapeString(out.shape));
  for (int64_t i = 0; i < count; ++i) {
    if (itemSize == 4) {
      float f;
      std::memcpy(&f, raw.data() + i * 4, 4);
      out.data[i] = f;
    } else {
      std::memcpy(&out.data[i], raw.data() + i * 8, 8);
    }
  }
  return true;
}

bool saveFloat32(const std::string &path, const std::vector<int64_t> &shape,
                 const std::vector<double> &data, std::string &error) {
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }";
  // Pad so that magic + length + header + '\n' is a multiple of 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      return fail(error, path, std::string("cannot write: ") + std::strerror(errno));
    out.write("\x93NUMPY\x01\x00", 8);
    unsigned char len[2] = {uint8_t(header.size() & 0xff), uint8_t(header.size() >> 8)};
    out.write(reinterpret_cast<char *>(len), 2);
    out << header;
    std::vector<float> f(data.begin(), data.end());
    out.write(reinterpret_cast<const char *>(f.data()), std::streamsize(f.size() * 4));
    if (!out.flush()) {
      std::remove(tmp.c_str());
      return fail(error, path, "write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(error, path, std::string("cannot write: ") + std::strerror(errno));
  }
  return true;
}

} // namespace cellrt::npy
