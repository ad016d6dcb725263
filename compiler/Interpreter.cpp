#include "compiler/Interpreter.h"

#include "compiler/ScalarOps.h"

#include <cassert>
#include <functional>

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

/// Evaluates one Function for one sample. Leaves point at caller data; every other node owns
/// a buffer that is reused from sample to sample.
class Evaluator {
public:
  /// Supplies a leaf's data (Input, State, Param, Saved, Seed).
  using LeafFn = std::function<const double *(const Node &)>;

  Evaluator(const ir::Function &f, const DimValues &dims) : f_(f) {
    size_t n = f.nodes.size();
    len_.resize(n);
    ptr_.resize(n);
    own_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Node &node = f.nodes[i];
      len_[i] = elementCount(node.type, dims);
      // Slice start, or the value of a DimSize, once per run rather than per sample.
      lo_.push_back(node.op == Op::Slice || node.op == Op::DimSize ? node.lo.evaluate(dims).value()
                                                                   : 0);
      if (!ir::isLeaf(node.op) || node.op == Op::Const || node.op == Op::DimSize)
        own_[i].resize(len_[i]);
    }
  }

  void run(const LeafFn &leaf) {
    for (size_t i = 0; i < f_.nodes.size(); ++i)
      ptr_[i] = evalNode(ValueId(i), leaf);
  }

  const double *value(ValueId v) const { return ptr_[v]; }
  int64_t length(ValueId v) const { return len_[v]; }

private:
  const double *evalNode(ValueId id, const LeafFn &leaf) {
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
      return leaf(n);
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
    default:
      break;
    }
    if (ir::opArity(n.op) == 1) {
      const double *a = arg(0);
      for (int64_t i = 0; i < len; ++i)
        out[i] = ir::applyUnary(n.op, a[i]);
      return out;
    }
    // Binary elementwise; a scalar operand (length 1 where the result is longer) broadcasts.
    const double *a = arg(0), *b = arg(1);
    int64_t sa = argLen(0) == len ? 1 : 0, sb = argLen(1) == len ? 1 : 0;
    for (int64_t i = 0; i < len; ++i)
      out[i] = ir::applyBinary(n.op, a[i * sa], b[i * sb]);
    return out;
  }

  const ir::Function &f_;
  std::vector<int64_t> len_, lo_;
  std::vector<const double *> ptr_;
  std::vector<Buffer> own_;
};

} // namespace

ForwardResult forward(const ir::Cell &cell, const SequenceData &data,
                      const std::vector<ValueId> &toSave) {
  const DimValues &dims = data.dims;
  const int64_t T = data.T, B = data.B;
  Evaluator ev(cell.step, dims);
  ForwardResult out;

  // Current states, [B][n], starting from the given or declared initial values.
  std::map<std::string, Buffer> states;
  for (const ir::TensorDecl &s : cell.states) {
    auto given = data.initStates.find(s.name);
    states[s.name] = given != data.initStates.end()
                         ? given->second
                         : Buffer(B * elementCount(s.type, dims), s.init);
  }
  for (const ir::TensorDecl &o : cell.outputs)
    out.outputs[o.name].resize(T * B * elementCount(o.type, dims));
  for (ValueId v : toSave)
    out.saved[v].resize(T * B * ev.length(v));

  std::map<std::string, Buffer> next = states;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) {
      ev.run([&](const Node &n) -> const double * {
        int64_t len = elementCount(n.type, dims);
        switch (n.op) {
        case Op::Input:
          return data.inputs.at(n.name).data() + (t * B + b) * len;
        case Op::State:
          return states.at(n.name).data() + b * len;
        default:
          return data.params.at(n.name).data();
        }
      });
      for (const ir::Result &r : cell.step.results) {
        int64_t len = ev.length(r.value);
        const double *v = ev.value(r.value);
        double *dst = r.kind == ir::Result::Kind::NewState
                          ? next[r.name].data() + b * len
                          : out.outputs[r.name].data() + (t * B + b) * len;
        std::copy(v, v + len, dst);
      }
      for (ValueId s : toSave) {
        int64_t len = ev.length(s);
        std::copy(ev.value(s), ev.value(s) + len, out.saved[s].data() + (t * B + b) * len);
      }
    }
    states.swap(next);
    next = states;
  }
  out.finalStates = std::move(states);
  return out;
}

BackwardResult backward(const ir::Cell &cell, const ir::Gradient &grad, const SequenceData &data,
                        const ForwardResult &fwd, const GradientSeeds &seeds) {
  const DimValues &dims = data.dims;
  const int64_t T = data.T, B = data.B;
  Evaluator ev(grad.step, dims);
  BackwardResult out;

  // The gradient flowing into each new state from the step after it, [B][n].
  std::map<std::string, Buffer> carry, nextCarry;
  for (const ir::TensorDecl &s : cell.states) {
    auto given = seeds.finalStates.find(s.name);
    carry[s.name] = given != seeds.finalStates.end() ? given->second
                                                     : Buffer(B * elementCount(s.type, dims), 0.0);
  }
  nextCarry = carry;
  for (const ir::TensorDecl &x : cell.inputs)
    out.inputs[x.name].assign(T * B * elementCount(x.type, dims), 0.0);
  for (const ir::TensorDecl &p : cell.params)
    out.params[p.name].assign(elementCount(p.type, dims), 0.0);

  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      ev.run([&](const Node &n) -> const double * {
        int64_t len = elementCount(n.type, dims);
        switch (n.op) {
        case Op::Saved:
          return fwd.saved.at(n.savedRef).data() + (t * B + b) * len;
        case Op::Seed:
          if (n.seedOfState)
            return carry.at(n.name).data() + b * len;
          return seeds.outputs.at(n.name).data() + (t * B + b) * len;
        default:
          return data.params.at(n.name).data();
        }
      });
      for (const ir::Result &r : grad.step.results) {
        int64_t len = ev.length(r.value);
        const double *v = ev.value(r.value);
        switch (r.kind) {
        case ir::Result::Kind::GradInput:
          std::copy(v, v + len, out.inputs[r.name].data() + (t * B + b) * len);
          break;
        case ir::Result::Kind::GradState:
          std::copy(v, v + len, nextCarry[r.name].data() + b * len);
          break;
        case ir::Result::Kind::GradParam: {
          double *acc = out.params[r.name].data();
          for (int64_t i = 0; i < len; ++i)
            acc[i] += v[i];
          break;
        }
        default:
          assert(false && "forward result in a gradient function");
        }
      }
    }
    carry.swap(nextCarry);
  }
  out.initStates = std::move(carry);
  return out;
}

} // namespace cellc::interp
