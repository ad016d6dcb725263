#include "compiler/interp/Interpreter.h"

#include "compiler/abi/Signature.h"

#include "compiler/ir/ScalarOps.h"
#include "compiler/transforms/Autodiff.h"
#include "runtime/cellrt/Executor.h"
#include "runtime/cellrt/Stack.h"

#include <stdexcept>

namespace cellc::interp {

using ir::Node;
using ir::Op;
using ir::ValueId;

int64_t elementCount(const ir::Type &t, const DimValues &dims) {
  int64_t n = 1;
  if (t.rank >= 1)
    n *= t.rows.evaluate(dims).value();
  if (t.rank == 2)
    n *= t.cols.evaluate(dims).value();
  return n;
}

namespace {

/// Evaluates nodes of one Function for one sample. A kernel binds its inputs' nodes to
/// caller data, then computes its nodes in order; every computed node owns a buffer that is
/// reused from sample to sample. Constants are evaluated once.
class Evaluator {
public:
  Evaluator(const ir::Function &f, const DimValues &dims) : f_(f) {
    size_t n = f.nodes.size();
    len_.resize(n);
    ptr_.assign(n, nullptr);
    own_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Node &node = f.nodes[i];
      len_[i] = elementCount(node.type, dims);
      // Slice start, or the value of a DimSize, once per run rather than per sample.
      lo_.push_back(node.op == Op::Slice || node.op == Op::DimSize ? node.lo.evaluate(dims).value()
                                                                   : 0);
      if (!ir::isLeaf(node.op) || node.op == Op::Const || node.op == Op::DimSize)
        own_[i].resize(len_[i]);
      if (node.op == Op::Const || node.op == Op::DimSize)
        ptr_[i] = evalNode(ValueId(i));
    }
  }

  void bind(ValueId v, const double *data) { ptr_[v] = data; }
  void compute(ValueId v) { ptr_[v] = evalNode(v); }
  const double *value(ValueId v) const { return ptr_[v]; }
  int64_t length(ValueId v) const { return len_[v]; }

private:
  const double *evalNode(ValueId id) {
    const Node &n = f_.nodes[id];
    double *out = own_[id].data();
    int64_t len = len_[id];
    auto arg = [&](int i) { return ptr_[n.operands[i]]; };
    auto argLen = [&](int i) { return len_[n.operands[i]]; };
    switch (n.op) {
    case Op::Input:
    case Op::State:
    case Op::Param:
    case Op::Saved:
    case Op::Seed:
      return ptr_[id]; // bound by the kernel
    case Op::Const:
      std::fill(out, out + len, n.value);
      return out;
    case Op::DimSize:
      out[0] = double(lo_[id]);
      return out;
    case Op::MatVec: { // out[r] = sum_c W[r, c] v[c]
      const double *w = arg(0), *v = arg(1);
      int64_t cols = argLen(1);
      for (int64_t r = 0; r < len; ++r) {
        double acc = 0;
        for (int64_t c = 0; c < cols; ++c)
          acc += w[r * cols + c] * v[c];
        out[r] = acc;
      }
      return out;
    }
    case Op::MatTVec: { // out[c] = sum_r W[r, c] v[r]
      const double *w = arg(0), *v = arg(1);
      int64_t rows = argLen(1);
      std::fill(out, out + len, 0.0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < len; ++c)
          out[c] += w[r * len + c] * v[r];
      return out;
    }
    case Op::Outer: {
      const double *a = arg(0), *b = arg(1);
      int64_t m = argLen(0), k = argLen(1);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < k; ++c)
          out[r * k + c] = a[r] * b[c];
      return out;
    }
    case Op::Slice:
      std::copy(arg(0) + lo_[id], arg(0) + lo_[id] + len, out);
      return out;
    case Op::Concat: {
      double *p = out;
      for (size_t i = 0; i < n.operands.size(); ++i)
        p = std::copy(arg(int(i)), arg(int(i)) + argLen(int(i)), p);
      return out;
    }
    case Op::Sum: {
      double acc = 0;
      for (int64_t i = 0; i < argLen(0); ++i)
        acc += arg(0)[i];
      out[0] = acc;
      return out;
    }
    case Op::Broadcast:
      std::fill(out, out + len, arg(0)[0]);
      return out;
      CELLC_IR_UNARY_OPS(CELLC_IR_CASE) {
        const double *a = arg(0);
        for (int64_t i = 0; i < len; ++i)
          out[i] = ir::applyUnary(n.op, a[i]);
        return out;
      }
      CELLC_IR_BINARY_OPS(CELLC_IR_CASE) {
        // A scalar operand (length 1 where the result is longer) broadcasts.
        const double *a = arg(0), *b = arg(1);
        int64_t sa = argLen(0) == len ? 1 : 0, sb = argLen(1) == len ? 1 : 0;
        for (int64_t i = 0; i < len; ++i)
          out[i] = ir::applyBinary(n.op, a[i * sa], b[i * sb]);
        return out;
      }
    }
    return out;
  }

  const ir::Function &f_;
  std::vector<int64_t> len_, lo_;
  std::vector<const double *> ptr_;
  std::vector<Buffer> own_;
};

} // namespace

/// The interpreter's kernels, as a cellrt Invoker: kernel k of the plan evaluates its nodes
/// sample by sample over the executor's views.
class SequenceInterpreter::Kernels {
public:
  Kernels(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan)
      : cell_(cell), grad_(grad), plan_(plan) {}

  int run(const cellrt::SequencePlan &, int k, const int64_t *shape, int64_t samples,
          const cellrt::View<double> *views) {
    const plan::Kernel &kd = plan_.kernels[size_t(k)];
    Evaluator &ev = evaluator(kd.backward, shape);
    const size_t nin = kd.inputs.size();
    for (size_t j = 0; j < kd.outputs.size(); ++j)
      if (views[nin + j].kind == cellrt::ViewKind::Tensor) // a param gradient: a sum
        std::fill(views[nin + j].base, views[nin + j].base + ev.length(kd.outputs[j].node), 0.0);
    for (int64_t n = 0; n < samples; ++n) {
      for (size_t i = 0; i < nin; ++i)
        ev.bind(kd.inputs[i].node, at(views[i], n));
      for (ValueId v : kd.computes)
        ev.compute(v);
      for (size_t j = 0; j < kd.outputs.size(); ++j) {
        const cellrt::View<double> &out = views[nin + j];
        ValueId v = kd.outputs[j].node;
        const double *val = ev.value(v);
        if (out.kind == cellrt::ViewKind::Tensor)
          for (int64_t i = 0; i < ev.length(v); ++i)
            out.base[i] += val[i];
        else
          std::copy(val, val + ev.length(v), out.base + n * out.len);
      }
    }
    return cellrt::kOk;
  }

  void pack(const double *, int64_t, int64_t, bool, int64_t, double *) {
    // The interpreter reads params as declared: its plans have no packed operands.
  }

private:
  static const double *at(const cellrt::View<double> &v, int64_t n) {
    return v.kind == cellrt::ViewKind::Samples ? v.base + n * v.len : v.base;
  }

  Evaluator &evaluator(bool backward, const int64_t *shape) {
    std::vector<int64_t> key(shape, shape + 2 + cell_.dims.size());
    if (key != shape_) {
      shape_ = key;
      DimValues dims = cell_.fixedDims;
      for (size_t d = 0; d < cell_.dims.size(); ++d)
        dims[cell_.dims[d]] = shape[2 + d];
      forward_ = std::make_unique<Evaluator>(cell_.step, dims);
      backward_ = std::make_unique<Evaluator>(grad_.step, dims);
    }
    return backward ? *backward_ : *forward_;
  }

  const ir::Cell &cell_;
  const ir::Gradient &grad_;
  const plan::Plan &plan_;
  std::vector<int64_t> shape_;
  std::unique_ptr<Evaluator> forward_, backward_;
};

using Exec = cellrt::Executor<double, SequenceInterpreter::Kernels>;

SequenceInterpreter::SequenceInterpreter(const ir::Cell &cell, const ir::Gradient &grad)
    : plan_(plan::makePlan(cell, grad)), tables_(std::make_unique<plan::RuntimePlan>(plan_)),
      kernels_(std::make_unique<Kernels>(cell, grad, plan_)) {}

SequenceInterpreter::~SequenceInterpreter() = default;

int SequenceInterpreter::workspaceSize(const int64_t *shape, int64_t *bytes) {
  return Exec(tables_->tables(), *kernels_).workspaceBytes(shape, bytes);
}

int SequenceInterpreter::reserveSize(const int64_t *shape, int64_t *bytes) {
  return Exec(tables_->tables(), *kernels_).reserveBytes(shape, bytes);
}

int SequenceInterpreter::forward(const int64_t *shape, const double *const *in, double *const *out,
                                 void *workspace, int64_t workspaceBytes, void *reserve,
                                 int64_t reserveBytes) {
  return Exec(tables_->tables(), *kernels_)
      .forward(shape, in, out, workspace, workspaceBytes, reserve, reserveBytes);
}

int SequenceInterpreter::backward(const int64_t *shape, const double *const *in, double *const *out,
                                  void *workspace, int64_t workspaceBytes, const void *reserve,
                                  int64_t reserveBytes) {
  return Exec(tables_->tables(), *kernels_)
      .backward(shape, in, out, workspace, workspaceBytes, reserve, reserveBytes);
}

using Stack = cellrt::Stack<double, SequenceInterpreter::Kernels>;

int SequenceInterpreter::stackSize(const int64_t *shape, const cellrt::StackConfig &c,
                                   int64_t *bytes, bool reserve) {
  Stack stack(tables_->tables(), *kernels_);
  return reserve ? stack.reserveBytes(shape, c, bytes) : stack.workspaceBytes(shape, c, bytes);
}

int SequenceInterpreter::stackForward(const int64_t *shape, const cellrt::StackConfig &c,
                                      const double *const *in, double *const *out, void *workspace,
                                      int64_t workspaceBytes, void *reserve, int64_t reserveBytes) {
  return Stack(tables_->tables(), *kernels_)
      .forward(shape, c, in, out, workspace, workspaceBytes, reserve, reserveBytes);
}

int SequenceInterpreter::stackBackward(const int64_t *shape, const cellrt::StackConfig &c,
                                       const double *const *in, double *const *out, void *workspace,
                                       int64_t workspaceBytes, const void *reserve,
                                       int64_t reserveBytes) {
  return Stack(tables_->tables(), *kernels_)
      .backward(shape, c, in, out, workspace, workspaceBytes, reserve, reserveBytes);
}

namespace {

std::vector<int64_t> shapeOf(const ir::Cell &cell, const SequenceData &data) {
  std::vector<int64_t> shape = {data.T, data.B};
  for (const std::string &d : cell.dims)
    shape.push_back(data.dims.at(d));
  return shape;
}

/// Scratch memory of one call, in doubles.
struct Scratch {
  std::vector<double> workspace, reserve;
  Scratch(SequenceInterpreter &si, const std::vector<int64_t> &shape) {
    int64_t ws = 0, rs = 0;
    if (si.workspaceSize(shape.data(), &ws) || si.reserveSize(shape.data(), &rs))
      throw std::runtime_error(cellrt::lastError());
    workspace.resize(size_t(ws / 8) + 1);
    reserve.resize(size_t(rs / 8) + 1);
  }
  int64_t wsBytes() const { return int64_t(workspace.size()) * 8; }
  int64_t rsBytes() const { return int64_t(reserve.size()) * 8; }
};

const Buffer *lookup(const std::map<std::string, Buffer> &m, const std::string &name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

/// The reserve slot of forward node v in the plan, or null.
const plan::Buffer *reserveSlot(const plan::Plan &p, ValueId v, int &index) {
  for (const plan::ReserveSlot &r : p.reserve)
    if (r.forwardNode == v)
      for (size_t b = 0; b < p.buffers.size(); ++b)
        if (p.buffers[b].name == r.name) {
          index = int(b);
          return &p.buffers[b];
        }
  return nullptr;
}

void check(int rc) {
  if (rc != cellrt::kOk)
    throw std::runtime_error(cellrt::lastError());
}

} // namespace

namespace {

/// The tensors of one call by signature position: what the caller gave (null where an
/// optional one is absent), and the results, sized.
struct CallArrays {
  std::vector<const double *> in;
  std::vector<double *> out;
};

/// Looks up the tensor of each row a call reads in `given(role)`, and sizes each row it writes
/// in `result(role)`.
template <typename Given, typename Result>
CallArrays arrays(const abi::Signature &sig, abi::Call call, const SequenceData &data, Given given,
                  Result result) {
  CallArrays a;
  for (const abi::Row *r : sig.select(call, false)) {
    const Buffer *b = lookup(given(r->role), r->tensor);
    if (!b && !r->optional)
      throw std::runtime_error(r->names.label + " is missing");
    a.in.push_back(b ? b->data() : nullptr);
  }
  for (const abi::Row *r : sig.select(call, true)) {
    Buffer &b = result(r->role)[r->tensor];
    b.resize(size_t(*sig.elements(*r, data.T, data.B, data.dims)));
    a.out.push_back(b.data());
  }
  return a;
}

} // namespace

ForwardResult forward(const ir::Cell &cell, const SequenceData &data,
                      const std::vector<ValueId> &toSave) {
  ir::Gradient grad = ir::differentiate(cell);
  SequenceInterpreter si(cell, grad);
  std::vector<int64_t> shape = shapeOf(cell, data);
  Scratch scratch(si, shape);
  const bool train = !toSave.empty();
  ForwardResult out;
  CallArrays a = arrays(
      abi::signatureOf(cell), abi::Call::Forward, data,
      [&](abi::Role r) -> const std::map<std::string, Buffer> & {
        return r == abi::Role::Input       ? data.inputs
               : r == abi::Role::InitState ? data.initStates
                                           : data.params;
      },
      [&](abi::Role r) -> std::map<std::string, Buffer> & {
        return r == abi::Role::Output ? out.outputs : out.finalStates;
      });
  check(si.forward(shape.data(), a.in.data(), a.out.data(), scratch.workspace.data(),
                   scratch.wsBytes(), train ? scratch.reserve.data() : nullptr, scratch.rsBytes()));
  if (!train)
    return out;
  // The saved values: the reserve's slots, and inputs the gradient reads.
  cellrt::Layout L;
  check(cellrt::makeLayout(si.tables(), shape.data(), L));
  for (ValueId v : grad.saved) {
    const Node &n = cell.step[v];
    int b = -1;
    if (n.op == Op::Input)
      out.saved[v] = data.inputs.at(n.name);
    else if (reserveSlot(si.plan(), v, b))
      out.saved[v] = Buffer(scratch.reserve.begin() + L.offset[size_t(b)],
                            scratch.reserve.begin() + L.offset[size_t(b)] + L.elems[size_t(b)]);
  }
  return out;
}

BackwardResult backward(const ir::Cell &cell, const ir::Gradient &grad, const SequenceData &data,
                        const ForwardResult &fwd, const GradientSeeds &seeds) {
  SequenceInterpreter si(cell, grad);
  std::vector<int64_t> shape = shapeOf(cell, data);
  Scratch scratch(si, shape);
  cellrt::Layout L;
  check(cellrt::makeLayout(si.tables(), shape.data(), L));
  for (const plan::ReserveSlot &r : si.plan().reserve) {
    int b = -1;
    reserveSlot(si.plan(), r.forwardNode, b);
    const Buffer &saved = fwd.saved.at(r.forwardNode);
    std::copy(saved.begin(), saved.end(), scratch.reserve.begin() + L.offset[size_t(b)]);
  }
  BackwardResult out;
  CallArrays a = arrays(
      abi::signatureOf(cell), abi::Call::Backward, data,
      [&](abi::Role r) -> const std::map<std::string, Buffer> & {
        return r == abi::Role::Input        ? data.inputs
               : r == abi::Role::Param      ? data.params
               : r == abi::Role::OutputGrad ? seeds.outputs
                                            : seeds.finalStates;
      },
      [&](abi::Role r) -> std::map<std::string, Buffer> & {
        return r == abi::Role::InputGrad       ? out.inputs
               : r == abi::Role::InitStateGrad ? out.initStates
                                               : out.params;
      });
  check(si.backward(shape.data(), a.in.data(), a.out.data(), scratch.workspace.data(),
                    scratch.wsBytes(), scratch.reserve.data(), scratch.rsBytes()));
  return out;
}

} // namespace cellc::interp
