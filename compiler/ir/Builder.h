// Builds Functions node by node, computing each node's type. Two optional behaviours make it
// the engine of the simplification passes: `fold` applies the canonicalization rules
// (constants, identities, slices of slices and concats) as nodes are added, and `cse` returns
// the existing node when an identical one was built before.
#pragma once

#include "compiler/ir/IR.h"

#include <map>
#include <string>

namespace cellc::ir {

class Builder {
public:
  struct Options {
    bool fold = false;
    bool cse = false;
  };
  Builder(Function &f, Options o) : f_(f), opts_(o) {}

  ValueId leaf(Op op, const std::string &name, Type t, dsl::Range loc = {});
  ValueId constant(double v, Type t = Type::scalar());
  ValueId dimSize(Size s);
  ValueId saved(ValueId forwardId, Type t);
  ValueId seed(const std::string &name, bool ofState, Type t);

  ValueId unary(Op op, ValueId a, dsl::Range loc = {});
  /// Elementwise: operand types must be equal, or one a scalar (broadcast).
  ValueId binary(Op op, ValueId a, ValueId b, dsl::Range loc = {});
  ValueId matVec(ValueId w, ValueId v, dsl::Range loc = {});
  ValueId matTVec(ValueId w, ValueId v);
  ValueId outer(ValueId a, ValueId b);
  ValueId slice(ValueId v, Size lo, Size hi, dsl::Range loc = {});
  ValueId concat(const std::vector<ValueId> &parts, dsl::Range loc = {});
  ValueId sum(ValueId v, dsl::Range loc = {});
  ValueId broadcast(ValueId s, Size n);

  /// Re-creates node `n` of another function with its operands remapped.
  ValueId clone(const Node &n, const std::vector<ValueId> &operands);

  const Type &type(ValueId v) const { return f_.nodes[v].type; }
  const Node &node(ValueId v) const { return f_.nodes[v]; }
  Function &function() { return f_; }

private:
  ValueId emit(Node n);
  bool isConst(ValueId v, double *value = nullptr) const;
  ValueId foldUnary(Op op, ValueId a);
  ValueId foldBinary(Op op, ValueId a, ValueId b, Type t);
  ValueId foldSlice(ValueId v, const Size &lo, const Size &hi);
  ValueId foldConcat(const std::vector<ValueId> &parts);

  Function &f_;
  Options opts_;
  std::map<std::string, ValueId> seen_; // CSE table: node key -> id
};

/// The size of a vector value (rank 1).
inline const Size &sizeOf(const Type &t) { return t.rows; }

} // namespace cellc::ir
