// The second half of planning: every kernel argument bound to a buffer (the caller's tensors
// by their place in the signature, workspace and reserve slots), and the three programs the
// executor runs. What a sequence call does is written here once, as data.
#include "compiler/plan/PlanBindings.h"

#include "compiler/abi/Signature.h"

#include <map>
#include <stdexcept>

namespace cellc::plan {

using cellrt::Extent;
using cellrt::Slot;
using cellrt::Storage;
using cellrt::ViewKind;

namespace {

class Binder {
public:
  Binder(const ir::Cell &c, Plan &p) : cell_(c), plan_(p), sig_(abi::signatureOf(c)) {}

  void run() {
    plan_.cell = cell_.name;
    plan_.dims = cell_.dims;
    callerBuffers(abi::Call::Forward, Storage::In, false);
    callerBuffers(abi::Call::Forward, Storage::Out, true);
    callerBuffers(abi::Call::Backward, Storage::In, false);
    callerBuffers(abi::Call::Backward, Storage::Out, true);
    plan_.forwardIn = int(sig_.select(abi::Call::Forward, false).size());
    plan_.forwardOut = int(sig_.select(abi::Call::Forward, true).size());
    plan_.backwardIn = int(sig_.select(abi::Call::Backward, false).size());
    plan_.backwardOut = int(sig_.select(abi::Call::Backward, true).size());
    ports();
    scratchBuffers();
    for (Kernel &k : plan_.kernels) {
      for (Arg &a : k.inputs)
        a.binding = bind(a, k.backward);
      for (Arg &a : k.outputs)
        a.binding = bind(a, k.backward);
      checkExtents(k);
    }
    plan_.inference = forwardProgram(false);
    plan_.training = forwardProgram(true);
    plan_.backward = backwardProgram();
  }

private:
  using Key = std::pair<bool, std::string>; // (backward call, "role tensor")

  static Key key(bool backward, abi::Role role, const std::string &tensor) {
    return {backward, std::to_string(int(role)) + " " + tensor};
  }

  /// Elements per sample: the product of a row's shape while it stays affine.
  static std::optional<Size> perSample(const abi::Row &r) {
    Size len = Size::constant(1);
    for (const Size &s : r.shape) {
      std::optional<Size> next = s.isConstant()     ? len.scaled(s.constantPart())
                                 : len.isConstant() ? s.scaled(len.constantPart())
                                                    : std::nullopt;
      if (!next)
        return std::nullopt;
      len = *next;
    }
    return len;
  }

  static cellrt::PortKind portKind(abi::Role role) {
    switch (role) {
    case abi::Role::Input:
    case abi::Role::InputGrad:
      return cellrt::PortKind::Input;
    case abi::Role::InitState:
    case abi::Role::FinalState:
    case abi::Role::FinalStateGrad:
    case abi::Role::InitStateGrad:
      return cellrt::PortKind::State;
    case abi::Role::Param:
    case abi::Role::ParamGrad:
      return cellrt::PortKind::Param;
    case abi::Role::Output:
    case abi::Role::OutputGrad:
      return cellrt::PortKind::Output;
    }
    throw std::logic_error("a role without a port kind");
  }

  void ports() {
    for (abi::Call call : {abi::Call::Forward, abi::Call::Backward})
      for (const abi::Row &r : sig_.rows(call)) {
        cellrt::PortKind kind = portKind(r.role);
        plan_.ports.push_back({r.tensor, kind, call == abi::Call::Backward, r.written, r.position,
                               kind == cellrt::PortKind::Param ? std::nullopt : perSample(r)});
      }
  }

  void callerBuffers(abi::Call call, Storage storage, bool written) {
    for (const abi::Row *r : sig_.select(call, written)) {
      Buffer b{r->names.field, r->names.label, storage,
               r->position,    Extent::Whole,  Size::constant(1)};
      b.optional = r->optional;
      if (r->layout == abi::Layout::Declared) {
        if (r->shape.size() >= 1)
          b.len = r->shape[0];
        if (r->shape.size() == 2)
          b.cols = r->shape[1];
      } else {
        b.extent = r->layout == abi::Layout::Sequence ? Extent::Sequence : Extent::Batch;
        b.len = r->shape[0];
      }
      caller_[key(call == abi::Call::Backward, r->role, r->tensor)] = plan_.addBuffer(b);
    }
  }

  static Size length(const ir::Type &t) { return t.rank == 0 ? Size::constant(1) : t.rows; }

  int scratch(const std::string &name, Storage storage, Extent extent, const ir::Type &t,
              bool pingPong) {
    Buffer b{name, name, storage, -1, extent, length(t)};
    b.pingPong = pingPong;
    int id = plan_.addBuffer(b);
    scratch_[name] = id;
    return id;
  }

  void scratchBuffers() {
    for (const Arg &f : plan_.frontiers)
      scratch(f.name, Storage::Workspace, Extent::Sequence, f.type, false);
    for (const ir::TensorDecl &s : cell_.states) {
      scratch("state " + s.name, Storage::Workspace, Extent::Batch, s.type, true);
      scratch("carry " + s.name, Storage::Workspace, Extent::Batch, s.type, true);
    }
    for (const ReserveSlot &r : plan_.reserve)
      scratch(r.name, Storage::Reserve, Extent::Sequence, r.type, false);
  }

  int caller(bool backward, abi::Role role, const std::string &tensor) const {
    return caller_.at(key(backward, role, tensor));
  }

  Binding samples(int buffer, Slot slot = Slot::All) const {
    return {buffer, ViewKind::Samples, slot, 2};
  }

  Binding bind(const Arg &a, bool backward) const {
    switch (a.role) {
    case Role::Input:
      return samples(caller(backward, abi::Role::Input, a.name));
    case Role::Param:
      return {caller(backward, abi::Role::Param, a.name), ViewKind::Tensor, Slot::All, a.type.rank};
    case Role::State:
      return samples(scratch_.at("state " + a.name), Slot::Current);
    case Role::NewState:
      return samples(scratch_.at("state " + a.name), Slot::Next);
    case Role::Carry:
      return samples(scratch_.at("carry " + a.name), Slot::Current);
    case Role::CarryOut:
      return samples(scratch_.at("carry " + a.name), Slot::Next);
    case Role::Frontier:
    case Role::Saved:
      return samples(scratch_.at(a.name));
    case Role::SeedOutput:
      return samples(caller(true, abi::Role::OutputGrad, a.name));
    case Role::Output:
      return samples(caller(false, abi::Role::Output, a.name));
    case Role::GradInput:
      return samples(caller(true, abi::Role::InputGrad, a.name));
    case Role::GradParam:
      return {caller(true, abi::Role::ParamGrad, a.name), ViewKind::Tensor, Slot::All, a.type.rank};
    }
    return {};
  }

  /// A kernel over all T*B samples sees no buffer that holds one step ([B]): it would read
  /// past it. A planner bug, reported as an internal error rather than run.
  void checkExtents(const Kernel &k) const {
    if (k.perStep())
      return;
    for (const auto *list : {&k.inputs, &k.outputs})
      for (const Arg &a : *list)
        if (a.binding.view == ViewKind::Samples &&
            plan_.buffers[size_t(a.binding.buffer)].extent == Extent::Batch)
          throw std::logic_error("plan: kernel " + k.name + " reads the per-step buffer " +
                                 plan_.buffers[size_t(a.binding.buffer)].name + " over T*B");
  }

  int kernel(const std::string &name) const {
    for (size_t k = 0; k < plan_.kernels.size(); ++k)
      if (plan_.kernels[k].name == name)
        return int(k);
    return -1;
  }

  static cellrt::Step step(cellrt::StepKind kind) {
    return {kind, -1, -1, -1, false, 0.0f, cellrt::Direction::Forward};
  }

  Program forwardProgram(bool train) {
    Program p{"forward", {}};
    for (const ir::TensorDecl &s : cell_.states) {
      cellrt::Step init = step(cellrt::StepKind::InitState);
      init.src = caller(false, abi::Role::InitState, s.name);
      init.dst = scratch_.at("state " + s.name);
      init.fill = float(s.init);
      p.steps.push_back(init);
    }
    int pre = train && kernel("forward_pre_train") >= 0 ? kernel("forward_pre_train")
                                                        : kernel("forward_pre");
    if (pre >= 0) {
      cellrt::Step run = step(cellrt::StepKind::RunKernel);
      run.kernel = pre;
      p.steps.push_back(run);
    }
    cellrt::Step loop = step(cellrt::StepKind::Loop);
    loop.kernel = kernel(train ? "forward_step_train" : "forward_step");
    p.steps.push_back(loop);
    for (const ir::TensorDecl &s : cell_.states) {
      cellrt::Step fin = step(cellrt::StepKind::FinalState);
      fin.src = scratch_.at("state " + s.name);
      fin.dst = caller(false, abi::Role::FinalState, s.name);
      p.steps.push_back(fin);
    }
    return p;
  }

  Program backwardProgram() {
    Program p{"backward", {}};
    for (const ir::TensorDecl &s : cell_.states) {
      cellrt::Step init = step(cellrt::StepKind::InitState);
      init.src = caller(true, abi::Role::FinalStateGrad, s.name);
      init.dst = scratch_.at("carry " + s.name);
      p.steps.push_back(init);
    }
    cellrt::Step loop = step(cellrt::StepKind::Loop);
    loop.kernel = kernel("backward_step");
    loop.direction = cellrt::Direction::Reverse;
    if (loop.kernel >= 0) // a cell without states has no backward step
      p.steps.push_back(loop);
    for (const ir::TensorDecl &s : cell_.states) {
      cellrt::Step fin = step(cellrt::StepKind::FinalState);
      fin.src = scratch_.at("carry " + s.name);
      fin.dst = caller(true, abi::Role::InitStateGrad, s.name);
      p.steps.push_back(fin);
    }
    cellrt::Step post = step(cellrt::StepKind::RunKernel);
    post.kernel = kernel("backward_post");
    p.steps.push_back(post);
    return p;
  }

  const ir::Cell &cell_;
  Plan &plan_;
  abi::Signature sig_;
  std::map<Key, int> caller_;
  std::map<std::string, int> scratch_;
};

} // namespace

void bindPlan(const ir::Cell &cell, Plan &plan) { Binder(cell, plan).run(); }

} // namespace cellc::plan
