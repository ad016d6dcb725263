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
//
// The plan is data (DESIGN.md §4): besides the kernels it holds the buffers every argument is
// bound to (the caller's tensors, by their position in the signature; workspace and reserve
// slots) and the programs cellrt's executor runs — inference, training forward, backward —
// with their time loops and directions. It is target-neutral: it says "matvec with operand
// W_hh"; a backend decides how to lay that operand out (compiler/backend/halide/GemmPacking.h).
#pragma once

#include "compiler/ir/IR.h"
#include "runtime/cellrt/SequencePlan.h"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace cellc::plan {

/// Where a kernel argument lives; the runtime glue binds each role to memory.
enum class Role {
  Input,      // a user input sequence [T][B][n]
  State,      // forward: the previous state [B][n]
  Param,      // a param (see Use: how a kernel reads it)
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

/// How a kernel reads a param: as values, or as the matrix of a GEMM (which a backend may
/// lay out for its GEMMs).
enum class Use { Values, MatVecMatrix, MatTVecMatrix };

/// The buffer a kernel argument is bound to, and how the kernel sees it.
struct Binding {
  int buffer = -1;
  cellrt::ViewKind view = cellrt::ViewKind::Samples;
  cellrt::Slot slot = cellrt::Slot::All;
  int rank = 2;
};

struct Arg {
  Role role;
  std::string name; // tensor name, or "v<id>" for frontier/saved values
  ir::ValueId node; // the node of the kernel's function this argument carries
  ir::Type type;
  Use use = Use::Values;
  Binding binding;
};

struct Kernel {
  std::string name; // forward_pre, forward_step, forward_step_train, ...
  cellrt::KernelKind kind;
  bool backward; // a kernel of the gradient function
  std::vector<Arg> inputs, outputs;
  std::vector<ir::ValueId> computes; // nodes evaluated inside, in order
  bool perStep() const { return kind == cellrt::KernelKind::Step; }
};

/// A buffer of the sequence: a caller's tensor, or a workspace or reserve slot.
struct Buffer {
  std::string name;  // "x", "W_hh", "state h", "f8", "s23", "packed W_hh^T"
  std::string label; // in the executor's messages: "param W_hh"
  cellrt::Storage storage;
  int index = -1; // In/Out: position in the call's pointer array
  cellrt::Extent extent;
  Size len, cols = Size::constant(1);
  bool optional = false, pingPong = false;
};

/// A position of a call's pointer arrays (cellrt::PortDecl): what the stack call composes.
struct Port {
  std::string tensor;
  cellrt::PortKind kind;
  bool backward, written;
  int index;
  std::optional<Size> len; // elements per sample of a sequence or state; none for params and
                           // for shapes whose product is not affine
};

struct Program {
  std::string name; // "forward" or "backward": what messages call it
  std::vector<cellrt::Step> steps;
};

/// A value the forward keeps for the backward.
struct ReserveSlot {
  ir::ValueId forwardNode;
  std::string name; // v<id>
  ir::Type type;
};

struct Plan {
  std::string cell;
  std::vector<std::string> dims; // the free dims: a call's shape is {T, B, dims...}
  std::vector<Kernel> kernels;
  std::vector<ReserveSlot> reserve;
  std::vector<Arg> frontiers; // workspace sequence buffers (forward and backward)
  std::vector<Buffer> buffers;
  Program inference, training, backward;
  int64_t packPadding = 1; // a backend's: packed matrices' rows are padded to a multiple
  int forwardIn = 0, forwardOut = 0, backwardIn = 0, backwardOut = 0;
  std::vector<Port> ports;

  int addBuffer(Buffer b) {
    buffers.push_back(std::move(b));
    return int(buffers.size()) - 1;
  }
};

/// Plans the kernels of a simplified cell and its gradient, binds their arguments to buffers
/// and writes the programs.
Plan makePlan(const ir::Cell &cell, const ir::Gradient &grad);

/// Prints the plan (--emit=plan): kernels in execution order with what they read, compute
/// (GEMMs named) and write, then the workspace and reserve layouts per sample.
void printPlan(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad, const Plan &p);

} // namespace cellc::plan
