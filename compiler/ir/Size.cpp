#include "compiler/ir/Size.h"

namespace cellc {

static bool addOv(int64_t a, int64_t b, int64_t &r) { return __builtin_add_overflow(a, b, &r); }
static bool mulOv(int64_t a, int64_t b, int64_t &r) { return __builtin_mul_overflow(a, b, &r); }

void Size::normalize() {
  for (auto it = terms_.begin(); it != terms_.end();)
    it = it->second == 0 ? terms_.erase(it) : std::next(it);
}

bool Size::provablyNonNegative() const {
  int64_t least = constant_;
  for (auto &[d, k] : terms_)
    if (k < 0 || addOv(least, k, least))
      return false;
  return least >= 0;
}

std::optional<Size> Size::plus(const Size &o) const {
  Size r = *this;
  if (addOv(r.constant_, o.constant_, r.constant_))
    return std::nullopt;
  for (auto &[d, k] : o.terms_)
    if (addOv(r.terms_[d], k, r.terms_[d]))
      return std::nullopt;
  r.normalize();
  return r;
}

std::optional<Size> Size::minus(const Size &o) const {
  std::optional<Size> neg = o.scaled(-1);
  return neg ? plus(*neg) : std::nullopt;
}

std::optional<Size> Size::scaled(int64_t k) const {
  Size r = *this;
  if (mulOv(r.constant_, k, r.constant_))
    return std::nullopt;
  for (auto &[d, c] : r.terms_)
    if (mulOv(c, k, c))
      return std::nullopt;
  r.normalize();
  return r;
}

std::optional<Size> Size::dividedBy(int64_t n) const {
  if (n <= 0 || constant_ % n != 0)
    return std::nullopt;
  Size r = *this;
  r.constant_ /= n;
  for (auto &[d, c] : r.terms_) {
    if (c % n != 0)
      return std::nullopt;
    c /= n;
  }
  return r;
}

std::optional<Size> Size::substitute(const DimValues &v) const {
  Size r = Size::constant(constant_);
  for (auto &[d, k] : terms_) {
    auto it = v.find(d);
    std::optional<Size> term =
        it == v.end() ? Size::symbol(d).scaled(k) : Size::constant(it->second).scaled(k);
    if (!term)
      return std::nullopt;
    std::optional<Size> sum = r.plus(*term);
    if (!sum)
      return std::nullopt;
    r = *sum;
  }
  return r;
}

std::optional<int64_t> Size::evaluate(const DimValues &v) const {
  std::optional<Size> s = substitute(v);
  if (!s || !s->isConstant())
    return std::nullopt;
  return s->constant_;
}

std::string Size::str() const {
  std::string s;
  for (auto &[d, k] : terms_) {
    int64_t mag = k < 0 ? -k : k;
    if (s.empty())
      s += k < 0 ? "-" : "";
    else
      s += k < 0 ? " - " : " + ";
    if (mag != 1)
      s += std::to_string(mag) + "*";
    s += d;
  }
  if (s.empty())
    return std::to_string(constant_);
  if (constant_ > 0)
    s += " + " + std::to_string(constant_);
  else if (constant_ < 0)
    s += " - " + std::to_string(-constant_);
  return s;
}

} // namespace cellc
