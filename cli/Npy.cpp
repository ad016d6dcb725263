#include "cli/Npy.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cellc::npy {

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

/// "'X'" for a printable byte, "0xNN" for another, "the end of the header" past the text.
std::string describeByte(const std::string &text, size_t pos) {
  if (pos >= text.size())
    return "the end of the header";
  unsigned char c = text[pos];
  if (c >= 0x20 && c < 0x7f)
    return std::string("'") + char(c) + "'";
  static const char hex[] = "0123456789abcdef";
  return std::string("0x") + hex[c >> 4] + hex[c & 15];
}

struct Header {
  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
};

/// Parses the header dict strictly: a Python dict literal with exactly the keys 'descr' (a
/// string), 'fortran_order' (True or False) and 'shape' (a tuple of whole numbers), in any
/// order, then spaces up to the end. numpy.load runs ast.literal_eval on the header and checks
/// those keys; this accepts the part of that every writer writes (no line breaks, comments,
/// escapes or non-decimal numbers), so a header that is not a dict is an error here too rather
/// than a guess (a regex search read one with a stray byte in its padding).
class HeaderParser {
public:
  /// `text` is the header without its final newline; `offset` is where it starts in the file,
  /// so that errors can point at a byte of the file.
  HeaderParser(const std::string &text, size_t offset) : s_(text), offset_(offset) {}

  bool parse(Header &h, std::string &error) {
    bool ok = parseDict(h);
    error = error_;
    return ok;
  }

private:
  bool failHere(const std::string &what) {
    error_ =
        what + " at byte " + std::to_string(offset_ + pos_) + ", found " + describeByte(s_, pos_);
    return false;
  }
  bool failWith(const std::string &message) {
    error_ = message;
    return false;
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool atEnd() const { return pos_ >= s_.size(); }
  void skipSpaces() {
    while (!atEnd() && (s_[pos_] == ' ' || s_[pos_] == '\t'))
      ++pos_;
  }
  bool expect(char c, const std::string &what) {
    skipSpaces();
    if (atEnd() || s_[pos_] != c)
      return failHere(what);
    ++pos_;
    return true;
  }

  bool parseDict(Header &h) {
    if (!expect('{', "malformed header: expected '{' (the header is a Python dict)"))
      return false;
    bool seen[3] = {false, false, false}; // descr, fortran_order, shape
    skipSpaces();
    while (peek() != '}') {
      if (!parseEntry(h, seen))
        return false;
      skipSpaces();
      if (peek() == ',') {
        ++pos_;
        skipSpaces();
      } else if (peek() != '}') {
        return failHere("malformed header: expected ',' or '}'");
      }
    }
    ++pos_;
    // numpy pads the dict with spaces; anything else there is not a dict literal.
    skipSpaces();
    if (!atEnd())
      return failHere("malformed header: only spaces may follow the dict");
    static const char *const names[3] = {"descr", "fortran_order", "shape"};
    for (int i = 0; i < 3; ++i)
      if (!seen[i])
        return failWith(std::string("header has no '") + names[i] + "'");
    return true;
  }

  bool parseEntry(Header &h, bool seen[3]) {
    size_t keyAt = pos_;
    std::string key;
    if (peek() != '\'' && peek() != '"')
      return failHere("malformed header: expected a quoted key");
    if (!parseString(key) || !expect(':', "malformed header: expected ':' after '" + key + "'"))
      return false;
    int index = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
    if (index < 0)
      return failWith("malformed header: unknown key '" + key + "' at byte " +
                      std::to_string(offset_ + keyAt) +
                      " (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
    if (seen[index])
      return failWith("malformed header: key '" + key + "' appears twice");
    seen[index] = true;
    skipSpaces();
    if (index == 0) {
      if (peek() != '\'' && peek() != '"')
        return failHere("'descr' must be a dtype string such as '<f4' (structured dtypes are "
                        "not supported)");
      return parseString(h.descr);
    }
    if (index == 1)
      return parseBool(h.fortranOrder);
    return parseShape(h.shape);
  }

  /// A '...' or "..." string of printable ASCII without escapes.
  bool parseString(std::string &out) {
    char quote = s_[pos_++];
    size_t begin = pos_;
    while (!atEnd() && s_[pos_] != quote) {
      unsigned char c = s_[pos_];
      if (c < 0x20 || c >= 0x7f || c == '\\')
        return failHere("malformed header: unsupported character in a string");
      ++pos_;
    }
    if (atEnd())
      return failHere("malformed header: unterminated string");
    out = s_.substr(begin, pos_ - begin);
    ++pos_;
    return true;
  }

  bool parseBool(bool &out) {
    for (bool value : {true, false}) {
      const std::string word = value ? "True" : "False";
      if (s_.compare(pos_, word.size(), word) == 0) {
        pos_ += word.size();
        out = value;
        return true;
      }
    }
    return failHere("malformed header: 'fortran_order' must be True or False");
  }

  /// (), (3,), (2, 3) or (2, 3,). (3) is a number in Python, not a tuple.
  bool parseShape(std::vector<int64_t> &shape) {
    if (!expect('(', "malformed shape: expected a tuple such as (2, 3)"))
      return false;
    skipSpaces();
    bool comma = false;
    while (peek() != ')') {
      int64_t d = 0;
      if (!parseDimension(d))
        return false;
      shape.push_back(d);
      skipSpaces();
      if (peek() == ',') {
        ++pos_;
        comma = true;
        skipSpaces();
      } else if (peek() != ')') {
        return failHere("malformed shape: expected ',' or ')'");
      }
    }
    if (shape.size() == 1 && !comma)
      return failHere("malformed shape: (n) is a number, not a tuple; expected (n,)");
    ++pos_;
    return true;
  }

  /// A decimal whole number without sign or leading zeros (as Python writes ints).
  bool parseDimension(int64_t &d) {
    if (!std::isdigit((unsigned char)peek()))
      return failHere("malformed shape: expected a whole number >= 0");
    if (peek() == '0' && pos_ + 1 < s_.size() && std::isdigit((unsigned char)s_[pos_ + 1]))
      return failHere("malformed shape: a number with a leading zero");
    d = 0;
    size_t begin = pos_;
    while (std::isdigit((unsigned char)peek())) {
      if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, s_[pos_] - '0', &d)) {
        while (std::isdigit((unsigned char)peek()))
          ++pos_;
        return failWith("shape dimension " + s_.substr(begin, pos_ - begin) + " is too large");
      }
      ++pos_;
    }
    return true;
  }

  const std::string &s_;
  size_t offset_;
  size_t pos_ = 0;
  std::string error_;
};

/// The size of the file `in` reads, or -1 if it has none (a pipe, say).
int64_t streamSize(std::ifstream &in) {
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  return in ? int64_t(size) : -1;
}

/// Reads the preamble and the header, checking that its length agrees with the format version
/// and with the file, before anything is allocated for it.
bool readHeader(std::istream &in, const std::string &path, int64_t fileSize, Header &h,
                size_t &dataOffset, std::string &error) {
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return fail(error, path, "not a .npy file (bad magic bytes)");
  int major = (unsigned char)magic[6], minor = (unsigned char)magic[7];
  if (major < 1 || major > 3 || minor != 0)
    return fail(error, path,
                "unsupported .npy format version " + std::to_string(major) + "." +
                    std::to_string(minor) + " (1.0, 2.0 and 3.0 are)");
  // Version 1.0 stores the header length in 2 bytes, 2.0 and 3.0 in 4.
  unsigned char lenBytes[4] = {0, 0, 0, 0};
  int lenSize = major == 1 ? 2 : 4;
  if (!in.read(reinterpret_cast<char *>(lenBytes), lenSize))
    return fail(error, path, "truncated header");
  uint32_t headerLen = 0;
  for (int i = lenSize - 1; i >= 0; --i)
    headerLen = headerLen << 8 | lenBytes[i];
  size_t preamble = 8 + size_t(lenSize);
  if (int64_t(headerLen) > fileSize - int64_t(preamble))
    return fail(error, path,
                "truncated header: its length field says " + std::to_string(headerLen) +
                    " bytes, the file has " + std::to_string(fileSize - int64_t(preamble)) +
                    " after it");
  // Writers pad the header so that the data is aligned: numpy to 64 bytes (16 before 1.14),
  // other writers such as cnpy to 16. A length that breaks this was not written by one.
  dataOffset = preamble + headerLen;
  if (dataOffset % 16 != 0)
    return fail(error, path,
                "header length " + std::to_string(headerLen) +
                    " does not align the data (the preamble and header fill " +
                    std::to_string(dataOffset) +
                    " bytes, not a multiple of 16); the header length field may be wrong");
  std::string header(headerLen, '\0');
  if (!in.read(header.data(), headerLen))
    return fail(error, path, "truncated header");
  if (header.empty() || header.back() != '\n')
    return fail(error, path, "header does not end with a newline; its length field may be wrong");
  header.pop_back();
  std::string why;
  if (!HeaderParser(header, preamble).parse(h, why))
    return fail(error, path, why);
  return true;
}

/// The element size of a supported dtype, or 0.
int itemSizeOf(const std::string &descr) {
  if (descr == "<f4" || descr == "=f4") // '=' is native order, little-endian on our targets
    return 4;
  if (descr == "<f8" || descr == "=f8")
    return 8;
  return 0;
}

/// The size in bytes of the data `h` describes, checked against the `remaining` bytes of the
/// file before anything is allocated for it: a header that claims more than the file holds is
/// an error, not std::bad_alloc.
bool dataSize(const std::string &path, const Header &h, int itemSize, int64_t remaining,
              int64_t &count, std::string &error) {
  int64_t bytes = 0;
  count = 1;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(count, d, &count))
      return fail(error, path, "shape " + shapeString(h.shape) + " is too large");
  if (__builtin_mul_overflow(count, int64_t(itemSize), &bytes))
    return fail(error, path, "shape " + shapeString(h.shape) + " is too large");
  if (bytes > remaining)
    return fail(error, path,
                "truncated data: shape " + shapeString(h.shape) + " needs " +
                    std::to_string(bytes) + " bytes, the file has " + std::to_string(remaining) +
                    " after its header");
  if (bytes < remaining)
    return fail(error, path,
                "has bytes after the data of shape " + shapeString(h.shape) + " (" +
                    std::to_string(remaining - bytes) + " more than its " + std::to_string(bytes) +
                    ")");
  return true;
}

/// Reads `count` little-endian values of `itemSize` bytes, widened to double.
bool readData(std::istream &in, const std::string &path, int64_t count, int itemSize,
              std::vector<double> &data, std::string &error) {
  std::vector<char> raw(static_cast<size_t>(count) * itemSize);
  if (!in.read(raw.data(), std::streamsize(raw.size())))
    return fail(error, path, "read failed: " + std::string(std::strerror(errno)));
  data.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    if (itemSize == 4) {
      float f;
      std::memcpy(&f, raw.data() + i * 4, 4);
      data[i] = f;
    } else {
      std::memcpy(&data[i], raw.data() + i * 8, 8);
    }
  }
  return true;
}

} // namespace

bool load(const std::string &path, Array &out, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(error, path, std::string("cannot open: ") + std::strerror(errno));
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return fail(error, path, "is a directory, not a .npy file");
  int64_t fileSize = streamSize(in);
  if (fileSize < 0)
    return fail(error, path, "cannot read its size (not a regular file?)");
  return read(in, fileSize, path, out, error);
}

bool read(std::istream &in, int64_t size, const std::string &name, Array &out, std::string &error) {
  Header h;
  size_t dataOffset = 0;
  if (!readHeader(in, name, size, h, dataOffset, error))
    return false;
  int itemSize = itemSizeOf(h.descr);
  if (itemSize == 0)
    return fail(error, name,
                "dtype '" + h.descr + "' is not supported; use float32 or float64 (little-endian)");
  if (h.fortranOrder)
    return fail(error, name,
                "Fortran-ordered arrays are not supported; save a C-ordered array "
                "(numpy.ascontiguousarray)");
  int64_t count = 0;
  std::vector<double> data;
  if (!dataSize(name, h, itemSize, size - int64_t(dataOffset), count, error) ||
      !readData(in, name, count, itemSize, data, error))
    return false;
  out.shape = std::move(h.shape);
  out.data = std::move(data);
  return true;
}

bool loadIntegers(const std::string &path, std::vector<int64_t> &shape, std::vector<int64_t> &data,
                  std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(error, path, std::string("cannot open: ") + std::strerror(errno));
  int64_t size = streamSize(in);
  Header h;
  size_t dataOffset = 0;
  if (size < 0 || !readHeader(in, path, size, h, dataOffset, error))
    return size < 0 ? fail(error, path, "cannot read its size (not a regular file?)") : false;
  const bool i8 = h.descr == "<i8" || h.descr == "=i8", i4 = h.descr == "<i4" || h.descr == "=i4";
  if (!i8 && !i4)
    return fail(error, path, "dtype '" + h.descr + "' is not an integer type; use int64 or int32");
  if (h.fortranOrder)
    return fail(error, path, "Fortran-ordered arrays are not supported");
  int64_t count = 0;
  const int itemSize = i8 ? 8 : 4;
  if (!dataSize(path, h, itemSize, size - int64_t(dataOffset), count, error))
    return false;
  std::vector<char> raw(size_t(count) * size_t(itemSize));
  if (!in.read(raw.data(), std::streamsize(raw.size())))
    return fail(error, path, "read failed: " + std::string(std::strerror(errno)));
  data.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    int32_t v4;
    if (i8)
      std::memcpy(&data[size_t(i)], raw.data() + i * 8, 8);
    else
      std::memcpy(&v4, raw.data() + i * 4, 4), data[size_t(i)] = v4;
  }
  shape = h.shape;
  return true;
}

namespace {

/// Writes a .npy file of `bytes` bytes of `descr` data, through a temporary name.
bool saveRaw(const std::string &path, const std::vector<int64_t> &shape, const char *descr,
             const char *data, size_t bytes, std::string &error) {
  std::string header = std::string("{'descr': '") + descr +
                       "', 'fortran_order': False, 'shape': " + shapeString(shape) + ", }";
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
    out.write(data, std::streamsize(bytes));
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

} // namespace

bool saveFloat32(const std::string &path, const std::vector<int64_t> &shape,
                 const std::vector<double> &data, std::string &error) {
  std::vector<float> f(data.begin(), data.end());
  return saveRaw(path, shape, "<f4", reinterpret_cast<const char *>(f.data()), f.size() * 4, error);
}

bool saveFloat64(const std::string &path, const std::vector<int64_t> &shape,
                 const std::vector<double> &data, std::string &error) {
  return saveRaw(path, shape, "<f8", reinterpret_cast<const char *>(data.data()),
                 data.size() * 8, error);
}

bool saveInt64(const std::string &path, const std::vector<int64_t> &shape,
               const std::vector<int64_t> &data, std::string &error) {
  return saveRaw(path, shape, "<i8", reinterpret_cast<const char *>(data.data()), data.size() * 8,
                 error);
}

} // namespace cellc::npy
