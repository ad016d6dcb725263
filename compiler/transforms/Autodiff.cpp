#include "compiler/transforms/Autodiff.h"

#include "compiler/ir/Builder.h"
#include "compiler/transforms/Passes.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace cellc::ir {

namespace {

/// Reverse-mode AD over one Function.
///
/// 1. Seed the adjoint of every output and new state with a `gradient` leaf.
/// 2. Walk the forward nodes from last to first. For a node with contributions, sum them into
///    its adjoint dy, then apply the node's rule, which adds contributions to its operands.
/// 3. The adjoints of the input, state and param leaves are the results.
/// Forward values a rule reads are brought in as `saved` leaves (params as `param` leaves,
/// constants rebuilt), and the builder's folding and CSE keep the backward small.
class Differentiator {
public:
  explicit Differentiator(const Cell &c)
      : fwd_(c.step), b_(grad_.step, {/*fold=*/true, /*cse=*/true}),
        contributions_(fwd_.nodes.size()) {}

  Gradient run();

private:
  /// A gradient contribution to a forward value; a slice contribution covers [lo, hi) only.
  struct Contribution {
    ValueId grad;
    bool isSlice = false;
    Size lo, hi;
  };

  void add(ValueId forward, ValueId grad);
  void addSlice(ValueId forward, ValueId grad, const Size &lo, const Size &hi);
  /// Sums the contributions of a forward node, or -1 when it has none.
  ValueId adjoint(ValueId forward);
  ValueId zeros(const Size &n) { return b_.constant(0.0, Type::vector(n)); }
  /// The forward value `v` as seen from the backward step.
  ValueId fwd(ValueId v);
  /// Reduces a contribution to the type of operand `v` (a broadcast scalar gets the sum).
  ValueId reduceTo(ValueId forward, ValueId grad);
  void propagate(ValueId id, ValueId dy);
  void propagateBinary(const Node &n, ValueId id, ValueId dy);

  ValueId c(double v) { return b_.constant(v); }
  ValueId mul(ValueId a, ValueId b) { return b_.binary(Op::Mul, a, b); }
  ValueId sub(ValueId a, ValueId b) { return b_.binary(Op::Sub, a, b); }

  const Function &fwd_;
  Gradient grad_;
  Builder b_;
  std::vector<std::vector<Contribution>> contributions_;
};

void Differentiator::add(ValueId forward, ValueId grad) {
  contributions_[forward].push_back({reduceTo(forward, grad)});
}

void Differentiator::addSlice(ValueId forward, ValueId grad, const Size &lo, const Size &hi) {
  contributions_[forward].push_back({grad, true, lo, hi});
}

ValueId Differentiator::reduceTo(ValueId forward, ValueId grad) {
  if (fwd_[forward].type.rank == 0 && b_.type(grad).rank == 1)
    return b_.sum(grad);
  return grad;
}

ValueId Differentiator::fwd(ValueId v) {
  const Node &n = fwd_[v];
  if (n.op == Op::Param)
    return b_.leaf(Op::Param, n.name, n.type);
  if (n.op == Op::Const)
    return b_.constant(n.value, n.type);
  if (n.op == Op::DimSize)
    return b_.dimSize(n.lo);
  return b_.saved(v, n.type); // every other value the backward reads comes from the forward
}

/// Whether a <= b for every binding of the dims (all dims are at least 1), for the constant
/// and same-dims cases that split() and slices produce.
static bool provablyLessEqual(const Size &a, const Size &b) {
  std::optional<Size> d = b.minus(a);
  return d && d->provablyNonNegative();
}

ValueId Differentiator::adjoint(ValueId forward) {
  std::vector<Contribution> &cs = contributions_[forward];
  if (cs.empty())
    return -1;
  ValueId total = -1;
  auto accumulate = [&](ValueId g) { total = total < 0 ? g : b_.binary(Op::Add, total, g); };
  std::vector<Contribution> slices;
  for (const Contribution &c : cs) {
    if (c.isSlice)
      slices.push_back(c);
    else
      accumulate(c.grad);
  }
  if (slices.empty())
    return total;
  // Slice contributions (from split and v[a:b]) become one concat when they do not overlap,
  // with zeros in the gaps; overlapping ones are each padded with zeros and added.
  const Size &n = fwd_[forward].type.rows;
  // Insertion sort by start: the order is only partial for symbolic sizes, which std::sort
  // does not allow.
  for (size_t i = 1; i < slices.size(); ++i)
    for (size_t j = i; j > 0 && slices[j].lo != slices[j - 1].lo &&
                       provablyLessEqual(slices[j].lo, slices[j - 1].lo);
         --j)
      std::swap(slices[j], slices[j - 1]);
  bool disjoint = true;
  for (size_t i = 0; i + 1 < slices.size(); ++i)
    disjoint = disjoint && provablyLessEqual(slices[i].hi, slices[i + 1].lo);
  if (disjoint) {
    std::vector<ValueId> parts;
    Size at = Size::constant(0);
    for (const Contribution &s : slices) {
      if (s.lo != at)
        parts.push_back(zeros(*s.lo.minus(at)));
      parts.push_back(s.grad);
      at = s.hi;
    }
    if (at != n)
      parts.push_back(zeros(*n.minus(at)));
    accumulate(b_.concat(parts));
    return total;
  }
  for (const Contribution &s : slices) {
    std::vector<ValueId> parts;
    if (s.lo != Size::constant(0))
      parts.push_back(zeros(s.lo));
    parts.push_back(s.grad);
    if (s.hi != n)
      parts.push_back(zeros(*n.minus(s.hi)));
    accumulate(b_.concat(parts));
  }
  return total;
}

void Differentiator::propagateBinary(const Node &n, ValueId id, ValueId dy) {
  ValueId a = n.operands[0], b = n.operands[1];
  switch (n.op) {
  case Op::Add: // d(a+b) = da + db
    add(a, dy);
    add(b, dy);
    return;
  case Op::Sub: // d(a-b) = da - db
    add(a, dy);
    add(b, b_.unary(Op::Neg, dy));
    return;
  case Op::Mul: // d(a*b) = b da + a db
    add(a, mul(dy, fwd(b)));
    add(b, mul(dy, fwd(a)));
    return;
  case Op::Div: // d(a/b) = da / b - (a/b) db / b
    add(a, b_.binary(Op::Div, dy, fwd(b)));
    add(b, b_.unary(Op::Neg, b_.binary(Op::Div, mul(dy, fwd(id)), fwd(b))));
    return;
  case Op::Min: { // d min(a,b) = [a <= b] da + [a > b] db
    ValueId bWins = b_.unary(Op::IsPositive, sub(fwd(a), fwd(b)));
    add(a, mul(dy, sub(c(1), bWins)));
    add(b, mul(dy, bWins));
    return;
  }
  case Op::Max: { // d max(a,b) = [a >= b] da + [a < b] db
    ValueId bWins = b_.unary(Op::IsPositive, sub(fwd(b), fwd(a)));
    add(a, mul(dy, sub(c(1), bWins)));
    add(b, mul(dy, bWins));
    return;
  }
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
    break;
  }
  throw std::logic_error(std::string("autodiff: ") + opName(n.op) + " is not a binary op");
}

void Differentiator::propagate(ValueId id, ValueId dy) {
  const Node &n = fwd_[id];
  ValueId a = n.operands.empty() ? -1 : n.operands[0];
  switch (n.op) {
  case Op::Neg: // d(-a) = -da
    add(a, b_.unary(Op::Neg, dy));
    return;
  case Op::Sigmoid: // d sigmoid(a) = y (1 - y) da
    add(a, mul(dy, mul(fwd(id), sub(c(1), fwd(id)))));
    return;
  case Op::Tanh: // d tanh(a) = (1 - y^2) da
    add(a, mul(dy, sub(c(1), mul(fwd(id), fwd(id)))));
    return;
  case Op::Relu: // d relu(a) = [y > 0] da
    add(a, mul(dy, b_.unary(Op::IsPositive, fwd(id))));
    return;
  case Op::Exp: // d exp(a) = y da
    add(a, mul(dy, fwd(id)));
    return;
  case Op::Log: // d log(a) = da / a
    add(a, b_.binary(Op::Div, dy, fwd(a)));
    return;
  case Op::Softplus: // d softplus(a) = sigmoid(a) da
    add(a, mul(dy, b_.unary(Op::Sigmoid, fwd(a))));
    return;
  case Op::HardSigmoid: // d hard_sigmoid(a) = [|a| < 3] da / 6
    add(a,
        mul(dy, mul(b_.unary(Op::IsPositive, sub(c(3), b_.unary(Op::Abs, fwd(a)))), c(1.0 / 6))));
    return;
  case Op::Sqrt: // d sqrt(a) = da / (2 y)
    add(a, b_.binary(Op::Div, mul(dy, c(0.5)), fwd(id)));
    return;
  case Op::Rsqrt: // d a^(-1/2) = -y^3 / 2 da
    add(a, mul(dy, mul(c(-0.5), mul(fwd(id), mul(fwd(id), fwd(id))))));
    return;
  case Op::Abs: // d |a| = sign(a) da, sign(0) = 0
    add(a, mul(dy, sub(b_.unary(Op::IsPositive, fwd(a)),
                       b_.unary(Op::IsPositive, b_.unary(Op::Neg, fwd(a))))));
    return;
  case Op::IsPositive: // piecewise constant: no gradient
    return;
  case Op::MatVec: // d(W v) = W^T dv; dW += dy v^T
    add(n.operands[1], b_.matTVec(fwd(n.operands[0]), dy));
    add(n.operands[0], b_.outer(dy, fwd(n.operands[1])));
    return;
  case Op::Slice: // d v[lo:hi] lands in [lo, hi) of dv
    addSlice(a, dy, n.lo, n.hi);
    return;
  case Op::Concat: { // d concat(a, b, ...) = its pieces
    Size at = Size::constant(0);
    for (ValueId part : n.operands) {
      Size end = *at.plus(fwd_[part].type.rows);
      add(part, b_.slice(dy, at, end));
      at = end;
    }
    return;
  }
  case Op::Sum: // d sum(v) = broadcast(dy)
    add(a, b_.broadcast(dy, fwd_[a].type.rows));
    return;
  case Op::Broadcast: // d broadcast(s) = sum(dy)
    add(a, b_.sum(dy));
    return;
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
    propagateBinary(n, id, dy);
    return;
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE) // run() collects the gradients of leaves
  case Op::MatTVec:                  // only in gradient functions
  case Op::Outer:
    break;
  }
  throw std::logic_error(std::string("autodiff: no derivative rule for ") + opName(n.op));
}

Gradient Differentiator::run() {
  for (const Result &r : fwd_.results) {
    bool ofState = r.kind == Result::Kind::NewState;
    add(r.value, b_.seed(r.name, ofState, fwd_[r.value].type));
  }
  std::map<ValueId, ValueId> leafGrad;
  for (ValueId id = ValueId(fwd_.nodes.size()) - 1; id >= 0; --id) {
    ValueId dy = adjoint(id);
    if (dy < 0)
      continue;
    if (isLeaf(fwd_[id].op))
      leafGrad[id] = dy;
    else
      propagate(id, dy);
  }
  // One result per input, state and param, in declaration order; zero where nothing flows.
  auto resultsFor = [&](Op op, Result::Kind kind) {
    for (ValueId id = 0; id < ValueId(fwd_.nodes.size()); ++id) {
      const Node &n = fwd_[id];
      if (n.op != op)
        continue;
      auto it = leafGrad.find(id);
      ValueId g = it != leafGrad.end() ? it->second : b_.constant(0.0, n.type);
      grad_.step.results.push_back({kind, n.name, g});
    }
  };
  resultsFor(Op::Input, Result::Kind::GradInput);
  resultsFor(Op::State, Result::Kind::GradState);
  resultsFor(Op::Param, Result::Kind::GradParam);

  grad_.step = simplify(grad_.step);
  for (const Node &n : grad_.step.nodes)
    if (n.op == Op::Saved)
      grad_.saved.push_back(n.savedRef);
  std::sort(grad_.saved.begin(), grad_.saved.end());
  grad_.saved.erase(std::unique(grad_.saved.begin(), grad_.saved.end()), grad_.saved.end());
  return std::move(grad_);
}

} // namespace

Gradient differentiate(const Cell &cell) { return Differentiator(cell).run(); }

} // namespace cellc::ir
