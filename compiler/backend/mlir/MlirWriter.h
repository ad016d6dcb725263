// What the MLIR emitters share: SSA temporaries, types, index arithmetic over the dims, empty
// and filled tensors. Private to compiler/backend/mlir.
#pragma once

#include "compiler/ir/IR.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace cellc::backend::mlir {

/// An f32 literal MLIR reads back exactly: hex for infinities and NaN.
inline std::string floatLiteral(double v) {
  const float f = float(v);
  if (!std::isfinite(f)) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08X", bits);
    return hex;
  }
  std::ostringstream o;
  o.precision(9);
  o << f;
  std::string s = o.str();
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s;
}

/// A step function as its callers see it: the leaf behind each argument after the dims, and
/// the types of the arguments and results.
struct StepSignature {
  std::string symbol;
  std::vector<const ir::Node *> leaves;
  std::vector<std::string> argTypes, resultTypes;
};

/// The sequence functions (MlirSequence.cpp): the forward time loop over the training step,
/// and the reverse loop over the backward step.
void emitSequences(std::ostream &os, const ir::Cell &cell, const ir::Gradient &grad,
                   const StepSignature &forward, const StepSignature &backward);

/// Writes one function's lines. Sizes become `index` values computed from the dim arguments
/// (%dim_<d>) once per function, or literals when constant.
class Writer {
public:
  Writer(std::ostream &os, const ir::Cell &cell) : os_(os), cell_(cell) {}

protected:
  using Type = ir::Type;

  static std::string join(const std::vector<std::string> &parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i)
      out += (i ? ", " : "") + parts[i];
    return out;
  }

  Size fixed(const Size &s) const { return s.substitute(cell_.fixedDims).value_or(s); }

  std::string dim(const Size &s) const {
    Size v = fixed(s);
    return v.isConstant() ? std::to_string(v.constantPart()) : "?";
  }

  std::string type(const Type &t) const {
    if (t.rank == 0)
      return "f32";
    std::string dims = dim(t.rows) + "x";
    if (t.rank == 2)
      dims += dim(t.cols) + "x";
    return "tensor<" + dims + "f32>";
  }

  std::string temp() { return "%t." + std::to_string(temps_++); }

  /// A size as an `index` SSA value, computed once per function: c + k1*d1 + ...
  std::string index(const Size &s) {
    Size v = fixed(s);
    auto it = indexes_.find(v.str());
    if (it != indexes_.end())
      return it->second;
    std::string acc;
    auto add = [&](const std::string &term) {
      if (acc.empty())
        return void(acc = term);
      std::string sum = temp();
      os_ << "    " << sum << " = arith.addi " << acc << ", " << term << " : index\n";
      acc = sum;
    };
    for (auto &[d, k] : v.terms()) {
      if (k == 1) {
        add("%dim." + d);
        continue;
      }
      std::string coeff = temp(), prod = temp();
      os_ << "    " << coeff << " = arith.constant " << k << " : index\n"
          << "    " << prod << " = arith.muli " << coeff << ", %dim." << d << " : index\n";
      add(prod);
    }
    if (v.constantPart() != 0 || acc.empty()) {
      std::string c = temp();
      os_ << "    " << c << " = arith.constant " << v.constantPart() << " : index\n";
      add(c);
    }
    return indexes_[v.str()] = acc;
  }

  /// A size in an op's static list: a literal when constant, else an index value.
  std::string sizeOperand(const Size &s) {
    Size v = fixed(s);
    return v.isConstant() ? std::to_string(v.constantPart()) : index(v);
  }

  /// linalg.init_tensor of a vector or matrix type.
  std::string empty(const Type &t) {
    std::vector<std::string> dims = {sizeOperand(t.rows)};
    if (t.rank == 2)
      dims.push_back(sizeOperand(t.cols));
    std::string v = temp();
    os_ << "    " << v << " = linalg.init_tensor [" << join(dims) << "] : " << type(t) << "\n";
    return v;
  }

  std::string constant(double value, const std::string &indent = "    ") {
    std::string v = temp();
    os_ << indent << v << " = arith.constant " << floatLiteral(value) << " : f32\n";
    return v;
  }

  /// A tensor of type `t` holding `scalar` everywhere.
  std::string filled(const Type &t, const std::string &scalar) {
    std::string init = empty(t), v = temp();
    os_ << "    " << v << " = linalg.fill(" << scalar << ", " << init << ") : f32, " << type(t)
        << " -> " << type(t) << "\n";
    return v;
  }

  std::string zeros(const Type &t) { return filled(t, constant(0)); }

  std::ostream &os_;
  const ir::Cell &cell_;
  std::map<std::string, std::string> indexes_;
  int temps_ = 0;
};

} // namespace cellc::backend::mlir
