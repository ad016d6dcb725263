// Reading and writing .npy files: round trips, float64 input, and the errors for malformed
// files, each of which must name the file.
#include "cli/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace cellc;

namespace {

class Npy : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cellc_npy_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string &name) const { return (dir_ / name).string(); }

  /// Writes a .npy file by hand: magic, version, header length, the header dict padded to a
  /// multiple of 64 bytes, then `payload`.
  std::string writeRaw(const std::string &name, const std::string &dict, const std::string &payload,
                       int major = 1, size_t align = 64) {
    std::string header = dict;
    size_t total = 8 + lengthSize(major) + header.size() + 1;
    header.append((align - total % align) % align, ' ');
    header += '\n';
    return writeBytes(name, preamble(major, header.size()) + header + payload);
  }

  static size_t lengthSize(int major) { return major == 1 ? 2 : 4; }

  /// Magic, version `major`.0 and the little-endian header length.
  static std::string preamble(int major, size_t headerLen) {
    std::string bytes = std::string("\x93NUMPY", 6) + char(major) + char(0);
    for (size_t i = 0; i < lengthSize(major); ++i)
      bytes += char((headerLen >> (8 * i)) & 0xff);
    return bytes;
  }

  std::string writeBytes(const std::string &name, const std::string &bytes) {
    std::string p = path(name);
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    return p;
  }

  template <typename T> static std::string raw(const std::vector<T> &v) {
    return std::string(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(T));
  }

  /// Loads `p`, expecting failure; returns the error.
  static std::string loadError(const std::string &p) {
    npy::Array a;
    std::string error;
    EXPECT_FALSE(npy::load(p, a, error)) << p;
    EXPECT_NE(error.find(p), std::string::npos) << "the error does not name the file: " << error;
    return error;
  }

  fs::path dir_;
};

TEST_F(Npy, ShapeString) {
  EXPECT_EQ(npy::shapeString({}), "()");
  EXPECT_EQ(npy::shapeString({3}), "(3,)");
  EXPECT_EQ(npy::shapeString({2, 3, 4}), "(2, 3, 4)");
}

TEST_F(Npy, RoundTripFloat32) {
  std::vector<double> data = {1, -2.5, 0.1, 1e-30, 3e38, 0, -0.0, 65504.25};
  std::string p = path("a.npy"), error;
  ASSERT_TRUE(npy::saveFloat32(p, {2, 4}, data, error)) << error;
  EXPECT_FALSE(fs::exists(p + ".tmp"));
  npy::Array a;
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 4}));
  ASSERT_EQ(a.data.size(), data.size());
  for (size_t i = 0; i < data.size(); ++i)
    EXPECT_EQ(a.data[i], double(float(data[i]))) << i; // rounded to float32, exactly
  EXPECT_TRUE(std::signbit(a.data[6]));
  // The header is padded so that the data starts at a multiple of 64 bytes.
  EXPECT_EQ((fs::file_size(p) - data.size() * 4) % 64, 0u);
}

TEST_F(Npy, RoundTripScalarAndVector) {
  std::string error;
  npy::Array a;
  ASSERT_TRUE(npy::saveFloat32(path("s.npy"), {}, {4.5}, error)) << error;
  ASSERT_TRUE(npy::load(path("s.npy"), a, error)) << error;
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.data, (std::vector<double>{4.5}));
  ASSERT_TRUE(npy::saveFloat32(path("v.npy"), {3}, {1, 2, 3}, error)) << error;
  ASSERT_TRUE(npy::load(path("v.npy"), a, error)) << error;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(a.data, (std::vector<double>{1, 2, 3}));
  ASSERT_TRUE(npy::saveFloat32(path("e.npy"), {0, 5}, {}, error)) << error;
  ASSERT_TRUE(npy::load(path("e.npy"), a, error)) << error;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(a.data.empty());
}

TEST_F(Npy, OverwritesAnExistingFile) {
  std::string p = path("o.npy"), error;
  ASSERT_TRUE(npy::saveFloat32(p, {4}, {1, 2, 3, 4}, error));
  ASSERT_TRUE(npy::saveFloat32(p, {1}, {9}, error));
  npy::Array a;
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_EQ(a.data, (std::vector<double>{9}));
}

TEST_F(Npy, LoadFloat64) {
  std::vector<double> v = {0.1, -1e300, 3.141592653589793, 5e-324, 2, 7};
  std::string p =
      writeRaw("d.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }", raw(v));
  npy::Array a;
  std::string error;
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(a.data, v); // no rounding through float
}

TEST_F(Npy, LoadVersion2HeaderAndDoubleQuotes) {
  std::vector<float> v = {1.5f, -2};
  std::string p = writeRaw("v2.npy", R"({"descr": "<f4", "fortran_order": False, "shape": (2,)})",
                           raw(v), /*major=*/2);
  npy::Array a;
  std::string error;
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_EQ(a.data, (std::vector<double>{1.5, -2}));
}

TEST_F(Npy, MissingFile) {
  std::string error = loadError(path("nope.npy"));
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
}

TEST_F(Npy, BadMagic) {
  std::string error = loadError(writeBytes("m.npy", "PK\x03\x04 this is a zip file, not npy"));
  EXPECT_NE(error.find("not a .npy file (bad magic bytes)"), std::string::npos) << error;
  std::string shortFile = loadError(writeBytes("s.npy", "\x93NU"));
  EXPECT_NE(shortFile.find("bad magic"), std::string::npos) << shortFile;
}

TEST_F(Npy, UnsupportedVersion) {
  std::string error =
      loadError(writeBytes("v.npy", std::string("\x93NUMPY\x07\x00", 8) + std::string(100, ' ')));
  EXPECT_NE(error.find("unsupported .npy format version 7"), std::string::npos) << error;
}

TEST_F(Npy, WrongDtype) {
  std::vector<int32_t> v = {1, 2, 3};
  std::string error = loadError(
      writeRaw("i.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", raw(v)));
  EXPECT_NE(error.find("dtype '<i4' is not supported"), std::string::npos) << error;
  std::string big = loadError(
      writeRaw("b.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (3,), }", raw(v)));
  EXPECT_NE(big.find("dtype '>f4' is not supported"), std::string::npos) << big;
}

TEST_F(Npy, FortranOrder) {
  std::vector<float> v = {1, 2, 3, 4};
  std::string error = loadError(
      writeRaw("f.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", raw(v)));
  EXPECT_NE(error.find("Fortran-ordered arrays are not supported"), std::string::npos) << error;
}

TEST_F(Npy, TruncatedData) {
  std::vector<float> v = {1, 2, 3, 4, 5};
  std::string error = loadError(
      writeRaw("t.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw(v)));
  EXPECT_NE(
      error.find("truncated data: shape (2, 3) needs 24 bytes, the file has 20 after its header"),
      std::string::npos)
      << error;
}

TEST_F(Npy, TruncatedHeader) {
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(0x76) + char(0) + "{'descr'";
  std::string error = loadError(writeBytes("h.npy", bytes));
  EXPECT_NE(error.find("truncated header"), std::string::npos) << error;
}

TEST_F(Npy, TrailingBytes) {
  std::vector<float> v = {1, 2, 3, 4};
  std::string error = loadError(
      writeRaw("x.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", raw(v)));
  EXPECT_NE(error.find("has bytes after the data of shape (3,)"), std::string::npos) << error;
}

TEST_F(Npy, MalformedShape) {
  std::string error = loadError(
      writeRaw("s.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", ""));
  EXPECT_NE(error.find("malformed shape"), std::string::npos) << error;
  std::string noShape =
      loadError(writeRaw("n.npy", "{'descr': '<f4', 'fortran_order': False, }", ""));
  EXPECT_NE(noShape.find("header has no 'shape'"), std::string::npos) << noShape;
}

// What numpy writes (numpy.save, numpy.lib.format.write_array with version=(v, 0)) in each
// format version, and what other writers do within the format: keys in another order, double
// quotes, no trailing comma, the header padded to 16 bytes (numpy before 1.14, cnpy).
TEST_F(Npy, AcceptsTheHeadersWritersWrite) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  std::vector<std::pair<std::string, std::string>> headers = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", "(2, 3)"},
      {"{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", "(2, 3)"},
      {R"({"descr":"<f4","fortran_order":False,"shape":(2,3,)})", "(2, 3)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", "(6,)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 6, 1), }", "(1, 6, 1)"},
      {"{ 'descr' : '=f4' ,\t'fortran_order' : False , 'shape' : ( 6 , ) , }", "(6,)"}};
  int n = 0;
  for (int major : {1, 2, 3})
    for (size_t align : {64, 16})
      for (auto &[dict, shape] : headers) {
        std::string p = writeRaw("ok" + std::to_string(n++) + ".npy", dict, raw(v), major, align);
        npy::Array a;
        std::string error;
        ASSERT_TRUE(npy::load(p, a, error)) << error << "\n" << dict;
        EXPECT_EQ(npy::shapeString(a.shape), shape) << dict;
        EXPECT_EQ(a.data, (std::vector<double>{1, 2, 3, 4, 5, 6})) << dict;
      }
  npy::Array a;
  std::string error;
  std::vector<float> one = {2.5f};
  std::string p =
      writeRaw("s.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", raw(one));
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.data, (std::vector<double>{2.5}));
}

// Regression: the header dict was searched with regexes, so a header that is not a dict
// literal (a stray byte in its padding, say) was read; numpy.load rejects those ("Cannot parse
// header"). Each line here is a header numpy cannot read, or one it reads differently.
TEST_F(Npy, RejectsHeadersThatAreNotTheDictNumpyWrites) {
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  std::vector<std::pair<std::string, std::string>> bad = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          X",
       "malformed header: only spaces may follow the dict at byte 79, found 'X'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }}",
       "only spaces may follow the dict"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
       "unknown key 'extra' at byte 68 (a .npy header has exactly 'descr', 'fortran_order' and "
       "'shape')"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (6,)}",
       "key 'shape' appears twice"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ",
       "expected a quoted key at byte 127, found the end of the header"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",
       "expected ',' or '}' at byte 26, found '''"},
      {"{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", "expected a quoted key"},
      {"dict(descr='<f4', fortran_order=False, shape=(2, 3))", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}",
       "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
       "'fortran_order' must be True or False"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}",
       "'descr' must be a dtype string such as '<f4' (structured dtypes are not supported)"},
      {"{'descr': '<f4\\x00', 'fortran_order': False, 'shape': (2, 3)}",
       "unsupported character in a string"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",
       "expected ',' or '}' at byte 27, found 'f'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3) # comment\n}",
       "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False}", "header has no 'shape'"},
      {"{'fortran_order': False, 'shape': (2, 3)}", "header has no 'descr'"},
      {"{'descr': '<f4', 'shape': (2, 3)}", "header has no 'fortran_order'"}};
  int n = 0;
  for (auto &[dict, message] : bad) {
    std::string error = loadError(writeRaw("b" + std::to_string(n++) + ".npy", dict, raw(v)));
    EXPECT_NE(error.find(message), std::string::npos) << dict << "\n" << error;
  }
}

TEST_F(Npy, RejectsShapesThatAreNotTuplesOfWholeNumbers) {
  std::vector<std::pair<std::string, std::string>> bad = {
      {"(6)", "malformed shape: (n) is a number, not a tuple; expected (n,)"},
      {"[2, 3]", "malformed shape: expected a tuple such as (2, 3)"},
      {"(2, -3)", "malformed shape: expected a whole number >= 0 at byte"},
      {"(2, 3.0)", "malformed shape: expected ',' or ')'"},
      {"(0x6,)", "malformed shape: expected ',' or ')'"},
      {"(06,)", "malformed shape: a number with a leading zero"},
      {"(6L,)", "malformed shape: expected ',' or ')'"},
      {"(,)", "malformed shape: expected a whole number >= 0"},
      {"(2,, 3)", "malformed shape: expected a whole number >= 0"},
      {"(2 3)", "malformed shape: expected ',' or ')'"},
      {"(2, 3", "malformed shape: expected ',' or ')' at byte"},
      {"(99999999999999999999,)", "shape dimension 99999999999999999999 is too large"}};
  int n = 0;
  for (auto &[shape, message] : bad) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + "}";
    std::string error = loadError(writeRaw("s" + std::to_string(n++) + ".npy", dict, ""));
    EXPECT_NE(error.find(message), std::string::npos) << shape << "\n" << error;
  }
}

// The header length must agree with the version (2 bytes in 1.0, 4 in 2.0 and 3.0), with the
// file, with the final newline, and with the padding that aligns the data.
TEST_F(Npy, HeaderLengthAndPaddingAgreeWithTheFormat) {
  auto expectError = [&](const std::string &name, const std::string &bytes,
                         const std::string &message) {
    std::string error = loadError(writeBytes(name, bytes));
    EXPECT_NE(error.find(message), std::string::npos) << error;
  };
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }"; // 57 bytes
  std::string data(4, '\0');
  std::string header = dict + std::string(128 - 10 - dict.size() - 1, ' ') + "\n";
  // Padded for a 10-byte preamble (version 1.0) but labelled 2.0: the length is read from 4
  // bytes, two of them the header's first.
  expectError("v2.npy",
              std::string("\x93NUMPY\x02\x00", 8) + preamble(1, header.size()).substr(8) + header +
                  data,
              "truncated header");
  expectError("nl.npy",
              preamble(1, header.size()) + header.substr(0, header.size() - 1) + " " + data,
              "header does not end with a newline; its length field may be wrong");
  // A length 16 bytes short: the header ends inside the padding, not on its newline.
  expectError("short.npy", preamble(1, header.size() - 16) + header + data,
              "does not end with a newline");
  expectError("u.npy", preamble(1, dict.size() + 1) + dict + "\n" + data,
              "header length 58 does not align the data (the preamble and header fill 68 bytes, "
              "not a multiple of 16)");
  expectError("long.npy", preamble(2, 1u << 31) + header,
              "truncated header: its length field says 2147483648 bytes, the file has 118 after "
              "it");
  expectError("minor.npy",
              std::string("\x93NUMPY\x01\x01", 8) + preamble(1, header.size()).substr(8) + header +
                  data,
              "unsupported .npy format version 1.1");
}

// Regression: the reader allocated what the header's shape asked for before it read the data,
// so a 138-byte file claiming (1048576, 1048576) died of std::bad_alloc. The size the shape
// needs is now compared with the file first.
TEST_F(Npy, HugeShapeIsAnErrorNotAnAllocation) {
  std::vector<float> v = {1, 2};
  std::string error = loadError(writeRaw(
      "h.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1048576, 1048576), }", raw(v)));
  EXPECT_NE(error.find("truncated data: shape (1048576, 1048576) needs 4398046511104 bytes, the "
                       "file has 8 after its header"),
            std::string::npos)
      << error;
  std::string f8 = loadError(writeRaw(
      "d.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (300000000,), }", raw(v)));
  EXPECT_NE(f8.find("needs 2400000000 bytes, the file has 8"), std::string::npos) << f8;
  // Element counts and byte counts that overflow 64 bits.
  for (std::string shape :
       {"(9223372036854775807,)", "(4294967296, 4294967296)", "(3, 4611686018427387904)"}) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
    std::string e = loadError(writeRaw("o.npy", dict, raw(v)));
    EXPECT_NE(e.find("shape " + shape + " is too large"), std::string::npos) << e;
  }
  // A zero dimension makes any other one harmless: no data, and none in the file.
  npy::Array a;
  std::string p = writeRaw(
      "z.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4611686018427387904), }", "");
  ASSERT_TRUE(npy::load(p, a, error)) << error;
  EXPECT_TRUE(a.data.empty());
}

TEST_F(Npy, DirectoryIsNotAFile) {
  std::string p = path("dir.npy");
  fs::create_directories(p);
  EXPECT_NE(loadError(p).find("is a directory, not a .npy file"), std::string::npos);
}

TEST_F(Npy, SaveIntoAMissingDirectoryNamesTheFile) {
  std::string p = path("no/such/dir/out.npy"), error;
  EXPECT_FALSE(npy::saveFloat32(p, {1}, {1}, error));
  EXPECT_NE(error.find(p), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(p));
}

} // namespace
