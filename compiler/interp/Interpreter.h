// The reference interpreter: runs a cell's sequence plan in double precision through
// cellrt's executor — the same programs, time loops and buffers a compiled library runs —
// with its own kernels, which evaluate the plan's IR nodes one sample at a time. It defines
// the semantics every compiled backend must reproduce, and computes backpropagation through
// time (BPTT) from the Gradient function.
#pragma once

#include "compiler/ir/IR.h"
#include "compiler/plan/Planner.h"
#include "compiler/plan/RuntimePlan.h"
#include "runtime/cellrt/Stack.h"

#include <memory>

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

/// The plan of a cell run in process, with the C ABI's calling convention (pointer arrays in
/// signature order, see compiler/abi/Signature.h) over doubles.
class SequenceInterpreter {
public:
  SequenceInterpreter(const ir::Cell &cell, const ir::Gradient &grad);
  ~SequenceInterpreter();

  int workspaceSize(const int64_t *shape, int64_t *bytes);
  int reserveSize(const int64_t *shape, int64_t *bytes);
  /// Inference when `reserve` is null, else a training forward. 0 or a cellrt error code.
  int forward(const int64_t *shape, const double *const *in, double *const *out, void *workspace,
              int64_t workspaceBytes, void *reserve, int64_t reserveBytes);
  int backward(const int64_t *shape, const double *const *in, double *const *out, void *workspace,
               int64_t workspaceBytes, const void *reserve, int64_t reserveBytes);
  /// The stack call (cellrt/Stack.h) over the same plan.
  int stackSize(const int64_t *shape, const cellrt::StackConfig &c, int64_t *bytes, bool reserve);
  int stackForward(const int64_t *shape, const cellrt::StackConfig &c, const double *const *in,
                   double *const *out, void *workspace, int64_t workspaceBytes, void *reserve,
                   int64_t reserveBytes);
  int stackBackward(const int64_t *shape, const cellrt::StackConfig &c, const double *const *in,
                    double *const *out, void *workspace, int64_t workspaceBytes,
                    const void *reserve, int64_t reserveBytes);
  const plan::Plan &plan() const { return plan_; }
  const cellrt::SequencePlan &tables() const { return tables_->tables(); }

  class Kernels; // the interpreter's kernels, a cellrt Invoker

private:
  plan::Plan plan_;
  std::unique_ptr<plan::RuntimePlan> tables_;
  std::unique_ptr<Kernels> kernels_;
};

/// Number of elements of a type once dims are bound.
int64_t elementCount(const ir::Type &t, const DimValues &dims);

/// Runs the forward step over the sequence. With `toSave` non-empty it is a training forward
/// that keeps the values the plan's reserve holds (among them `toSave`, node ids of
/// cell.step, when they are values the gradient reads) for a later backward.
ForwardResult forward(const ir::Cell &cell, const SequenceData &data,
                      const std::vector<ir::ValueId> &toSave = {});

/// BPTT: runs `grad` over the sequence in reverse time.
BackwardResult backward(const ir::Cell &cell, const ir::Gradient &grad, const SequenceData &data,
                        const ForwardResult &fwd, const GradientSeeds &seeds);

} // namespace cellc::interp
