// The cell IR: a typed SSA graph of per-sample vector operations. A Function is a list of
// nodes in topological order (every operand id is smaller than the node's id) and a list of
// named results. The forward step and the backward step are both Functions; a Cell bundles the
// forward step with its signature (inputs, states, params, outputs).
#pragma once

#include "compiler/ir/Size.h"
#include "dsl/Source.h"

#include <ostream>
#include <string>
#include <vector>

namespace cellc::ir {

// name, printed mnemonic, number of operands (-1: variadic), in four groups. A switch over
// Op handles each op of the groups whose meaning it defines and lists the other groups with
// CELLC_IR_CASE, never `default:`: -Wswitch (an error here) then catches a new op without a
// rule (an autodiff rule, a Halide lowering, an interpreter kernel).
#define CELLC_IR_LEAF_OPS(X)                                                                       \
  X(Input, "input", 0)     /* a per-step input vector, by name */                                  \
  X(State, "state", 0)     /* the previous value of a state */                                     \
  X(Param, "param", 0)     /* a learned tensor, constant over the sequence */                      \
  X(Const, "const", 0)     /* a number, broadcast to the node's type */                            \
  X(DimSize, "dimsize", 0) /* the value of a size expression, as a number */                       \
  X(Saved, "saved", 0)     /* backward only: a forward value saved for it */                       \
  X(Seed, "gradient", 0)   /* backward only: the gradient arriving at an output or new state */

/// Elementwise, one operand.
#define CELLC_IR_UNARY_OPS(X)                                                                      \
  X(Neg, "neg", 1)                                                                                 \
  X(Sigmoid, "sigmoid", 1)                                                                         \
  X(Tanh, "tanh", 1)                                                                               \
  X(Relu, "relu", 1)                                                                               \
  X(Exp, "exp", 1)                                                                                 \
  X(Log, "log", 1)                                                                                 \
  X(Softplus, "softplus", 1)                                                                       \
  X(HardSigmoid, "hard_sigmoid", 1)                                                                \
  X(Sqrt, "sqrt", 1)                                                                               \
  X(Rsqrt, "rsqrt", 1)                                                                             \
  X(Abs, "abs", 1)                                                                                 \
  X(IsPositive, "is_positive", 1) /* 1 where x > 0, else 0: the masks of derivatives */

/// Elementwise, two operands; a scalar operand broadcasts.
#define CELLC_IR_BINARY_OPS(X)                                                                     \
  X(Add, "add", 2)                                                                                 \
  X(Sub, "sub", 2)                                                                                 \
  X(Mul, "mul", 2)                                                                                 \
  X(Div, "div", 2)                                                                                 \
  X(Min, "min", 2)                                                                                 \
  X(Max, "max", 2)

/// Linear algebra and structure.
#define CELLC_IR_STRUCTURE_OPS(X)                                                                  \
  X(MatVec, "matvec", 2)    /* W[M,N] @ v[N] -> [M] */                                             \
  X(MatTVec, "matvec_t", 2) /* W[M,N]^T @ v[M] -> [N] */                                           \
  X(Outer, "outer", 2)      /* a[M] (x) b[N] -> [M,N] */                                           \
  X(Slice, "slice", 1)      /* v[lo:hi] */                                                         \
  X(Concat, "concat", -1)                                                                          \
  X(Sum, "sum", 1)             /* v[N] -> scalar */                                                \
  X(Broadcast, "broadcast", 1) /* scalar -> [N] */

#define CELLC_IR_OPS(X)                                                                            \
  CELLC_IR_LEAF_OPS(X) CELLC_IR_UNARY_OPS(X) CELLC_IR_BINARY_OPS(X) CELLC_IR_STRUCTURE_OPS(X)

/// `case Op::name:` for every op of a group: CELLC_IR_LEAF_OPS(CELLC_IR_CASE).
#define CELLC_IR_CASE(name, text, arity) case Op::name:

enum class Op {
#define X(name, text, arity) name,
  CELLC_IR_OPS(X)
#undef X
};

const char *opName(Op op);
int opArity(Op op);
bool isLeaf(Op op);
bool isElementwise(Op op);

/// rank 0: a per-sample scalar; rank 1: a vector [rows]; rank 2: a matrix [rows, cols].
struct Type {
  int rank = 0;
  Size rows, cols;
  static Type scalar() { return {}; }
  static Type vector(Size n) { return {1, n, {}}; }
  static Type matrix(Size m, Size n) { return {2, m, n}; }
  bool operator==(const Type &o) const {
    return rank == o.rank && (rank < 1 || rows == o.rows) && (rank < 2 || cols == o.cols);
  }
  bool operator!=(const Type &o) const { return !(*this == o); }
  /// "[]", "[4*H]", "[4*H, I]".
  std::string str() const;
};

using ValueId = int;

struct Node {
  Op op;
  Type type;
  std::vector<ValueId> operands;
  std::string name;         // Input/State/Param/Seed: the tensor's name
  double value = 0;         // Const
  Size lo, hi;              // Slice bounds; DimSize: lo is the size
  ValueId savedRef = -1;    // Saved: the forward node id
  bool seedOfState = false; // Seed: of a new state (true) or of an output (false)
  dsl::Range loc;           // where it came from in the source, if anywhere
};

struct Result {
  enum class Kind { NewState, Output, GradInput, GradState, GradParam };
  Kind kind;
  std::string name;
  ValueId value;
};

struct Function {
  std::vector<Node> nodes;
  std::vector<Result> results;

  ValueId add(Node n) {
    nodes.push_back(std::move(n));
    return ValueId(nodes.size() - 1);
  }
  const Node &operator[](ValueId id) const { return nodes[id]; }
};

struct TensorDecl {
  std::string name;
  Type type;
  double init = 0; // states: initial value when no initial state is given
};

struct Cell {
  std::string name;
  std::vector<std::string> dims; // symbolic dims, declaration order (fixed ones removed)
  DimValues fixedDims;           // dims fixed at compile time
  std::vector<TensorDecl> inputs, states, params, outputs;
  Function step;
};

/// The backward step of a Cell (see compiler/transforms/Autodiff.h).
struct Gradient {
  Function step;
  /// Forward node ids the backward reads, in increasing order: what forward must keep.
  std::vector<ValueId> saved;
};

void printFunction(std::ostream &os, const Function &f);
void printCell(std::ostream &os, const Cell &c);
void printGradient(std::ostream &os, const Cell &c, const Gradient &g);

/// Checks the invariants every pass must keep (operand order, arity, types). Returns an
/// empty string when the function is well formed, else what is wrong.
std::string verify(const Function &f);

} // namespace cellc::ir
