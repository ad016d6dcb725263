// The sequence functions of the MLIR module: what a library call computes, as loops over the
// step functions. `@<cell>_forward` runs the training step for t = 0..T-1 and b = 0..B-1
// (scf.for, the states carried as iter_args) and returns the outputs [T][B][n], the final
// states [B][n] and the values the backward reads [T][B][n]; `@<cell>_backward` runs the
// backward step for t = T-1..0, carries the state gradients, sums the param gradients and
// returns the input, initial-state and param gradients, in the library's order.
#include "compiler/backend/mlir/MlirWriter.h"

#include <stdexcept>

namespace cellc::backend::mlir {
namespace {

using ir::Node;
using ir::Op;

class SequenceEmitter : public Writer {
public:
  SequenceEmitter(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad)
      : Writer(os, cell), grad_(grad) {}

  void forward(const StepSignature &step) {
    const ir::Cell &c = cell_;
    std::vector<std::string> args = dimArgs(), results;
    for (const ir::TensorDecl &x : c.inputs)
      args.push_back("%" + x.name + ": " + seqType(x.type, true));
    for (const ir::TensorDecl &s : c.states)
      args.push_back("%" + s.name + ".init: " + seqType(s.type, false));
    for (const ir::TensorDecl &p : c.params)
      args.push_back("%" + p.name + ": " + type(p.type));
    // Carried: each step result (a new state [B], an output [T][B]), then each saved value.
    std::vector<Carried> carried;
    for (const ir::Result &r : c.step.results) {
      bool state = r.kind == ir::Result::Kind::NewState;
      carried.push_back({c.step[r.value].type, !state, state ? "%" + r.name + ".init" : ""});
    }
    for (ir::ValueId v : grad_.saved)
      carried.push_back({c.step[v].type, true, ""});
    std::vector<std::string> names;
    for (const ir::Result &r : c.step.results)
      names.push_back(r.kind == ir::Result::Kind::NewState ? r.name + ".final" : r.name);
    for (ir::ValueId v : grad_.saved)
      names.push_back("saved.v" + std::to_string(v));
    for (const Carried &k : carried)
      results.push_back(seqType(k.type, k.perStep));
    os_ << "\n  // the training forward over the sequence; returns " << join(names) << "\n"
        << "  func @" << c.name << "_forward(" << join(args) << ") -> (" << join(results)
        << ") attributes {llvm.emit_c_interface} {\n";
    prologue(carried);
    loops(carried, step, false, [&](const Node &leaf, const Names &n) -> std::string {
      if (leaf.op == Op::Input)
        return take("%" + leaf.name, leaf.type, true, n);
      if (leaf.op == Op::State)
        return take(n.carry.at(newStateResult(leaf.name)), leaf.type, false, n);
      if (leaf.op == Op::Param)
        return "%" + leaf.name;
      throw std::invalid_argument("a forward step reads a leaf other than x, h, params");
    });
  }

  void backward(const StepSignature &step) {
    const ir::Cell &c = cell_;
    std::vector<std::string> args = dimArgs(), results;
    for (const ir::TensorDecl &p : c.params)
      args.push_back("%" + p.name + ": " + type(p.type));
    for (ir::ValueId v : grad_.saved)
      args.push_back("%saved.v" + std::to_string(v) + ": " + seqType(c.step[v].type, true));
    for (const ir::TensorDecl &y : c.outputs)
      args.push_back("%grad." + y.name + ": " + seqType(y.type, true));
    for (const ir::TensorDecl &s : c.states)
      args.push_back("%grad." + s.name + ".final: " + seqType(s.type, false));
    // Carried, in the backward step's result order: input gradients [T][B], state gradients
    // [B] (from the final states' gradients), param gradients (sums from 0).
    std::vector<Carried> carried;
    for (const ir::Result &r : grad_.step.results) {
      const Type &t = grad_.step[r.value].type;
      switch (r.kind) {
      case ir::Result::Kind::GradInput:
        carried.push_back({t, true, ""});
        break;
      case ir::Result::Kind::GradState:
        carried.push_back({t, false, "%grad." + r.name + ".final"});
        break;
      case ir::Result::Kind::GradParam:
        carried.push_back({t, false, "", true});
        break;
      case ir::Result::Kind::NewState:
      case ir::Result::Kind::Output:
        throw std::logic_error("a backward step with a forward result");
      }
    }
    for (const Carried &k : carried)
      results.push_back(resultType(k));
    std::vector<std::string> names;
    for (const ir::Result &r : grad_.step.results)
      names.push_back("grad_" + r.name + (r.kind == ir::Result::Kind::GradState ? ".init" : ""));
    os_ << "\n  // the backward over the sequence, t = T-1..0; returns " << join(names)
        << "\n  func @" << c.name << "_backward(" << join(args) << ") -> (" << join(results)
        << ") attributes {llvm.emit_c_interface} {\n";
    std::vector<Type> read;
    for (ir::ValueId v : grad_.saved)
      read.push_back(c.step[v].type);
    prologue(carried, read);
    loops(carried, step, true, [&](const Node &leaf, const Names &n) -> std::string {
      if (leaf.op == Op::Param)
        return "%" + leaf.name;
      if (leaf.op == Op::Saved)
        return take("%saved.v" + std::to_string(leaf.savedRef), leaf.type, true, n);
      if (leaf.op == Op::Seed && !leaf.seedOfState)
        return take("%grad." + leaf.name, leaf.type, true, n);
      if (leaf.op == Op::Seed)
        return take(n.carry.at(stateResult(leaf.name)), leaf.type, false, n);
      throw std::invalid_argument("a backward step reads an input or a state directly");
    });
  }

private:
  /// A value the loops carry: per step ([T][B], filled at (t, b)), per sample ([B], replaced
  /// each step; `init` its value before step 0) or a sum over all steps and samples.
  struct Carried {
    Type type;
    bool perStep;
    std::string init;
    bool sum = false;
  };

  /// The SSA names of one iteration.
  struct Names {
    std::string t, b;
    std::vector<std::string> carry; // the loop's values of the carried ones
  };

  std::vector<std::string> dimArgs() const {
    std::vector<std::string> args;
    for (const std::string &d : cell_.dims)
      args.push_back("%dim." + d + ": index");
    args.push_back("%T.steps: index");
    args.push_back("%B.samples: index");
    return args;
  }

  /// A per-sample value of every step ([T][B][n]) or of one step ([B][n]).
  std::string seqType(const Type &t, bool perStep) const {
    if (t.rank == 2)
      throw std::invalid_argument("a per-sample matrix in the sequence");
    std::string dims = perStep ? "?x?x" : "?x";
    if (t.rank == 1)
      dims += dim(t.rows) + "x";
    return "tensor<" + dims + "f32>";
  }

  /// Where result `kind` of tensor `name` is among a step function's results.
  static size_t resultIndex(const ir::Function &f, ir::Result::Kind kind, const std::string &name) {
    for (size_t i = 0; i < f.results.size(); ++i)
      if (f.results[i].kind == kind && f.results[i].name == name)
        return i;
    throw std::logic_error("no result for " + name);
  }
  size_t newStateResult(const std::string &name) const {
    return resultIndex(cell_.step, ir::Result::Kind::NewState, name);
  }
  size_t stateResult(const std::string &name) const {
    return resultIndex(grad_.step, ir::Result::Kind::GradState, name);
  }

  /// The type of one sample's slice of a sequence before it is reshaped: tensor<1x1xNxf32>.
  std::string unitType(const Type &t, bool perStep) const {
    return std::string("tensor<") + (perStep ? "1x1x" : "1x") + dim(t.rows) + "xf32>";
  }

  /// Sample b (of step t) out of a sequence. The slice keeps its unit dims and is then
  /// collapsed: MLIR 14's bufferization copies a rank-reducing slice between mismatched shapes.
  std::string take(const std::string &seq, const Type &t, bool perStep, const Names &n) {
    std::string v = temp(), at = perStep ? n.t + ", " + n.b : n.b;
    if (t.rank == 0) {
      os_ << "        " << v << " = tensor.extract " << seq << "[" << at
          << "] : " << seqType(t, perStep) << "\n";
      return v;
    }
    std::string len = sizeOperand(t.rows), unit = temp();
    os_ << "        " << unit << " = tensor.extract_slice " << seq << "[" << at << ", 0] ["
        << (perStep ? "1, 1, " : "1, ") << len << "] [" << (perStep ? "1, 1, 1" : "1, 1")
        << "] : " << seqType(t, perStep) << " to " << unitType(t, perStep) << "\n"
        << "        " << v << " = tensor.collapse_shape " << unit << " ["
        << (perStep ? "[0, 1, 2]" : "[0, 1]") << "] : " << unitType(t, perStep) << " into "
        << type(t) << "\n";
    return v;
  }

  /// `seq` with sample b (of step t) set to `value`.
  std::string put(const std::string &value, const std::string &seq, const Type &t, bool perStep,
                  const Names &n) {
    std::string v = temp(), at = perStep ? n.t + ", " + n.b : n.b;
    if (t.rank == 0) {
      os_ << "        " << v << " = tensor.insert " << value << " into " << seq << "[" << at
          << "] : " << seqType(t, perStep) << "\n";
      return v;
    }
    std::string unit = temp();
    os_ << "        " << unit << " = tensor.expand_shape " << value << " ["
        << (perStep ? "[0, 1, 2]" : "[0, 1]") << "] : " << type(t) << " into "
        << unitType(t, perStep) << "\n"
        << "        " << v << " = tensor.insert_slice " << unit << " into " << seq << "[" << at
        << ", 0] [" << (perStep ? "1, 1, " : "1, ") << sizeOperand(t.rows) << "] ["
        << (perStep ? "1, 1, 1" : "1, 1") << "] : " << unitType(t, perStep) << " into "
        << seqType(t, perStep) << "\n";
    return v;
  }

  /// `a + b` of a param gradient's type.
  std::string sum(const std::string &a, const std::string &b, const Type &t) {
    std::string v = temp();
    if (t.rank == 0) {
      os_ << "        " << v << " = arith.addf " << a << ", " << b << " : f32\n";
      return v;
    }
    std::string init = empty(t), x = temp(), y = temp(), out = temp(), r = temp();
    std::string map = t.rank == 1 ? "affine_map<(d0) -> (d0)>" : "affine_map<(d0, d1) -> (d0, d1)>";
    std::string par = t.rank == 1 ? "[\"parallel\"]" : "[\"parallel\", \"parallel\"]";
    os_ << "        " << v << " = linalg.generic {indexing_maps = [" << map << ", " << map << ", "
        << map << "], iterator_types = " << par << "} ins(" << a << ", " << b << " : " << type(t)
        << ", " << type(t) << ") outs(" << init << " : " << type(t) << ") {\n        ^bb0(" << x
        << ": f32, " << y << ": f32, " << out << ": f32):\n          " << r << " = arith.addf " << x
        << ", " << y << " : f32\n          linalg.yield " << r << " : f32\n        } -> " << type(t)
        << "\n";
    return v;
  }

  /// Sizes and empty sequences, before the loops (values used inside must dominate them).
  void prologue(std::vector<Carried> &carried, const std::vector<Type> &read = {}) {
    os_ << "    %c.0 = arith.constant 0 : index\n    %c.1 = arith.constant 1 : index\n";
    auto sizes = [&](const Type &t) {
      if (t.rank >= 1)
        sizeOperand(t.rows);
      if (t.rank == 2)
        sizeOperand(t.cols);
    };
    for (const auto *list : {&cell_.inputs, &cell_.states, &cell_.params, &cell_.outputs})
      for (const ir::TensorDecl &d : *list)
        sizes(d.type);
    for (const Carried &k : carried)
      sizes(k.type);
    for (const Type &t : read)
      sizes(t);
    for (Carried &k : carried) {
      if (!k.init.empty())
        continue;
      if (k.sum) {
        k.init = k.type.rank == 0 ? constant(0) : zeros(k.type);
        continue;
      }
      std::string v = temp(), len = k.type.rank == 1 ? ", " + sizeOperand(k.type.rows) : "";
      os_ << "    " << v << " = linalg.init_tensor ["
          << (k.perStep ? "%T.steps, %B.samples" : "%B.samples") << len
          << "] : " << seqType(k.type, k.perStep) << "\n";
      k.init = v;
    }
    for (Carried &k : carried) // a fresh [B] tensor for the next step's states
      if (!k.perStep && !k.sum) {
        std::string v = temp(), len = k.type.rank == 1 ? ", " + sizeOperand(k.type.rows) : "";
        os_ << "    " << v << " = linalg.init_tensor [%B.samples" << len
            << "] : " << seqType(k.type, false) << "\n";
        nextEmpty_.push_back(v);
      } else {
        nextEmpty_.push_back("");
      }
  }

  std::string carriedType(const Carried &k) const {
    return k.sum ? type(k.type) : seqType(k.type, k.perStep);
  }

  /// What the function returns for a carried value: a scalar sum as tensor<f32>, so every
  /// result is a memref once bufferized and C callers receive descriptors only.
  std::string resultType(const Carried &k) const {
    return k.sum && k.type.rank == 0 ? "tensor<f32>" : carriedType(k);
  }

  /// The two loops (t outer, b inner) around one call of the step; `arg` gives the value of
  /// each leaf of the step for an iteration.
  template <typename Arg>
  void loops(const std::vector<Carried> &carried, const StepSignature &step, bool reverse,
             Arg arg) {
    std::vector<std::string> types, outer, inner, outerInit, innerInit;
    for (size_t i = 0; i < carried.size(); ++i) {
      types.push_back(carriedType(carried[i]));
      outer.push_back("%o." + std::to_string(i));
      inner.push_back("%i." + std::to_string(i));
    }
    for (size_t i = 0; i < carried.size(); ++i) {
      outerInit.push_back(outer[i] + " = " + carried[i].init);
      // Per-sample values start each step from an empty [B]; the step's value is read from
      // the outer carry.
      bool fresh = !carried[i].perStep && !carried[i].sum;
      innerInit.push_back(inner[i] + " = " + (fresh ? nextEmpty_[i] : outer[i]));
    }
    os_ << "    %loop:" << carried.size()
        << " = scf.for %s.i = %c.0 to %T.steps step %c.1 iter_args(" << join(outerInit) << ") -> ("
        << join(types) << ") {\n";
    Names n{"%t.step", "%b.sample", outer};
    if (reverse)
      os_ << "      %t.after = arith.subi %T.steps, %s.i : index\n      %t.step = arith.subi "
             "%t.after, %c.1 : index\n";
    else
      os_ << "      %t.step = arith.addi %s.i, %c.0 : index\n";
    os_ << "      %step:" << carried.size()
        << " = scf.for %b.sample = %c.0 to %B.samples step %c.1 iter_args(" << join(innerInit)
        << ") -> (" << join(types) << ") {\n";
    std::vector<std::string> callArgs;
    for (const std::string &d : cell_.dims)
      callArgs.push_back("%dim." + d);
    for (const Node *leaf : step.leaves)
      callArgs.push_back(arg(*leaf, n));
    std::vector<std::string> argTypes(cell_.dims.size(), "index");
    argTypes.insert(argTypes.end(), step.argTypes.begin(), step.argTypes.end());
    os_ << "        %r.call:" << step.resultTypes.size() << " = call @" << step.symbol << "("
        << join(callArgs) << ") : (" << join(argTypes) << ") -> (" << join(step.resultTypes)
        << ")\n";
    std::vector<std::string> yields;
    for (size_t i = 0; i < carried.size(); ++i) {
      std::string r = "%r.call#" + std::to_string(i);
      const Carried &k = carried[i];
      yields.push_back(k.sum ? sum(inner[i], r, k.type) : put(r, inner[i], k.type, k.perStep, n));
    }
    os_ << "        scf.yield " << join(yields) << " : " << join(types) << "\n      }\n";
    std::vector<std::string> stepValues;
    for (size_t i = 0; i < carried.size(); ++i)
      stepValues.push_back("%step#" + std::to_string(i));
    os_ << "      scf.yield " << join(stepValues) << " : " << join(types) << "\n    }\n";
    std::vector<std::string> finals, resultTypes;
    for (size_t i = 0; i < carried.size(); ++i) {
      std::string v = "%loop#" + std::to_string(i);
      if (carried[i].sum && carried[i].type.rank == 0) {
        std::string t = temp();
        os_ << "    " << t << " = tensor.from_elements " << v << " : tensor<f32>\n";
        v = t;
      }
      finals.push_back(v);
      resultTypes.push_back(resultType(carried[i]));
    }
    os_ << "    return " << join(finals) << " : " << join(resultTypes) << "\n  }\n";
  }

  const ir::Gradient &grad_;
  std::vector<std::string> nextEmpty_;
};

} // namespace

void emitSequences(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad,
                   const StepSignature &forward, const StepSignature &backward) {
  // Written to a buffer first: a cell the loops cannot carry gets a comment, not half a
  // function.
  std::ostringstream text;
  try {
    SequenceEmitter(text, cell, grad).forward(forward);
    SequenceEmitter(text, cell, grad).backward(backward);
  } catch (const std::invalid_argument &e) {
    os << "\n  // no sequence functions: " << e.what() << "\n";
    return;
  }
  os << text.str();
}

} // namespace cellc::backend::mlir
