#include "compiler/plan/Planner.h"

#include "compiler/plan/PlanBindings.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace cellc::plan {

using ir::Node;
using ir::Op;
using ir::Result;
using ir::ValueId;

const char *roleName(Role r) {
  static const char *names[] = {"input",  "state",     "param",      "frontier",
                                "saved",  "seed",      "carry",      "new_state",
                                "output", "carry_out", "grad_input", "grad_param"};
  return names[int(r)];
}

namespace {

/// How operand `k` of `op` is read when it is a param: as a GEMM's matrix, or as values.
Use paramUse(Op op, size_t k) {
  if (k == 0 && op == Op::MatVec)
    return Use::MatVecMatrix;
  if (k == 0 && op == Op::MatTVec)
    return Use::MatTVecMatrix;
  return Use::Values;
}

/// Collects the arguments of one kernel without duplicates.
class KernelBuilder {
public:
  KernelBuilder(std::string name, cellrt::KernelKind kind, bool backward) {
    k_.name = std::move(name);
    k_.kind = kind;
    k_.backward = backward;
  }
  void input(Role r, const std::string &name, ValueId node, const ir::Type &t,
             Use use = Use::Values) {
    add(k_.inputs, {r, name, node, t, use, {}});
  }
  void output(Role r, const std::string &name, ValueId node, const ir::Type &t) {
    add(k_.outputs, {r, name, node, t, Use::Values, {}});
  }
  void compute(ValueId v) { k_.computes.push_back(v); }
  Kernel take() { return std::move(k_); }

private:
  static void add(std::vector<Arg> &list, Arg a) {
    for (const Arg &x : list)
      if (x.role == a.role && x.name == a.name && x.use == a.use)
        return;
    list.push_back(std::move(a));
  }
  Kernel k_;
};

std::string valueName(char prefix, ValueId v) { return prefix + std::to_string(v); }

/// The role a leaf of the forward function has when a kernel reads it.
void readForwardLeaf(KernelBuilder &k, const ir::Function &f, ValueId v, Use paramAs) {
  const Node &n = f[v];
  if (n.op == Op::Input)
    k.input(Role::Input, n.name, v, n.type);
  else if (n.op == Op::State)
    k.input(Role::State, n.name, v, n.type);
  else if (n.op == Op::Param)
    k.input(Role::Param, n.name, v, n.type, paramAs);
  // Constants are part of the kernel; other values are computed or come from another kernel.
}

class Planner {
public:
  Planner(const ir::Cell &c, const ir::Gradient &g) : cell_(c), grad_(g) {}
  Plan run() {
    planForward(false);
    planForward(true);
    planBackward();
    return std::move(plan_);
  }

private:
  void planForward(bool train);
  void planBackward();
  void readBackwardLeaf(KernelBuilder &k, ValueId v, Use paramAs);

  const ir::Cell &cell_;
  const ir::Gradient &grad_;
  Plan plan_;
};

void Planner::planForward(bool train) {
  const ir::Function &f = cell_.step;
  size_t n = f.nodes.size();
  std::vector<bool> stateDep(n, false);
  for (size_t i = 0; i < n; ++i) {
    stateDep[i] = f[i].op == Op::State;
    for (ValueId o : f[i].operands)
      stateDep[i] = stateDep[i] || stateDep[o];
  }
  std::set<ValueId> saved(grad_.saved.begin(), grad_.saved.end());
  auto timeParallel = [&](ValueId v) { return !stateDep[v] && !ir::isLeaf(f[v].op); };

  // Values the step reads from the time-parallel part: the frontier.
  std::set<ValueId> frontier;
  for (size_t i = 0; i < n; ++i)
    if (stateDep[i])
      for (ValueId o : f[i].operands)
        if (timeParallel(o))
          frontier.insert(o);
  for (const Result &r : f.results)
    if (timeParallel(r.value))
      frontier.insert(r.value);

  std::string suffix = train ? "_train" : "";
  KernelBuilder pre("forward_pre" + suffix, cellrt::KernelKind::TimeParallel, false);
  bool preHasWork = false;
  for (size_t i = 0; i < n; ++i) {
    ValueId v = ValueId(i);
    if (!timeParallel(v))
      continue;
    pre.compute(v);
    for (size_t k = 0; k < f[v].operands.size(); ++k)
      readForwardLeaf(pre, f, f[v].operands[k], paramUse(f[v].op, k));
    if (frontier.count(v)) {
      pre.output(Role::Frontier, valueName('f', v), v, f[v].type);
      preHasWork = true;
    }
    if (train && saved.count(v)) {
      pre.output(Role::Saved, valueName('s', v), v, f[v].type);
      preHasWork = true;
    }
  }
  // The training variant of forward_pre is only needed when it saves something more.
  bool savesMore = false;
  for (ValueId v : grad_.saved)
    savesMore = savesMore || timeParallel(v);
  if (preHasWork && (!train || savesMore))
    plan_.kernels.push_back(pre.take());

  KernelBuilder step("forward_step" + suffix, cellrt::KernelKind::Step, false);
  auto readInStep = [&](ValueId o, Use paramAs) {
    if (timeParallel(o))
      step.input(Role::Frontier, valueName('f', o), o, f[o].type);
    else
      readForwardLeaf(step, f, o, paramAs);
  };
  for (size_t i = 0; i < n; ++i) {
    ValueId v = ValueId(i);
    if (!stateDep[v] || ir::isLeaf(f[v].op))
      continue;
    step.compute(v);
    for (size_t k = 0; k < f[v].operands.size(); ++k)
      readInStep(f[v].operands[k], paramUse(f[v].op, k));
  }
  for (const Result &r : f.results) {
    readInStep(r.value, Use::Values);
    step.output(r.kind == Result::Kind::NewState ? Role::NewState : Role::Output, r.name, r.value,
                f[r.value].type);
  }
  if (train) {
    for (ValueId v : grad_.saved) {
      if (f[v].op == Op::Input || timeParallel(v))
        continue; // the backward reads inputs from the user; forward_pre saved the rest
      readInStep(v, Use::Values);
      step.output(Role::Saved, valueName('s', v), v, f[v].type);
    }
  }
  plan_.kernels.push_back(step.take());

  if (train) {
    for (ValueId v : frontier)
      plan_.frontiers.push_back({Role::Frontier, valueName('f', v), v, f[v].type});
    for (ValueId v : grad_.saved)
      if (f[v].op != Op::Input)
        plan_.reserve.push_back({v, valueName('s', v), f[v].type});
  }
}

void Planner::readBackwardLeaf(KernelBuilder &k, ValueId v, Use paramAs) {
  const ir::Function &g = grad_.step;
  const Node &n = g[v];
  if (n.op == Op::Saved) {
    const Node &fwd = cell_.step[n.savedRef];
    if (fwd.op == Op::Input)
      k.input(Role::Input, fwd.name, v, n.type);
    else
      k.input(Role::Saved, valueName('s', n.savedRef), v, n.type);
  } else if (n.op == Op::Seed) {
    k.input(n.seedOfState ? Role::Carry : Role::SeedOutput, n.name, v, n.type);
  } else if (n.op == Op::Param) {
    k.input(Role::Param, n.name, v, n.type, paramAs);
  }
}

void Planner::planBackward() {
  const ir::Function &g = grad_.step;
  size_t n = g.nodes.size();
  // 1. The sequential part: everything the previous states' gradients need.
  std::vector<bool> sequential(n, false);
  for (const Result &r : g.results)
    if (r.kind == Result::Kind::GradState)
      sequential[r.value] = true;
  for (size_t i = n; i-- > 0;)
    if (sequential[i])
      for (ValueId o : g[i].operands)
        sequential[o] = true;
  // 2. The hoisted part: what the input and param gradients need beyond that.
  std::vector<bool> hoisted(n, false);
  for (const Result &r : g.results)
    if (r.kind != Result::Kind::GradState && !sequential[r.value])
      hoisted[r.value] = true;
  for (size_t i = n; i-- > 0;)
    if (hoisted[i])
      for (ValueId o : g[i].operands)
        if (!sequential[o])
          hoisted[o] = true;
  // A value crosses from step to post when the post part or a hoisted result reads it. Carry
  // seeds always cross, sequential or not: they exist one step at a time ([B], in the carry
  // buffers), so the step copies them into a [T][B] frontier for the post kernel. (A cell whose
  // state's gradient is zero, s' = x * p with s' an output, read the carry buffer as if it held
  // T*B samples: a wrong dx and a read past the buffer.)
  std::set<ValueId> frontier;
  auto crosses = [&](ValueId v) {
    bool carry = g[v].op == Op::Seed && g[v].seedOfState;
    return carry || (sequential[v] && !ir::isLeaf(g[v].op));
  };
  for (size_t i = 0; i < n; ++i)
    if (hoisted[i] && !ir::isLeaf(g[i].op))
      for (ValueId o : g[i].operands)
        if (crosses(o))
          frontier.insert(o);
  for (const Result &r : g.results)
    if (r.kind != Result::Kind::GradState && crosses(r.value))
      frontier.insert(r.value);

  KernelBuilder step("backward_step", cellrt::KernelKind::Step, true);
  auto readInStep = [&](ValueId o, Use paramAs) {
    if (ir::isLeaf(g[o].op))
      readBackwardLeaf(step, o, paramAs);
  };
  for (size_t i = 0; i < n; ++i) {
    if (!sequential[i] || ir::isLeaf(g[i].op))
      continue;
    step.compute(ValueId(i));
    for (size_t k = 0; k < g[i].operands.size(); ++k)
      readInStep(g[i].operands[k], paramUse(g[i].op, k));
  }
  for (const Result &r : g.results) {
    if (r.kind != Result::Kind::GradState)
      continue;
    readInStep(r.value, Use::Values);
    step.output(Role::CarryOut, r.name, r.value, g[r.value].type);
  }
  for (ValueId v : frontier) {
    readInStep(v, Use::Values);
    step.output(Role::Frontier, valueName('g', v), v, g[v].type);
    plan_.frontiers.push_back({Role::Frontier, valueName('g', v), v, g[v].type});
  }
  // A cell without states has nothing sequential to do backward: no step kernel, no loop.
  Kernel backwardStep = step.take();
  if (!backwardStep.outputs.empty())
    plan_.kernels.push_back(std::move(backwardStep));

  KernelBuilder post("backward_post", cellrt::KernelKind::Reduction, true);
  auto readInPost = [&](ValueId o, Use paramAs) {
    if (frontier.count(o))
      post.input(Role::Frontier, valueName('g', o), o, g[o].type);
    else if (ir::isLeaf(g[o].op))
      readBackwardLeaf(post, o, paramAs);
  };
  for (size_t i = 0; i < n; ++i) {
    if (!hoisted[i] || ir::isLeaf(g[i].op))
      continue;
    post.compute(ValueId(i));
    for (size_t k = 0; k < g[i].operands.size(); ++k)
      readInPost(g[i].operands[k], paramUse(g[i].op, k));
  }
  for (const Result &r : g.results) {
    if (r.kind == Result::Kind::GradState)
      continue;
    readInPost(r.value, Use::Values);
    post.output(r.kind == Result::Kind::GradInput ? Role::GradInput : Role::GradParam, r.name,
                r.value, g[r.value].type);
  }
  plan_.kernels.push_back(post.take());
}

std::string describeArg(const Arg &a) {
  static const char *uses[] = {"", " (matrix of W @ v)", " (matrix of W^T @ v)"};
  return std::string(roleName(a.role)) + " " + a.name + " " + a.type.str() + uses[int(a.use)];
}

/// One step of a program: "loop forward_step t = 0 .. T-1".
std::string describeStep(const Plan &p, const cellrt::Step &s) {
  auto buf = [&](int b) { return b < 0 ? std::string("-") : p.buffers[b].name; };
  switch (s.kind) {
  case cellrt::StepKind::Pack:
    return "pack " + buf(s.dst) + " <- " + buf(s.src);
  case cellrt::StepKind::InitState: {
    std::ostringstream fill;
    fill << s.fill;
    return "init " + buf(s.dst) + " <- " + buf(s.src) + " or " + fill.str();
  }
  case cellrt::StepKind::RunKernel:
    return "run " + p.kernels[s.kernel].name;
  case cellrt::StepKind::Loop:
    return "loop " + p.kernels[s.kernel].name +
           (s.direction == cellrt::Direction::Forward ? " t = 0 .. T-1" : " t = T-1 .. 0");
  case cellrt::StepKind::FinalState:
    return "final " + buf(s.dst) + " <- " + buf(s.src);
  }
  return "";
}

/// Counts floats per sample of a list of slots, as a size expression.
std::string perSampleSize(const std::vector<ir::Type> &types) {
  Size total = Size::constant(0);
  for (const ir::Type &t : types)
    total = *total.plus(t.rank == 0 ? Size::constant(1) : t.rows);
  return total.str();
}

} // namespace

Plan makePlan(const ir::Cell &cell, const ir::Gradient &grad) {
  Plan p = Planner(cell, grad).run();
  bindPlan(cell, p);
  return p;
}

void printPlan(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad, const Plan &p) {
  os << "plan " << cell.name << " [";
  for (size_t i = 0; i < cell.dims.size(); ++i)
    os << (i ? ", " : "") << cell.dims[i];
  os << "]\n";
  for (const Kernel &k : p.kernels) {
    const ir::Function &f = k.backward ? grad.step : cell.step;
    os << "  kernel " << k.name << (k.perStep() ? " per step over B" : " over T*B") << "\n";
    for (const Arg &a : k.inputs)
      os << "    in  " << describeArg(a) << "\n";
    int pointwise = 0;
    for (ValueId v : k.computes) {
      const Node &n = f[v];
      if (n.op == Op::MatVec || n.op == Op::MatTVec) {
        const Node &w = f[n.operands[0]];
        std::string wname = w.op == Op::Saved ? "%" + std::to_string(v) : w.name;
        os << "    gemm %" << v << " = " << (n.op == Op::MatVec ? wname : wname + "^T") << " @ %"
           << n.operands[1] << " : " << n.type.str() << " x " << (k.perStep() ? "B" : "T*B")
           << "\n";
      } else if (n.op == Op::Outer) {
        os << "    outer %" << v << " = %" << n.operands[0] << " (x) %" << n.operands[1] << "\n";
      } else if (n.op == Op::Sum) {
        os << "    reduce %" << v << " = sum %" << n.operands[0] << " per sample\n";
      } else {
        ++pointwise;
      }
    }
    if (pointwise)
      os << "    fused " << pointwise << " pointwise ops\n";
    for (const Arg &a : k.outputs) {
      os << "    out " << describeArg(a);
      if (a.role == Role::GradParam) {
        const Node &n = f[a.node];
        os << (n.op == Op::Outer ? "  (gemm over T*B: sum of outer products)"
                                 : "  (reduction over T*B)");
      }
      os << "\n";
    }
  }
  std::vector<ir::Type> ws, rs;
  os << "  workspace per sample:";
  for (const Arg &a : p.frontiers) {
    os << " " << a.name << a.type.str();
    ws.push_back(a.type);
  }
  os << " = " << perSampleSize(ws) << " floats x T*B\n";
  os << "  reserve per sample:";
  for (const ReserveSlot &s : p.reserve) {
    os << " " << s.name << s.type.str();
    rs.push_back(s.type);
  }
  os << " = " << perSampleSize(rs) << " floats x T*B\n";
  for (const Program *prog : {&p.inference, &p.training, &p.backward}) {
    os << "  program "
       << (prog == &p.inference  ? "inference"
           : prog == &p.training ? "training"
                                 : "backward")
       << "\n";
    for (const cellrt::Step &s : prog->steps)
      os << "    " << describeStep(p, s) << "\n";
  }
}

} // namespace cellc::plan
