// Source files and positions in them. Every diagnostic and every AST node points into a
// SourceFile through a byte Range; line and column are computed only when printing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cellc::dsl {

/// A half-open byte range [begin, end) in one source file.
struct Range {
  uint32_t begin = 0;
  uint32_t end = 0;
  static Range join(Range a, Range b) {
    return {a.begin < b.begin ? a.begin : b.begin, a.end > b.end ? a.end : b.end};
  }
};

struct LineCol {
  unsigned line; // 1-based
  unsigned col;  // 1-based, in bytes
};

class SourceFile {
public:
  SourceFile(std::string path, std::string text);

  const std::string &path() const { return path_; }
  const std::string &text() const { return text_; }
  LineCol lineCol(uint32_t offset) const;
  /// The text of a 1-based line, without its newline.
  std::string_view lineText(unsigned line) const;
  std::string_view slice(Range r) const {
    return std::string_view(text_).substr(r.begin, r.end - r.begin);
  }

private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> lineStarts_;
};

/// Reads a file; returns false (and leaves `out` empty) when it cannot be read.
bool readFile(const std::string &path, std::string &out);

} // namespace cellc::dsl
