#include "compiler/backend/HalideLowering.h"

#include "schedules/CpuSchedule.h"

#include <Halide.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cellc::backend {

using namespace Halide;
using ir::Node;
using ir::Op;
using ir::ValueId;
using plan::Role;

namespace {

/// An IR construct the lowering does not handle (an internal error, reported not aborted).
struct LoweringError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

bool isPerSample(Role r) { return r != Role::Param && r != Role::ParamT && r != Role::GradParam; }

/// Builds the Halide pipeline of one kernel: the algorithm only; schedules come from
/// schedules/.
class KernelLowering {
public:
  KernelLowering(const ir::Cell &cell, const ir::Function &f, const plan::Kernel &k,
                 const Target &t)
      : cell_(cell), f_(f), k_(k), sched_(t), i_("i"), n_("n"), c_("c") {}

  Pipeline build();
  std::vector<Argument> arguments() const { return args_; }

private:
  Expr size(const Size &s) const;
  Expr elem(ValueId v, Expr i, Expr n); // value v at element i of sample n (vectors, scalars)
  Expr matElem(ValueId v, Expr col, Expr row, Expr n); // a per-sample matrix (outer products)
  Func define(ValueId v);
  Expr pointwise(const Node &nd, Expr i, Expr n);
  void bindInput(const plan::Arg &a);

  const ir::Cell &cell_;
  const ir::Function &f_;
  const plan::Kernel &k_;
  schedules::CpuSchedule sched_;
  Var i_, n_, c_;
  std::map<std::string, Param<int32_t>> dims_;
  Param<int32_t> samples_{"samples"};
  std::vector<Argument> args_;
  std::map<ValueId, Func> funcs_;          // per-sample values
  std::map<ValueId, ImageParam> paramOf_;  // param leaves (declared layout)
  std::map<ValueId, ImageParam> paramTOf_; // param leaves (packed transposed)
  std::map<ValueId, int> uses_;
};

Expr KernelLowering::size(const Size &s) const {
  Expr e = cast<int32_t>(int32_t(s.constantPart()));
  for (auto &[d, k] : s.terms())
    e = e + int32_t(k) * dims_.at(d);
  return e;
}

void KernelLowering::bindInput(const plan::Arg &a) {
  const ir::Type &t = a.type;
  if (a.role == Role::Param || a.role == Role::ParamT) {
    ImageParam p(Float(32), t.rank, (a.role == Role::ParamT ? "pT_" : "p_") + a.name);
    p.set_host_alignment(4); // caller memory: only float alignment is promised
    (a.role == Role::ParamT ? paramTOf_ : paramOf_).emplace(a.node, p);
    args_.push_back(p);
    return;
  }
  ImageParam p(Float(32), 2, std::string(plan::roleName(a.role)) + "_" + a.name);
  p.set_host_alignment(4);
  Func f("in_" + a.name);
  if (t.rank == 0)
    f(n_) = p(0, n_);
  else
    f(i_, n_) = p(i_, n_);
  funcs_.emplace(a.node, f);
  args_.push_back(p);
}

Expr KernelLowering::elem(ValueId v, Expr i, Expr n) {
  const Node &nd = f_[v];
  if (nd.op == Op::Const)
    return Expr(float(nd.value));
  if (nd.op == Op::DimSize)
    return cast<float>(size(nd.lo));
  if (nd.op == Op::Param) {
    const ImageParam &p = paramOf_.at(v);
    return nd.type.rank == 0 ? p() : p(i);
  }
  Func f = funcs_.count(v) ? funcs_.at(v) : define(v);
  return nd.type.rank == 0 ? f(n) : f(i, n);
}

Expr KernelLowering::matElem(ValueId v, Expr col, Expr row, Expr n) {
  const Node &nd = f_[v];
  switch (nd.op) {
  case Op::Const:
    return Expr(float(nd.value));
  case Op::Outer: // (a (x) b)[row, col] = a[row] b[col]
    return elem(nd.operands[0], row, n) * elem(nd.operands[1], col, n);
  case Op::Add:
    return matElem(nd.operands[0], col, row, n) + matElem(nd.operands[1], col, row, n);
  default:
    throw LoweringError(std::string("a matrix-valued ") + ir::opName(nd.op) + " cannot be lowered");
  }
}

Expr KernelLowering::pointwise(const Node &nd, Expr i, Expr n) {
  auto a = [&](int k) { return elem(nd.operands[k], i, n); };
  switch (nd.op) {
  case Op::Neg:
    return -a(0);
  case Op::Sigmoid:
    return 1.0f / (1.0f + exp(-a(0)));
  case Op::Tanh:
    return tanh(a(0));
  case Op::Relu:
    return max(a(0), 0.0f);
  case Op::Exp:
    return exp(a(0));
  case Op::Log:
    return log(a(0));
  case Op::Softplus: { // max(x, 0) + log(1 + e^-|x|): no overflow for large |x|
    Expr x = a(0);
    return max(x, 0.0f) + log(1.0f + exp(-abs(x)));
  }
  case Op::HardSigmoid:
    return clamp(a(0) / 6.0f + 0.5f, 0.0f, 1.0f);
  case Op::Sqrt:
    return sqrt(a(0));
  case Op::Rsqrt:
    return 1.0f / sqrt(a(0));
  case Op::Abs:
    return abs(a(0));
  case Op::Step:
    return select(a(0) > 0.0f, 1.0f, 0.0f);
  case Op::Add:
    return a(0) + a(1);
  case Op::Sub:
    return a(0) - a(1);
  case Op::Mul:
    return a(0) * a(1);
  case Op::Div:
    return a(0) / a(1);
  case Op::Min: { // a tie picks a, as the interpreter
    Expr x = a(0), y = a(1);
    return select(x <= y, x, y);
  }
  case Op::Max: {
    Expr x = a(0), y = a(1);
    return select(x >= y, x, y);
  }
  case Op::Slice:
    return elem(nd.operands[0], i + size(nd.lo), n);
  case Op::Broadcast:
    return elem(nd.operands[0], 0, n);
  case Op::Concat: {
    // Clamped reads keep every branch in bounds; select picks the right part.
    Expr at = 0, result;
    std::vector<Expr> begins;
    for (ValueId part : nd.operands) {
      begins.push_back(at);
      at = at + size(f_[part].type.rows);
    }
    result = elem(nd.operands.back(),
                  clamp(i - begins.back(), 0, size(f_[nd.operands.back()].type.rows) - 1), n);
    for (int k = int(nd.operands.size()) - 2; k >= 0; --k) {
      Expr local = clamp(i - begins[k], 0, size(f_[nd.operands[k]].type.rows) - 1);
      result = select(i < begins[k + 1], elem(nd.operands[k], local, n), result);
    }
    return result;
  }
  default:
    throw LoweringError(std::string("cannot lower ") + ir::opName(nd.op) + " pointwise");
  }
}

Func KernelLowering::define(ValueId v) {
  const Node &nd = f_[v];
  Func f("v" + std::to_string(v) + "_" + ir::opName(nd.op));
  funcs_.emplace(v, f);
  switch (nd.op) {
  case Op::MatVec: { // y(i, n) = sum_r W^T(i, r) x(r, n)
    const ImageParam &wT = paramTOf_.at(nd.operands[0]);
    RDom r(0, size(f_[nd.operands[1]].type.rows), "r");
    f(i_, n_) = 0.0f;
    f(i_, n_) += wT(i_, r) * elem(nd.operands[1], r, n_);
    sched_.gemm(f, i_, n_, r.x);
    return f;
  }
  case Op::MatTVec: { // y(j, n) = sum_r W(j, r) x(r, n)  (W's rows are r, its columns j)
    const ImageParam &w = paramOf_.at(nd.operands[0]);
    RDom r(0, size(f_[nd.operands[1]].type.rows), "r");
    f(i_, n_) = 0.0f;
    f(i_, n_) += w(i_, r) * elem(nd.operands[1], r, n_);
    sched_.gemm(f, i_, n_, r.x);
    return f;
  }
  case Op::Sum: {
    RDom r(0, size(f_[nd.operands[0]].type.rows), "r");
    f(n_) = 0.0f;
    f(n_) += elem(nd.operands[0], r, n_);
    sched_.rowReduction(f, n_);
    return f;
  }
  default:
    break;
  }
  if (nd.type.rank == 0) {
    f(n_) = pointwise(nd, 0, n_);
  } else {
    f(i_, n_) = pointwise(nd, i_, n_);
    // Stored once when read several times (or when a select would re-evaluate it).
    if (uses_[v] > 1 || nd.op == Op::Concat)
      sched_.pointwise(f, i_, n_);
  }
  return f;
}

Pipeline KernelLowering::build() {
  for (const std::string &d : cell_.dims) {
    dims_.emplace(d, Param<int32_t>(d));
    args_.push_back(dims_.at(d));
  }
  args_.push_back(samples_);
  for (const Node &nd : f_.nodes)
    for (ValueId o : nd.operands)
      ++uses_[o];
  for (const plan::Arg &a : k_.inputs)
    bindInput(a);

  std::vector<Func> outputs;
  for (const plan::Arg &a : k_.outputs) {
    Func out(std::string(plan::roleName(a.role)) + "_" + a.name);
    if (isPerSample(a.role)) {
      if (a.type.rank == 0)
        out(i_, n_) = elem(a.node, 0, n_);
      else
        out(i_, n_) = elem(a.node, i_, n_);
      sched_.output(out, i_, n_);
    } else { // a param gradient: the sum over every sample of the domain
      // Accumulated in Halide's own (aligned) memory, then copied out: Halide 14 emits
      // aligned vector loads for an update of an output buffer, which caller memory need
      // not satisfy.
      RDom rn(0, samples_, "rn");
      const ir::Type &t = a.type;
      Func acc("sum_" + a.name);
      if (t.rank == 2) {
        acc(c_, i_) = 0.0f;
        acc(c_, i_) += matElem(a.node, c_, i_, rn);
        sched_.sampleReduction(acc, c_, rn.x, true, i_);
        out(c_, i_) = acc(c_, i_);
        sched_.output(out, c_, i_);
      } else if (t.rank == 1) {
        acc(i_) = 0.0f;
        acc(i_) += elem(a.node, i_, rn);
        sched_.sampleReduction(acc, i_, rn.x, false, i_);
        out(i_) = acc(i_);
      } else {
        acc() = 0.0f;
        acc() += elem(a.node, 0, rn);
        acc.compute_root();
        out() = acc();
      }
    }
    out.output_buffer().set_host_alignment(4);
    outputs.push_back(out);
  }
  return Pipeline(outputs);
}

Target parseTarget(const std::string &s, std::string &error) {
  std::string name = s == "host" ? get_host_target().to_string() : s;
  if (!Target::validate_target_string(name)) {
    error = "unknown Halide target '" + s + "' (e.g. host, x86-64-linux-avx2-fma)";
    return Target();
  }
  return Target(name);
}

/// Runs `fn` and turns Halide's errors into a message instead of an abort.
template <typename Fn> bool guarded(Fn fn, std::string &error) {
  try {
    fn();
    return true;
  } catch (const Halide::CompileError &e) {
    error = std::string("Halide: ") + e.what();
  } catch (const Halide::Error &e) {
    error = std::string("Halide: ") + e.what();
  } catch (const LoweringError &e) {
    error = std::string("internal error: ") + e.what();
  }
  return false;
}

} // namespace

bool compileKernels(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                    const CompileRequest &req, CompiledKernels &out, std::string &error) {
  Target target = parseTarget(req.target, error);
  if (!error.empty())
    return false;
  return guarded(
      [&] {
        for (const plan::Kernel &k : plan.kernels) {
          KernelLowering lowering(cell, k.backward ? grad.step : cell.step, k, target);
          Pipeline p = lowering.build();
          std::string fn = cell.name + "_" + k.name;
          std::string obj = (std::filesystem::path(req.outputDir) / (fn + ".o")).string();
          p.compile_to_object(obj, lowering.arguments(), fn,
                              target.with_feature(Target::NoRuntime));
          out.objects.push_back(obj);
        }
        std::string rt = (std::filesystem::path(req.outputDir) / "halide_runtime.o").string();
        compile_standalone_runtime(rt, target);
        out.objects.push_back(rt);
      },
      error);
}

bool lowerToStmt(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
                 const std::string &targetName, std::string &stmt, std::string &error) {
  Target target = parseTarget(targetName, error);
  if (!error.empty())
    return false;
  std::string dir = std::filesystem::temp_directory_path() / "cellc-stmt-XXXXXX";
  std::vector<char> tmpl(dir.begin(), dir.end());
  tmpl.push_back('\0');
  if (!mkdtemp(tmpl.data())) {
    error = "cannot create a temporary directory";
    return false;
  }
  std::string tmp = tmpl.data();
  bool ok = guarded(
      [&] {
        for (const plan::Kernel &k : plan.kernels) {
          KernelLowering lowering(cell, k.backward ? grad.step : cell.step, k, target);
          Pipeline p = lowering.build();
          std::string path = tmp + "/" + k.name + ".stmt";
          p.compile_to_lowered_stmt(path, lowering.arguments(), Halide::Text,
                                    target.with_feature(Target::NoRuntime));
          std::ifstream in(path);
          std::stringstream ss;
          ss << in.rdbuf();
          stmt += "// kernel " + cell.name + "_" + k.name + "\n" + ss.str() + "\n";
        }
      },
      error);
  std::filesystem::remove_all(tmp);
  return ok;
}

} // namespace cellc::backend
