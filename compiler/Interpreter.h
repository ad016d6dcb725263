// The reference interpreter: runs a Cell over a whole sequence in double precision, one
// sample and one step at a time, straight from the IR. It defines the semantics every
// compiled backend must reproduce, and computes backpropagation through time (BPTT) from the
// Gradient function.
#pragma once

#include "compiler/IR.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cellc::interp {

using Buffer = std::vector<double>;

/// Everything a run needs. Sequences are [T][B][n] row-major; states [B][n]; params in their
/// declared shape ([rows][cols] row-major).
struct SequenceData {
  int64_t T = 0, B = 0;
  DimValues dims; // every dim of the cell, bound
  std::map<std::string, Buffer> inputs;
  std::map<std::string, Buffer> initStates; // a missing state starts at its declared init
  std::map<std::string, Buffer> params;
};

struct ForwardResult {
  std::map<std::string, Buffer> outputs;     // [T][B][n]
  std::map<std::string, Buffer> finalStates; // [B][n]
  /// For backward: the saved forward values, [T][B][n] per saved node id.
  std::map<ir::ValueId, Buffer> saved;
};

struct GradientSeeds {
  std::map<std::string, Buffer> outputs;     // d loss / d output, [T][B][n]; required
  std::map<std::string, Buffer> finalStates; // d loss / d final state, [B][n]; zero if missing
};

struct BackwardResult {
  std::map<std::string, Buffer> inputs;     // [T][B][n]
  std::map<std::string, Buffer> initStates; // [B][n]
  std::map<std::string, Buffer> params;     // summed over time and batch
};

/// Number of elements of a type once dims are bound.
int64_t elementCount(const ir::Type &t, const DimValues &dims);

/// Runs the forward step over the sequence. Keeps the values of `toSave` (node ids of
/// cell.step) for a later backward.
ForwardResult forward(const ir::Cell &cell, const SequenceData &data,
                      const std::vector<ir::ValueId> &toSave = {});

/// BPTT: runs `grad` over the sequence in reverse time.
BackwardResult backward(const ir::Cell &cell, const ir::Gradient &grad, const SequenceData &data,
                        const ForwardResult &fwd, const GradientSeeds &seeds);

} // namespace cellc::interp
