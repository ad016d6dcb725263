// Binds dims from sizes whose values are known, one unknown at a time, the way a call binds
// its dims from tensor shapes: in k*D + rest = value with every dim of `rest` bound,
// D = (value - rest) / k. Sema asks the same question without values (can every dim be
// bound?), `cellc run` with the shapes of its files.
#pragma once

#include "compiler/ir/Size.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cellc {

class DimSolver {
public:
  explicit DimSolver(DimValues bound = {}) : values_(std::move(bound)) {}

  /// size == value; without a value the equation only says which dim it can bind.
  void add(const Size &size, std::optional<int64_t> value = std::nullopt) {
    equations_.push_back({size, value});
  }
  /// Binds every dim it can. Returns the index of the first equation that no whole value >= 1
  /// of its unknown satisfies, or -1.
  int solve();

  /// Whether `dim` has a value, or (for equations without values) could be given one.
  bool bindable(const std::string &dim) const { return values_.count(dim) || solvable_.count(dim); }
  const DimValues &values() const { return values_; }

private:
  struct Equation {
    Size size;
    std::optional<int64_t> value;
  };
  std::vector<Equation> equations_;
  DimValues values_;
  std::set<std::string> solvable_;
};

} // namespace cellc
