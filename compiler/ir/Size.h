// Symbolic sizes: affine expressions c + k1*D1 + k2*D2 + ... over dimension names, with
// integer coefficients. Enough for the shapes cells declare ([4*H, I], [H + I], slices at
// multiples of H) and closed under what shape inference needs: +, -, scaling, exact division.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace cellc {

using DimValues = std::map<std::string, int64_t>;

class Size {
public:
  Size() = default;
  static Size constant(int64_t c) {
    Size s;
    s.constant_ = c;
    return s;
  }
  static Size symbol(const std::string &dim) {
    Size s;
    s.terms_[dim] = 1;
    return s;
  }

  // Arithmetic returns nullopt on 64-bit overflow; the caller reports it.
  std::optional<Size> plus(const Size &o) const;
  std::optional<Size> minus(const Size &o) const;
  std::optional<Size> scaled(int64_t k) const;
  /// This / n when every coefficient divides, else nullopt.
  std::optional<Size> dividedBy(int64_t n) const;
  /// Replaces the dims that have values (from -D) by those values.
  std::optional<Size> substitute(const DimValues &v) const;

  bool isConstant() const { return terms_.empty(); }
  int64_t constantPart() const { return constant_; }
  const std::map<std::string, int64_t> &terms() const { return terms_; }
  /// Whether this is >= 0 for every binding of its dims (dims are at least 1): the least value
  /// is the constant plus every coefficient, when no coefficient is negative.
  bool provablyNonNegative() const;
  /// The value once every dim is bound; nullopt if a dim is missing or on overflow.
  std::optional<int64_t> evaluate(const DimValues &v) const;

  bool operator==(const Size &o) const { return constant_ == o.constant_ && terms_ == o.terms_; }
  bool operator!=(const Size &o) const { return !(*this == o); }
  bool operator<(const Size &o) const {
    return constant_ != o.constant_ ? constant_ < o.constant_ : terms_ < o.terms_;
  }
  /// "4*H", "H + I", "2*H - 1", "0".
  std::string str() const;

private:
  void normalize();
  int64_t constant_ = 0;
  std::map<std::string, int64_t> terms_; // no zero coefficients
};

} // namespace cellc
