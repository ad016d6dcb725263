// The kernel plan: how a cell's forward and backward steps become kernels over a sequence.
//
// Values split by time dependence (DESIGN.md §4):
//  - forward: what does not depend on a state is time-parallel and computed for all T·B
//    samples at once before the loop (`forward_pre`, e.g. W_ih @ x as one GEMM); the rest is
//    the recurrent step (`forward_step`, the W_hh @ h GEMM and the fused pointwise tail);
//  - backward: what the gradient of the previous state needs is the sequential step
//    (`backward_step`, the pointwise backward and W_hh^T dz); everything else — dx and every
//    param gradient — is hoisted after the loop over all T·B samples (`backward_post`, one GEMM
//    or reduction each).
// Values crossing from one kernel to another go through per-sample buffers ([T][B][n]) in the
// workspace; what forward keeps for backward (the saved set) goes to the reserve.
#pragma once

#include "compiler/IR.h"

#include <ostream>
#include <string>
#include <vector>

namespace cellc::plan {

/// Where a kernel argument lives; the runtime glue binds each role to memory.
enum class Role {
  Input,      // a user input sequence [T][B][n]
  State,      // forward: the previous state [B][n]
  Param,      // a param in its declared layout
  ParamT,     // a matrix param packed transposed ([cols][rows], rows padded) for matvec
  ParamP,     // a matrix param packed as is ([rows][cols], cols padded) for matvec_t
  Frontier,   // a value passed between kernels, workspace [T][B][n]
  Saved,      // a forward value kept for backward, reserve [T][B][n]
  SeedOutput, // backward: the user's gradient of an output [T][B][n]
  Carry,      // backward: the gradient reaching a new state from the step after [B][n]
  NewState,   // forward: a state's next value [B][n]
  Output,     // forward: an output [T][B][n]
  CarryOut,   // backward: the gradient of a previous state [B][n]
  GradInput,  // backward: an input's gradient [T][B][n]
  GradParam,  // backward: a param's gradient, summed over all samples
};
const char *roleName(Role r);

struct Arg {
  Role role;
  std::string name; // tensor name, or "v<id>" for frontier/saved values
  ir::ValueId node; // the node of the kernel's function this argument carries
  ir::Type type;
};

struct Kernel {
  std::string name; // forward_pre, forward_step, forward_step_train, ...
  bool perStep;     // runs once per time step over B samples, else once over T·B
  bool backward;    // a kernel of the gradient function
  std::vector<Arg> inputs, outputs;
  std::vector<ir::ValueId> computes; // nodes evaluated inside, in order
};

/// A value the forward keeps for the backward.
struct ReserveSlot {
  ir::ValueId forwardNode;
  std::string name; // v<id>
  ir::Type type;
};

struct Plan {
  std::vector<Kernel> kernels;
  std::vector<ReserveSlot> reserve;
  std::vector<Arg> frontiers; // workspace sequence buffers (forward and backward)
};

/// Plans the kernels of a simplified cell and its gradient.
Plan makePlan(const ir::Cell &cell, const ir::Gradient &grad);

/// Prints the plan (--emit=plan): kernels in execution order with what they read, compute
/// (GEMMs named) and write, then the workspace and reserve layouts per sample.
void printPlan(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad, const Plan &p);

} // namespace cellc::plan
