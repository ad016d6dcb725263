#include "compiler/backend/mlir/MlirEmitter.h"

#include "compiler/backend/mlir/MlirWriter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace cellc::backend::mlir {
namespace {

using ir::Node;
using ir::Op;
using ir::Type;
using ir::ValueId;

/// Emits one step function. Every node becomes an SSA value %v<id> (leaves are arguments);
/// sizes become `index` values computed from the dim arguments (or literals when constant).
class FunctionEmitter : public Writer {
public:
  FunctionEmitter(std::ostream &os, const ir::Cell &cell, const ir::Function &f)
      : Writer(os, cell), f_(f), name_(f.nodes.size()) {}

  /// Writes the function; `extra` nodes are returned after the function's results (the
  /// training step returns the values the backward reads).
  StepSignature emit(const std::string &symbol, const std::string &what,
                     const std::vector<ValueId> &extra = {}) {
    StepSignature sig{symbol, {}, {}, {}};
    std::vector<std::pair<std::string, std::string>> args; // (name, type)
    for (const std::string &d : cell_.dims)
      args.push_back({"%dim." + d, "index"});
    leafArguments(args, sig);
    os_ << "  // " << what << "\n  func @" << symbol << "(";
    for (size_t i = 0; i < args.size(); ++i)
      os_ << (i ? ", " : "") << args[i].first << ": " << args[i].second;
    os_ << ")";
    std::vector<ValueId> returned;
    for (const ir::Result &r : f_.results)
      returned.push_back(r.value);
    returned.insert(returned.end(), extra.begin(), extra.end());
    for (ValueId v : returned)
      sig.resultTypes.push_back(type(f_[v].type));
    os_ << " -> (" << join(sig.resultTypes) << ") {\n";
    for (ValueId id = 0; id < ValueId(f_.nodes.size()); ++id)
      if (!ir::isLeaf(f_[id].op) || f_[id].op == Op::Const || f_[id].op == Op::DimSize)
        node(id);
    std::vector<std::string> values;
    for (ValueId v : returned)
      values.push_back(name_[size_t(v)]);
    os_ << "    return " << join(values) << " : " << join(sig.resultTypes) << "\n  }\n";
    return sig;
  }

private:
  /// Where a tensor is declared in `list`, for the order of the arguments.
  static int declared(const std::vector<ir::TensorDecl> &list, const std::string &name) {
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i].name == name)
        return int(i);
    return int(list.size());
  }

  /// The arguments: the leaves the function reads, in the order inputs, states, params (each
  /// as declared), saved forward values (by node), gradient seeds (outputs, then states); a
  /// leaf read twice is one argument.
  void leafArguments(std::vector<std::pair<std::string, std::string>> &args, StepSignature &sig) {
    std::vector<std::pair<std::pair<int, int>, ValueId>> leaves; // ((group, rank), node)
    for (ValueId id = 0; id < ValueId(f_.nodes.size()); ++id) {
      const Node &n = f_[id];
      switch (n.op) {
      case Op::Input:
        leaves.push_back({{0, declared(cell_.inputs, n.name)}, id});
        break;
      case Op::State:
        leaves.push_back({{1, declared(cell_.states, n.name)}, id});
        break;
      case Op::Param:
        leaves.push_back({{2, declared(cell_.params, n.name)}, id});
        break;
      case Op::Saved:
        leaves.push_back({{3, n.savedRef}, id});
        break;
      case Op::Seed:
        leaves.push_back({{n.seedOfState ? 5 : 4, n.seedOfState ? declared(cell_.states, n.name)
                                                                : declared(cell_.outputs, n.name)},
                          id});
        break;
        CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
        CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
        CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
      case Op::Const:
      case Op::DimSize:
        break;
      }
    }
    std::stable_sort(leaves.begin(), leaves.end());
    std::map<std::string, bool> seen;
    for (auto &[key, id] : leaves) {
      const Node &n = f_[id];
      std::string arg = n.op == Op::Saved  ? "%saved.v" + std::to_string(n.savedRef)
                        : n.op == Op::Seed ? "%grad." + n.name + (n.seedOfState ? ".next" : ".out")
                                           : "%" + n.name;
      if (!seen[arg]) {
        args.push_back({arg, type(n.type)});
        sig.leaves.push_back(&n);
        sig.argTypes.push_back(type(n.type));
      }
      seen[arg] = true;
      name_[size_t(id)] = arg;
    }
  }

  /// One op on f32 values, written at `indent`; returns the result.
  std::string scalarOp(Op op, const std::vector<std::string> &x, const std::string &indent) {
    auto line = [&](const std::string &text) {
      std::string v = temp();
      os_ << indent << v << " = " << text << "\n";
      return v;
    };
    auto un = [&](const char *name) { return line(std::string(name) + " " + x[0] + " : f32"); };
    auto bin = [&](const char *name, const std::string &a, const std::string &b) {
      return line(std::string(name) + " " + a + ", " + b + " : f32");
    };
    auto select = [&](const std::string &c, const std::string &a, const std::string &b) {
      return line("select " + c + ", " + a + ", " + b + " : f32");
    };
    auto cmp = [&](const char *pred, const std::string &a, const std::string &b) {
      return line(std::string("arith.cmpf ") + pred + ", " + a + ", " + b + " : f32");
    };
    switch (op) {
    case Op::Neg:
      return un("arith.negf");
    case Op::Sigmoid: // 1 / (1 + e^-x): 0 at -inf, 1 at +inf
      return bin(
          "arith.divf", constant(1, indent),
          bin("arith.addf", constant(1, indent), line("math.exp " + un("arith.negf") + " : f32")));
    case Op::Tanh:
      return un("math.tanh");
    case Op::Relu: // ugt: true for NaN, which passes through
      return select(cmp("ugt", x[0], constant(0, indent)), x[0], constant(0, indent));
    case Op::Exp:
      return un("math.exp");
    case Op::Log:
      return un("math.log");
    case Op::Softplus: { // x > 0 ? x + log1p(e^-x) : log1p(e^x)
      std::string pos =
          bin("arith.addf", x[0],
              line("math.log1p " + line("math.exp " + un("arith.negf") + " : f32") + " : f32"));
      std::string neg = line("math.log1p " + un("math.exp") + " : f32");
      return select(cmp("ogt", x[0], constant(0, indent)), pos, neg);
    }
    case Op::HardSigmoid: { // x <= -3 ? 0 : x >= 3 ? 1 : x / 6 + 1/2
      std::string mid =
          bin("arith.addf", bin("arith.divf", x[0], constant(6, indent)), constant(0.5, indent));
      std::string hi = select(cmp("oge", x[0], constant(3, indent)), constant(1, indent), mid);
      return select(cmp("ole", x[0], constant(-3, indent)), constant(0, indent), hi);
    }
    case Op::Sqrt:
      return un("math.sqrt");
    case Op::Rsqrt:
      return bin("arith.divf", constant(1, indent), un("math.sqrt"));
    case Op::Abs:
      return un("math.abs");
    case Op::IsPositive:
      return select(cmp("ogt", x[0], constant(0, indent)), constant(1, indent),
                    constant(0, indent));
    case Op::Add:
      return bin("arith.addf", x[0], x[1]);
    case Op::Sub:
      return bin("arith.subf", x[0], x[1]);
    case Op::Mul:
      return bin("arith.mulf", x[0], x[1]);
    case Op::Div:
      return bin("arith.divf", x[0], x[1]);
    case Op::Min:
    case Op::Max: { // NaN if either is; a tie picks a
      std::string pick = select(cmp(op == Op::Min ? "ole" : "oge", x[0], x[1]), x[0], x[1]);
      return select(cmp("uno", x[0], x[1]), bin("arith.addf", x[0], x[1]), pick);
    }
      CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
      CELLC_IR_STRUCTURE_OPS(CELLC_IR_CASE)
      break;
    }
    throw std::logic_error(std::string("mlir: no scalar lowering of ") + ir::opName(op));
  }

  static std::string identityMap(int rank) {
    return rank == 1 ? "affine_map<(d0) -> (d0)>" : "affine_map<(d0, d1) -> (d0, d1)>";
  }
  static std::string parallel(int rank) {
    return rank == 1 ? "[\"parallel\"]" : "[\"parallel\", \"parallel\"]";
  }

  /// An elementwise op: on scalars directly, else a linalg.generic whose tensor operands are
  /// its inputs and whose scalar operands are captured.
  void elementwise(ValueId id) {
    const Node &n = f_[id];
    std::vector<std::string> tensors, tensorTypes, bodyArgs, scalars;
    if (n.type.rank == 0) {
      for (ValueId o : n.operands)
        scalars.push_back(name_[size_t(o)]);
      name_[size_t(id)] = scalarOp(n.op, scalars, "    ");
      return;
    }
    std::string init = empty(n.type);
    std::vector<std::string> maps;
    for (ValueId o : n.operands)
      if (f_[o].type.rank == 0) {
        scalars.push_back(name_[size_t(o)]);
      } else {
        tensors.push_back(name_[size_t(o)]);
        tensorTypes.push_back(type(f_[o].type));
        std::string arg = "%in." + std::to_string(temps_++);
        bodyArgs.push_back(arg);
        scalars.push_back(arg);
        maps.push_back(identityMap(n.type.rank));
      }
    maps.push_back(identityMap(n.type.rank));
    std::string v = "%v." + std::to_string(id), out = "%out." + std::to_string(temps_++);
    os_ << "    " << v << " = linalg.generic {indexing_maps = [" << join(maps)
        << "], iterator_types = " << parallel(n.type.rank) << "} ins(" << join(tensors) << " : "
        << join(tensorTypes) << ") outs(" << init << " : " << type(n.type) << ") {\n    ^bb0(";
    for (const std::string &a : bodyArgs)
      os_ << a << ": f32, ";
    os_ << out << ": f32):\n";
    std::string r = scalarOp(n.op, scalars, "      ");
    os_ << "      linalg.yield " << r << " : f32\n    } -> " << type(n.type) << "\n";
    name_[size_t(id)] = v;
  }

  void node(ValueId id) {
    const Node &n = f_[id];
    const std::string v = "%v." + std::to_string(id);
    auto operand = [&](int i) { return name_[size_t(n.operands[size_t(i)])]; };
    auto operandType = [&](int i) { return type(f_[n.operands[size_t(i)]].type); };
    switch (n.op) {
    case Op::Const:
      name_[size_t(id)] = n.type.rank == 0 ? constant(n.value) : filled(n.type, constant(n.value));
      return;
    case Op::DimSize: {
      std::string size = index(n.lo), i64 = temp(), f = temp();
      os_ << "    " << i64 << " = arith.index_cast " << size << " : index to i64\n"
          << "    " << f << " = arith.sitofp " << i64 << " : i64 to f32\n";
      name_[size_t(id)] = n.type.rank == 0 ? f : filled(n.type, f);
      return;
    }
    case Op::MatVec: // W[M,N] @ v[N]
    case Op::MatTVec: {
      std::string acc = zeros(n.type);
      bool t = n.op == Op::MatTVec;
      os_ << "    " << v << " = linalg." << (t ? "vecmat" : "matvec") << " ins("
          << operand(t ? 1 : 0) << ", " << operand(t ? 0 : 1) << " : " << operandType(t ? 1 : 0)
          << ", " << operandType(t ? 0 : 1) << ") outs(" << acc << " : " << type(n.type) << ") -> "
          << type(n.type) << "\n";
      break;
    }
    case Op::Outer: {
      std::string init = empty(n.type), a = "%in." + std::to_string(temps_++),
                  b = "%in." + std::to_string(temps_++), out = "%out." + std::to_string(temps_++);
      os_ << "    " << v << " = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, "
          << "affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = "
          << parallel(2) << "} ins(" << operand(0) << ", " << operand(1) << " : " << operandType(0)
          << ", " << operandType(1) << ") outs(" << init << " : " << type(n.type)
          << ") {\n    ^bb0(" << a << ": f32, " << b << ": f32, " << out << ": f32):\n";
      std::string r = temp();
      os_ << "      " << r << " = arith.mulf " << a << ", " << b << " : f32\n"
          << "      linalg.yield " << r << " : f32\n    } -> " << type(n.type) << "\n";
      break;
    }
    case Op::Slice: {
      // Index values first: they are lines of their own.
      std::string lo = sizeOperand(n.lo), len = sizeOperand(*fixed(n.hi).minus(fixed(n.lo)));
      os_ << "    " << v << " = tensor.extract_slice " << operand(0) << "[" << lo << "] [" << len
          << "] [1] : " << operandType(0) << " to " << type(n.type) << "\n";
      break;
    }
    case Op::Concat: {
      std::string acc = empty(n.type);
      Size at = Size::constant(0);
      for (size_t i = 0; i < n.operands.size(); ++i) {
        const Node &part = f_[n.operands[i]];
        std::string p = name_[size_t(n.operands[i])], pType = type(part.type);
        Size len = part.type.rank == 0 ? Size::constant(1) : part.type.rows;
        if (part.type.rank == 0) {
          std::string one = temp();
          os_ << "    " << one << " = tensor.from_elements " << p << " : tensor<1xf32>\n";
          p = one, pType = "tensor<1xf32>";
        }
        std::string next = i + 1 == n.operands.size() ? v : temp();
        std::string offset = sizeOperand(at), size = sizeOperand(len);
        os_ << "    " << next << " = tensor.insert_slice " << p << " into " << acc << "[" << offset
            << "] [" << size << "] [1] : " << pType << " into " << type(n.type) << "\n";
        acc = next;
        at = *at.plus(len);
      }
      break;
    }
    case Op::Sum: {
      std::string init = temp(), zero = constant(0), start = temp(), sum = temp();
      std::string a = "%in." + std::to_string(temps_++), b = "%out." + std::to_string(temps_++);
      os_ << "    " << init << " = linalg.init_tensor [] : tensor<f32>\n"
          << "    " << start << " = linalg.fill(" << zero << ", " << init
          << ") : f32, tensor<f32> -> tensor<f32>\n"
          << "    " << sum << " = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, "
          << "affine_map<(d0) -> ()>], iterator_types = [\"reduction\"]} ins(" << operand(0)
          << " : " << operandType(0) << ") outs(" << start << " : tensor<f32>) {\n    ^bb0(" << a
          << ": f32, " << b << ": f32):\n";
      std::string r = temp();
      os_ << "      " << r << " = arith.addf " << a << ", " << b << " : f32\n"
          << "      linalg.yield " << r << " : f32\n    } -> tensor<f32>\n"
          << "    " << v << " = tensor.extract " << sum << "[] : tensor<f32>\n";
      break;
    }
    case Op::Broadcast:
      name_[size_t(id)] = filled(n.type, operand(0));
      return;
      CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
      CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
      elementwise(id);
      return;
    case Op::Input:
    case Op::State:
    case Op::Param:
    case Op::Saved:
    case Op::Seed:
      return; // arguments
    }
    name_[size_t(id)] = v;
  }

  const ir::Function &f_;
  std::vector<std::string> name_; // the SSA value of each node
};

} // namespace

void emitModule(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad) {
  os << "// cell " << cell.name << ": one sample's forward and backward steps (cellc "
     << "--emit=mlir, MLIR 14).\n// Free dims (index arguments):";
  for (const std::string &d : cell.dims)
    os << " %dim." << d;
  if (cell.dims.empty())
    os << " none";
  if (!cell.fixedDims.empty()) {
    os << "; fixed (static sizes):";
    for (auto &[d, v] : cell.fixedDims)
      os << " " << d << "=" << v;
  }
  os << ".\n// Backward arguments %saved.v<N> are forward values %v.<N>; %grad.<y>.out and\n"
     << "// %grad.<s>.next the gradients arriving at an output and at a new state. Names of our\n"
     << "// own have a '.', which the cell's names cannot have.\n"
     << "builtin.module {\n";
  FunctionEmitter(os, cell, cell.step)
      .emit(cell.name + "_forward_step", "inputs, states, params -> new states, outputs");
  os << "\n";
  StepSignature train = FunctionEmitter(os, cell, cell.step)
                            .emit(cell.name + "_forward_step_train",
                                  "the same, then the values the backward step reads", grad.saved);
  os << "\n";
  StepSignature backward =
      FunctionEmitter(os, cell, grad.step)
          .emit(cell.name + "_backward_step",
                "inputs, states, params, saved values, gradient seeds -> input, state and param "
                "gradients");
  emitSequences(os, cell, grad, train, backward);
  os << "}\n";
}

} // namespace cellc::backend::mlir
