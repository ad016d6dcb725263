#include "compiler/ir/Builder.h"

#include "compiler/ir/ScalarOps.h"

#include <cassert>
#include <cstring>
#include <sstream>

namespace cellc::ir {

static std::string keyOf(const Node &n) {
  std::ostringstream k;
  uint64_t bits;
  std::memcpy(&bits, &n.value, sizeof bits);
  k << int(n.op) << '|' << n.type.str() << '|' << n.name << '|' << bits << '|' << n.lo.str() << '|'
    << n.hi.str() << '|' << n.savedRef << '|' << n.seedOfState;
  for (ValueId o : n.operands)
    k << ',' << o;
  return k.str();
}

ValueId Builder::emit(Node n) {
  if (!opts_.cse)
    return f_.add(std::move(n));
  std::string key = keyOf(n);
  auto it = seen_.find(key);
  if (it != seen_.end())
    return it->second;
  ValueId id = f_.add(std::move(n));
  seen_.emplace(std::move(key), id);
  return id;
}

ValueId Builder::leaf(Op op, const std::string &name, Type t, dsl::Range loc) {
  Node n{op, t, {}, name};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::constant(double v, Type t) {
  Node n{Op::Const, t};
  n.value = v;
  return emit(std::move(n));
}

ValueId Builder::dimSize(Size s) {
  if (opts_.fold && s.isConstant())
    return constant(double(s.constantPart()));
  Node n{Op::DimSize, Type::scalar()};
  n.lo = s;
  return emit(std::move(n));
}

ValueId Builder::saved(ValueId forwardId, Type t) {
  Node n{Op::Saved, t};
  n.savedRef = forwardId;
  return emit(std::move(n));
}

ValueId Builder::seed(const std::string &name, bool ofState, Type t) {
  Node n{Op::Seed, t, {}, name};
  n.seedOfState = ofState;
  return emit(std::move(n));
}

bool Builder::isConst(ValueId v, double *value) const {
  const Node &n = f_.nodes[v];
  if (n.op != Op::Const)
    return false;
  if (value)
    *value = n.value;
  return true;
}

ValueId Builder::unary(Op op, ValueId a, dsl::Range loc) {
  if (opts_.fold) {
    ValueId folded = foldUnary(op, a);
    if (folded >= 0)
      return folded;
  }
  Node n{op, type(a), {a}};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::foldUnary(Op op, ValueId a) {
  double c;
  if (isConst(a, &c))
    return constant(applyUnary(op, c), type(a));
  const Node &n = node(a);
  if (op == Op::Neg && n.op == Op::Neg) // -(-x) = x
    return n.operands[0];
  return -1;
}

ValueId Builder::binary(Op op, ValueId a, ValueId b, dsl::Range loc) {
  Type t = type(a).rank != 0 ? type(a) : type(b);
  assert((type(a).rank == 0 || type(b).rank == 0 || type(a) == type(b)) && "binary types");
  if (opts_.fold) {
    ValueId folded = foldBinary(op, a, b, t);
    if (folded >= 0)
      return folded;
  }
  Node n{op, t, {a, b}};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::foldBinary(Op op, ValueId a, ValueId b, Type t) {
  double ca = 0, cb = 0;
  bool constA = isConst(a, &ca), constB = isConst(b, &cb);
  if (constA && constB)
    return constant(applyBinary(op, ca, cb), t);
  // Identities only apply when dropping the constant keeps the result's type.
  bool keepsA = type(a) == t, keepsB = type(b) == t;
  switch (op) {
  case Op::Add:
    if (constB && cb == 0 && keepsA) // x + 0 = x
      return a;
    if (constA && ca == 0 && keepsB) // 0 + x = x
      return b;
    break;
  case Op::Sub:
    if (constB && cb == 0 && keepsA) // x - 0 = x
      return a;
    if (constA && ca == 0 && keepsB) // 0 - x = -x
      return unary(Op::Neg, b);
    break;
  case Op::Mul:
    if (constB && cb == 1 && keepsA) // x * 1 = x
      return a;
    if (constA && ca == 1 && keepsB) // 1 * x = x
      return b;
    if (constB && cb == -1 && keepsA) // x * -1 = -x
      return unary(Op::Neg, a);
    if (constA && ca == -1 && keepsB)
      return unary(Op::Neg, b);
    break;
  case Op::Div:
    if (constB && cb == 1 && keepsA) // x / 1 = x
      return a;
    break;
  case Op::Min: // no identities
  case Op::Max:
    break;
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
    break; // not binary
  }
  return -1;
}

ValueId Builder::matVec(ValueId w, ValueId v, dsl::Range loc) {
  Node n{Op::MatVec, Type::vector(type(w).rows), {w, v}};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::matTVec(ValueId w, ValueId v) {
  return emit(Node{Op::MatTVec, Type::vector(type(w).cols), {w, v}});
}

ValueId Builder::outer(ValueId a, ValueId b) {
  return emit(Node{Op::Outer, Type::matrix(type(a).rows, type(b).rows), {a, b}});
}

ValueId Builder::slice(ValueId v, Size lo, Size hi, dsl::Range loc) {
  if (opts_.fold) {
    ValueId folded = foldSlice(v, lo, hi);
    if (folded >= 0)
      return folded;
  }
  Node n{Op::Slice, Type::vector(*hi.minus(lo)), {v}};
  n.lo = lo;
  n.hi = hi;
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::foldSlice(ValueId v, const Size &lo, const Size &hi) {
  const Node &n = node(v);
  if (lo == Size::constant(0) && hi == sizeOf(n.type)) // v[0:N] = v
    return v;
  if (n.op == Op::Slice) // v[a:b][c:d] = v[a+c : a+d]
    return slice(n.operands[0], *n.lo.plus(lo), *n.lo.plus(hi));
  if (n.op == Op::Const)
    return constant(n.value, Type::vector(*hi.minus(lo)));
  if (n.op == Op::Concat) { // a slice that lies inside one part reads that part
    Size start = Size::constant(0);
    for (ValueId part : n.operands) {
      Size end = *start.plus(sizeOf(type(part)));
      if (lo == start && hi == end)
        return part;
      std::optional<Size> fromStart = lo.minus(start), toEnd = end.minus(hi);
      if (fromStart && toEnd && fromStart->isConstant() && toEnd->isConstant() &&
          fromStart->constantPart() >= 0 && toEnd->constantPart() >= 0)
        return slice(part, *fromStart, *hi.minus(start));
      start = end;
    }
  }
  return -1;
}

ValueId Builder::concat(const std::vector<ValueId> &parts, dsl::Range loc) {
  if (opts_.fold) {
    ValueId folded = foldConcat(parts);
    if (folded >= 0)
      return folded;
  }
  Size total = Size::constant(0);
  for (ValueId p : parts)
    total = *total.plus(sizeOf(type(p)));
  Node n{Op::Concat, Type::vector(total), parts};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::foldConcat(const std::vector<ValueId> &parts) {
  if (parts.size() == 1)
    return parts[0];
  // concat(v[a:b], v[b:c]) = v[a:c]
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const Node &x = node(parts[i]), &y = node(parts[i + 1]);
    if (x.op == Op::Slice && y.op == Op::Slice && x.operands[0] == y.operands[0] && x.hi == y.lo) {
      std::vector<ValueId> merged(parts.begin(), parts.begin() + i);
      merged.push_back(slice(x.operands[0], x.lo, y.hi));
      merged.insert(merged.end(), parts.begin() + i + 2, parts.end());
      return concat(merged);
    }
  }
  return -1;
}

ValueId Builder::sum(ValueId v, dsl::Range loc) {
  Node n{Op::Sum, Type::scalar(), {v}};
  n.loc = loc;
  return emit(std::move(n));
}

ValueId Builder::broadcast(ValueId s, Size size) {
  double c;
  if (opts_.fold && isConst(s, &c))
    return constant(c, Type::vector(size));
  return emit(Node{Op::Broadcast, Type::vector(size), {s}});
}

ValueId Builder::clone(const Node &n, const std::vector<ValueId> &ops) {
  switch (n.op) {
  case Op::Input:
  case Op::State:
  case Op::Param:
    return leaf(n.op, n.name, n.type, n.loc);
  case Op::Const:
    return constant(n.value, n.type);
  case Op::DimSize:
    return dimSize(n.lo);
  case Op::Saved:
    return saved(n.savedRef, n.type);
  case Op::Seed:
    return seed(n.name, n.seedOfState, n.type);
  case Op::MatVec:
    return matVec(ops[0], ops[1], n.loc);
  case Op::MatTVec:
    return matTVec(ops[0], ops[1]);
  case Op::Outer:
    return outer(ops[0], ops[1]);
  case Op::Slice:
    return slice(ops[0], n.lo, n.hi, n.loc);
  case Op::Concat:
    return concat(ops, n.loc);
  case Op::Sum:
    return sum(ops[0], n.loc);
  case Op::Broadcast:
    return broadcast(ops[0], n.type.rows);
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    return unary(n.op, ops[0], n.loc);
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
    return binary(n.op, ops[0], ops[1], n.loc);
  }
  return -1;
}

} // namespace cellc::ir
