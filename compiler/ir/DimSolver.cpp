#include "compiler/ir/DimSolver.h"

namespace cellc {

int DimSolver::solve() {
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t i = 0; i < equations_.size(); ++i) {
      const Equation &e = equations_[i];
      std::string unknown;
      int unknowns = 0;
      for (auto &[d, k] : e.size.terms())
        if (!bindable(d))
          ++unknowns, unknown = d;
      if (unknowns != 1)
        continue;
      progress = true;
      int64_t k = e.size.terms().at(unknown);
      std::optional<Size> rest = e.size.minus(*Size::symbol(unknown).scaled(k));
      std::optional<int64_t> r = rest ? rest->evaluate(values_) : std::nullopt;
      if (!e.value || !r) { // no values to compute with: it can be bound, that is all
        solvable_.insert(unknown);
        continue;
      }
      int64_t v = (*e.value - *r) / k;
      if ((*e.value - *r) % k != 0 || v < 1)
        return int(i);
      values_[unknown] = v;
    }
  }
  return -1;
}

} // namespace cellc
