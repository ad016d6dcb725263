#include "compiler/ir/IR.h"

#include <iomanip>
#include <sstream>

namespace cellc::ir {

const char *opName(Op op) {
  switch (op) {
#define X(name, text, arity)                                                                       \
  case Op::name:                                                                                   \
    return text;
    CELLC_IR_OPS(X)
#undef X
  }
  return "?";
}

int opArity(Op op) {
  switch (op) {
#define X(name, text, arity)                                                                       \
  case Op::name:                                                                                   \
    return arity;
    CELLC_IR_OPS(X)
#undef X
  }
  return 0;
}

bool isLeaf(Op op) { return opArity(op) == 0; }

bool isElementwise(Op op) { return op >= Op::Neg && op <= Op::Max; }

std::string Type::str() const {
  if (rank == 0)
    return "[]";
  if (rank == 1)
    return "[" + rows.str() + "]";
  return "[" + rows.str() + ", " + cols.str() + "]";
}

static std::string number(double v) {
  std::ostringstream ss;
  ss << std::setprecision(9) << v;
  return ss.str();
}

static const char *resultKind(Result::Kind k) {
  switch (k) {
  case Result::Kind::NewState:
    return "state";
  case Result::Kind::Output:
    return "output";
  case Result::Kind::GradInput:
  case Result::Kind::GradState:
  case Result::Kind::GradParam:
    return "grad";
  }
  return "?";
}

static void printNode(std::ostream &os, ValueId id, const Node &n) {
  os << "  %" << id << " = " << opName(n.op);
  switch (n.op) {
  case Op::Input:
  case Op::State:
  case Op::Param:
    os << " " << n.name;
    break;
  case Op::Const:
    os << " " << number(n.value);
    break;
  case Op::DimSize:
    os << " " << n.lo.str();
    break;
  case Op::Saved:
    os << " %" << n.savedRef;
    break;
  case Op::Seed:
    os << (n.seedOfState ? " state " : " output ") << n.name << (n.seedOfState ? "'" : "");
    break;
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
    CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
    for (size_t i = 0; i < n.operands.size(); ++i)
      os << (i ? ", %" : " %") << n.operands[i];
    if (n.op == Op::Slice)
      os << "[" << n.lo.str() << ":" << n.hi.str() << "]";
  }
  os << " : " << n.type.str() << "\n";
}

void printFunction(std::ostream &os, const Function &f) {
  for (size_t i = 0; i < f.nodes.size(); ++i)
    printNode(os, ValueId(i), f.nodes[i]);
  for (const Result &r : f.results) {
    os << "  " << resultKind(r.kind) << " " << r.name
       << (r.kind == Result::Kind::NewState ? "'" : "") << " = %" << r.value << "\n";
  }
}

static void printHeader(std::ostream &os, const char *what, const Cell &c) {
  os << what << " " << c.name << " [";
  for (size_t i = 0; i < c.dims.size(); ++i)
    os << (i ? ", " : "") << c.dims[i];
  os << "]";
  for (auto &[d, v] : c.fixedDims)
    os << " " << d << "=" << v;
  os << "\n";
}

void printCell(std::ostream &os, const Cell &c) {
  printHeader(os, "cell", c);
  printFunction(os, c.step);
}

void printGradient(std::ostream &os, const Cell &c, const Gradient &g) {
  printHeader(os, "grad", c);
  os << "  saved:";
  for (ValueId id : g.saved) {
    const Node &n = c.step[id];
    os << " %" << id << "(" << opName(n.op);
    if (!n.name.empty())
      os << " " << n.name;
    os << ")";
  }
  os << "\n";
  printFunction(os, g.step);
}

/// Sema accepts only the slices whose bounds pass this, so a pass that breaks it has moved a
/// bound wrongly. An overflowed bound (nullopt) fails.
static bool provablyNonNegative(const std::optional<Size> &s) {
  return s && s->provablyNonNegative();
}

/// A slice reads [lo, hi) of a vector, with 0 <= lo < hi <= size, and has hi - lo elements.
static std::string checkSlice(const Node &n, const Type &from) {
  if (from.rank != 1 || n.type.rank != 1)
    return "slice of a non-vector or to a non-vector";
  std::optional<Size> len = n.hi.minus(n.lo);
  if (!provablyNonNegative(n.lo) || !len || !provablyNonNegative(len->minus(Size::constant(1))) ||
      !provablyNonNegative(from.rows.minus(n.hi)))
    return "slice [" + n.lo.str() + ":" + n.hi.str() + "] is out of range for a vector of size " +
           from.rows.str();
  if (n.type.rows != *len)
    return "slice [" + n.lo.str() + ":" + n.hi.str() + "] has type " + n.type.str() + ", not [" +
           len->str() + "]";
  return "";
}

/// A concat joins vectors; its size is the sum of theirs.
static std::string checkConcat(const Function &f, const Node &n) {
  if (n.type.rank != 1)
    return "concat to a non-vector";
  Size total = Size::constant(0);
  for (ValueId o : n.operands) {
    const Type &t = f.nodes[o].type;
    if (t.rank != 1)
      return "operand %" + std::to_string(o) + " is not a vector";
    std::optional<Size> sum = total.plus(t.rows);
    if (!sum)
      return "the sizes of the operands overflow";
    total = *sum;
  }
  if (n.type.rows != total)
    return "concat has type " + n.type.str() + ", not [" + total.str() + "]";
  return "";
}

static std::string checkNode(const Function &f, ValueId id) {
  const Node &n = f.nodes[id];
  int arity = opArity(n.op);
  if (arity >= 0 && int(n.operands.size()) != arity)
    return "wrong number of operands";
  if (arity < 0 && n.operands.empty())
    return "variadic op without operands";
  for (ValueId o : n.operands)
    if (o < 0 || o >= id)
      return "operand %" + std::to_string(o) + " is not defined before use";
  auto ty = [&](int i) { return f.nodes[n.operands[i]].type; };
  switch (n.op) {
  case Op::MatVec:
    if (ty(0).rank != 2 || ty(1) != Type::vector(ty(0).cols) || n.type != Type::vector(ty(0).rows))
      return "matvec types";
    break;
  case Op::MatTVec:
    if (ty(0).rank != 2 || ty(1) != Type::vector(ty(0).rows) || n.type != Type::vector(ty(0).cols))
      return "matvec_t types";
    break;
  case Op::Outer:
    if (ty(0).rank != 1 || ty(1).rank != 1 || n.type != Type::matrix(ty(0).rows, ty(1).rows))
      return "outer types";
    break;
  case Op::Slice:
    return checkSlice(n, ty(0));
  case Op::Concat:
    return checkConcat(f, n);
  case Op::Sum:
    if (ty(0).rank != 1 || n.type.rank != 0)
      return "sum types";
    break;
  case Op::Broadcast:
    if (ty(0).rank != 0 || n.type.rank != 1)
      return "broadcast types";
    break;
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
    for (size_t i = 0; i < n.operands.size(); ++i)
      if (ty(int(i)).rank != 0 && ty(int(i)) != n.type)
        return "elementwise operand type differs from the result";
    // Matrices only meet in the gradient of a param used twice: their sum.
    if (n.type.rank > 1 && n.op != Op::Add)
      return "elementwise op on a matrix";
    break;
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    break;
  }
  return "";
}

std::string verify(const Function &f) {
  for (size_t i = 0; i < f.nodes.size(); ++i) {
    std::string why = checkNode(f, ValueId(i));
    if (!why.empty())
      return "%" + std::to_string(i) + " (" + opName(f.nodes[i].op) + "): " + why;
  }
  for (const Result &r : f.results)
    if (r.value < 0 || r.value >= ValueId(f.nodes.size()))
      return "result " + r.name + " refers to a missing value";
  return "";
}

} // namespace cellc::ir
