// Reading and writing .npy files: round trips, float64 input, and the errors for malformed
// files, each of which must name the file.
#include "runtime/Npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace cellrt;

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
                       int major = 1) {
    std::string header = dict;
    size_t lenSize = major == 1 ? 2 : 4;
    size_t total = 8 + lenSize + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header += '\n';
    std::string bytes = std::string("\x93NUMPY", 6) + char(major) + char(0);
    uint32_t len = uint32_t(header.size());
    for (size_t i = 0; i < lenSize; ++i)
      bytes += char((len >> (8 * i)) & 0xff);
    bytes += header + payload;
    return writeBytes(name, bytes);
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
  EXPECT_NE(error.find("truncated data: shape (2, 3) needs 24 bytes, the file has 20"),
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

TEST_F(Npy, SaveIntoAMissingDirectoryNamesTheFile) {
  std::string p = path("no/such/dir/out.npy"), error;
  EXPECT_FALSE(npy::saveFloat32(p, {1}, {1}, error));
  EXPECT_NE(error.find(p), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(p));
}

} // namespace
