#include "compiler/backend/halide/HalideLowering.h"

#ifndef CELLC_RUNTIME_INCLUDE_DIR
#define CELLC_RUNTIME_INCLUDE_DIR "runtime"
#endif
#ifndef CELLC_HALIDE_INCLUDE_DIR
#define CELLC_HALIDE_INCLUDE_DIR "/usr/include/halide14"
#endif

#include "compiler/backend/LibraryGen.h"
#include "compiler/backend/halide/GemmPacking.h"
#include "compiler/backend/halide/IeeeMath.h"
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

bool isParam(Role r) { return r == Role::Param; }
bool isPerSample(Role r) { return !isParam(r) && r != Role::GradParam; }

/// The Halide name of a kernel argument: "param_t_W_ih" for a matrix packed for W @ v.
std::string argName(const plan::Arg &a) {
  static const char *packing[] = {"", "_t", "_p"};
  return std::string(plan::roleName(a.role)) + packing[int(a.use)] + "_" + a.name;
}

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
  /// The outer products (row vector, column vector) whose sum a matrix gradient is.
  void outerTerms(ValueId v, std::vector<std::pair<ValueId, ValueId>> &terms);
  /// A matrix param's gradient: sum over samples of outer products, as one GEMM.
  Func sampleGemm(const plan::Arg &a);
  Func concat(ValueId v, Func f);
  /// Value v over whole register tiles: indices past its length or past the last sample read
  /// the last element or sample. Stored once per kernel, shared by every GEMM that reads v.
  Func staged(ValueId v);
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
  std::map<ValueId, Func> funcs_;         // per-sample values
  std::map<ValueId, ImageParam> paramOf_; // param leaves (declared layout)
  // Param leaves packed for GEMMs (param_t, param_p) as A(i, r) over their panels: the rows i
  // are padded with zeros to a multiple of CpuSchedule::kPackPadding, so full register tiles
  // never read past them, and stored a panel of kPackPadding rows at a time
  // (cellrt::packPadded).
  std::map<std::pair<ValueId, plan::Use>, Func> packedOf_;
  std::map<ValueId, int> uses_;
  std::map<ValueId, Func> staged_;
};

Expr KernelLowering::size(const Size &s) const {
  Expr e = cast<int32_t>(int32_t(s.constantPart()));
  for (auto &[d, k] : s.terms())
    e = e + int32_t(k) * dims_.at(d);
  return e;
}

void KernelLowering::bindInput(const plan::Arg &a) {
  const ir::Type &t = a.type;
  if (isParam(a.role)) {
    // A GEMM's matrix comes packed in panels, padded along the GEMM's rows (GemmPacking.h).
    bool packed = a.use != plan::Use::Values;
    ImageParam p(Float(32), packed ? 3 : t.rank, argName(a));
    p.set_host_alignment(4); // caller memory: only float alignment is promised
    if (!packed) {
      paramOf_.emplace(a.node, p);
    } else {
      // Panels (ii, r, panel): a register tile's rows are one panel's, so its reads are one
      // contiguous run instead of a row of the tile every `padded rows` floats.
      const int panel = schedules::CpuSchedule::kPackPadding;
      p.dim(0).set_bounds(0, panel).set_stride(1); // constants in the address arithmetic
      p.dim(1).set_stride(panel);
      Func matrix(argName(a) + "_panels");
      Var r("r");
      matrix(i_, r) = p(i_ % panel, r, i_ / panel);
      packedOf_.emplace(std::make_pair(a.node, a.use), matrix);
    }
    args_.push_back(p);
    return;
  }
  ImageParam p(Float(32), 2, argName(a));
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

void KernelLowering::outerTerms(ValueId v, std::vector<std::pair<ValueId, ValueId>> &terms) {
  const Node &nd = f_[v];
  if (nd.op == Op::Const) { // no gradient flows: a zero matrix
    if (nd.value != 0)
      throw LoweringError("a nonzero constant matrix cannot be lowered");
  } else if (nd.op == Op::Outer) {
    terms.push_back({nd.operands[0], nd.operands[1]});
  } else if (nd.op == Op::Add) {
    outerTerms(nd.operands[0], terms);
    outerTerms(nd.operands[1], terms);
  } else {
    throw LoweringError(std::string("a matrix-valued ") + ir::opName(nd.op) + " cannot be lowered");
  }
}

Func KernelLowering::sampleGemm(const plan::Arg &a) {
  // g(c, r) = sum_n sum_k a_k(r, n) b_k(c, n). The column vectors b_k are staged, padded with
  // zeros to whole register tiles, so the GEMM reads them contiguously along c; the row
  // index is clamped like the samples of a forward GEMM.
  // The samples are taken in chunks (K-blocking): a chunk's slice of the operands stays in
  // cache while every tile of the result accumulates it. Chunks are of at most kSampleChunk
  // samples and as equal as they can be; staged operands are zero past the last sample, so
  // the last chunk may run over by less than one sample per chunk. (Fixed chunks of 256 summed
  // 231 zero samples at T*B = 25: 20 ms for each weight gradient of LSTM 1024 at B = 1, T = 25,
  // 1 thread, on the 2-core Zen 4 dev machine.)
  std::vector<std::pair<ValueId, ValueId>> terms;
  outerTerms(a.node, terms);
  Func acc("sum_" + a.name);
  if (terms.empty()) {
    acc(c_, i_) = 0.0f;
    acc.compute_root();
    return acc;
  }
  Expr rows = size(a.type.rows), cols = size(a.type.cols);
  const int chunk = schedules::CpuSchedule::kSampleChunk;
  Expr chunks = (samples_ + chunk - 1) / chunk;
  Expr chunkLen = (samples_ + chunks - 1) / chunks;
  Var ko("ko");
  RDom ki(0, chunkLen, "ki");
  RDom rko(0, chunks, "rko");
  Expr sample = ko * chunkLen + ki;
  Func partial("sum_" + a.name + "_chunk");
  Expr sum = 0.0f;
  for (auto &[rowVec, colVec] : terms) {
    Func padded("pad_" + a.name + "_v" + std::to_string(colVec));
    padded(c_, n_) = select(c_ < cols && n_ < samples_,
                            elem(colVec, clamp(c_, 0, cols - 1), min(n_, samples_ - 1)), 0.0f);
    sched_.pointwise(padded, c_, n_);
    sum = sum + padded(c_, sample) * staged(rowVec)(i_, sample);
  }
  partial(c_, i_, ko) = 0.0f;
  partial(c_, i_, ko) += sum;
  acc(c_, i_) = 0.0f;
  acc(c_, i_) += partial(c_, i_, rko);
  sched_.chunkedGemm(acc, partial, c_, i_, ko, ki.x, rko.x);
  return acc;
}

Func KernelLowering::staged(ValueId v) {
  auto it = staged_.find(v);
  if (it != staged_.end())
    return it->second;
  Func s("staged_v" + std::to_string(v));
  Expr len = size(f_[v].type.rows);
  s(i_, n_) = elem(v, min(i_, len - 1), min(n_, samples_ - 1));
  sched_.pointwise(s, i_, n_);
  staged_.emplace(v, s);
  return s;
}

Func KernelLowering::concat(ValueId v, Func f) {
  // Each part is written into its own range by an update: no element evaluates the others.
  const Node &nd = f_[v];
  f(i_, n_) = undef<float>();
  Expr at = 0;
  std::vector<RVar> parts;
  for (ValueId part : nd.operands) {
    Expr len = size(f_[part].type.rows);
    RDom r(0, len, "r");
    f(r + at, n_) = elem(part, r, n_);
    parts.push_back(r.x);
    at = at + len;
  }
  sched_.concat(f, n_, parts);
  return f;
}

Expr KernelLowering::pointwise(const Node &nd, Expr i, Expr n) {
  auto a = [&](int k) { return elem(nd.operands[k], i, n); };
  switch (nd.op) {
  case Op::Neg:
    return -a(0);
  case Op::Sigmoid:
    return ieee::sigmoid(a(0));
  case Op::Tanh:
    return ieee::tanh(a(0));
  case Op::Relu:
    return ieee::relu(a(0));
  case Op::Exp:
    return ieee::exp(a(0));
  case Op::Log:
    return ieee::log(a(0));
  case Op::Softplus:
    return ieee::softplus(a(0));
  case Op::HardSigmoid:
    return ieee::hardSigmoid(a(0));
  case Op::Sqrt:
    return sqrt(a(0));
  case Op::Rsqrt:
    return 1.0f / sqrt(a(0));
  case Op::Abs:
    return abs(a(0));
  case Op::IsPositive:
    return select(a(0) > 0.0f, 1.0f, 0.0f);
  case Op::Add:
    return a(0) + a(1);
  case Op::Sub:
    return a(0) - a(1);
  case Op::Mul:
    return a(0) * a(1);
  case Op::Div:
    return a(0) / a(1);
  case Op::Min:
    return ieee::minimum(a(0), a(1));
  case Op::Max:
    return ieee::maximum(a(0), a(1));
  case Op::Slice:
    return elem(nd.operands[0], i + size(nd.lo), n);
  case Op::Broadcast:
    return elem(nd.operands[0], 0, n);
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
  case Op::MatVec:
  case Op::MatTVec:
  case Op::Outer:
  case Op::Concat:
  case Op::Sum:
    break; // stages of their own (define)
  }
  throw LoweringError(std::string("cannot lower ") + ir::opName(nd.op) + " pointwise");
}

Func KernelLowering::define(ValueId v) {
  const Node &nd = f_[v];
  Func f("v" + std::to_string(v) + "_" + ir::opName(nd.op));
  funcs_.emplace(v, f);
  switch (nd.op) {
  case Op::MatVec:    // y(i, n) = sum_r W^T(i, r) x(r, n)
  case Op::MatTVec: { // y(j, n) = sum_r W(j, r) x(r, n)  (W's rows are r, its columns j)
    plan::Use packing = nd.op == Op::MatVec ? plan::Use::MatVecMatrix : plan::Use::MatTVecMatrix;
    Func a = packedOf_.at({nd.operands[0], packing});
    RDom r(0, size(f_[nd.operands[1]].type.rows), "r");
    Func prod(f.name() + "_acc"), x = staged(nd.operands[1]);
    // The vector operand is staged over whole blocks of samples, so the register tiles read
    // it without bounds arithmetic.
    prod(i_, n_) = 0.0f;
    prod(i_, n_) += a(i_, r) * x(r, n_);
    f(i_, n_) = prod(i_, n_);
    sched_.gemm(f, prod, i_, n_, r.x, samples_);
    return f;
  }
  case Op::Concat:
    return concat(v, f);
  case Op::Sum: {
    RDom r(0, size(f_[nd.operands[0]].type.rows), "r");
    f(n_) = 0.0f;
    f(n_) += elem(nd.operands[0], r, n_);
    sched_.rowReduction(f, n_);
    return f;
  }
    CELLC_IR_LEAF_OPS(CELLC_IR_CASE)
    CELLC_IR_UNARY_OPS(CELLC_IR_CASE)
    CELLC_IR_BINARY_OPS(CELLC_IR_CASE)
  case Op::Outer:
  case Op::Slice:
  case Op::Broadcast:
    break; // pointwise
  }
  // Pointwise ops are strict IEEE float: under Halide's default fast-math flags LLVM may assume
  // that no value is NaN or Inf and fold away the NaN tests of ieee::. GEMMs and reductions
  // keep fast math (contraction into FMAs); their results reach pointwise ops through memory,
  // where no such assumption survives.
  if (nd.type.rank == 0) {
    f(n_) = strict_float(pointwise(nd, 0, n_));
  } else {
    f(i_, n_) = strict_float(pointwise(nd, i_, n_));
    // Stored once when read several times (by other nodes or by the kernel's outputs).
    if (uses_[v] > 1)
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
  // Uses within this kernel decide what is stored once rather than recomputed.
  for (ValueId v : k_.computes)
    for (ValueId o : f_[v].operands)
      ++uses_[o];
  for (const plan::Arg &a : k_.outputs)
    ++uses_[a.node];
  for (const plan::Arg &a : k_.inputs)
    bindInput(a);

  std::vector<Func> outputs;
  for (const plan::Arg &a : k_.outputs) {
    Func out(argName(a));
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
        acc = sampleGemm(a);
        out(c_, i_) = acc(c_, i_);
        sched_.output(out, c_, i_);
      } else if (t.rank == 1 && f_[a.node].op == Op::Const) {
        // A gradient that does not depend on the sample (zero, where nothing flows): the sum
        // is a product; a reduction over samples it does not read is not a schedulable one.
        out(i_) = cast<float>(samples_) * elem(a.node, i_, 0);
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

/// Halide for CPU targets: packed GEMM matrices, schedules from schedules/CpuSchedule, one
/// Halide runtime per library with its parallel-for on TBB (cellrt/HalideKernels.h).
class HalideCpuBackend : public Backend {
public:
  HalideCpuBackend(std::string name, Target t) : name_(std::move(name)), target_(t) {}

  std::string target() const override { return name_; }

  plan::Plan layout(const plan::Plan &plan) const override {
    plan::Plan p = plan;
    packGemmOperands(p, schedules::CpuSchedule::kPackPadding);
    return p;
  }

  bool compile(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
               const std::string &dir, CompiledKernels &out, std::string &error) const override {
    return guarded(
        [&] {
          for (const plan::Kernel &k : plan.kernels) {
            KernelLowering lowering(cell, k.backward ? grad.step : cell.step, k, target_);
            Pipeline p = lowering.build();
            std::string fn = kernelSymbol(cell.name, k.name);
            std::string obj = (std::filesystem::path(dir) / (fn + ".o")).string();
            p.compile_to_object(obj, lowering.arguments(), fn,
                                target_.with_feature(Target::NoRuntime));
            out.objects.push_back(obj);
          }
          std::string rt = (std::filesystem::path(dir) / "halide_runtime.o").string();
          compile_standalone_runtime(rt, target_);
          out.objects.push_back(rt);
        },
        error);
  }

  bool lowered(const ir::Cell &cell, const ir::Gradient &grad, const plan::Plan &plan,
               std::string &stmt, std::string &error) const override;

  LinkInputs linkInputs() const override {
    return {{CELLC_RUNTIME_INCLUDE_DIR, CELLC_HALIDE_INCLUDE_DIR},
            {"tbb", "pthread", "dl"},
            "cellrt/HalideKernels.h"};
  }

private:
  std::string name_;
  Target target_;
};

bool HalideCpuBackend::lowered(const ir::Cell &cell, const ir::Gradient &grad,
                               const plan::Plan &plan, std::string &stmt,
                               std::string &error) const {
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
          KernelLowering lowering(cell, k.backward ? grad.step : cell.step, k, target_);
          Pipeline p = lowering.build();
          std::string path = tmp + "/" + k.name + ".stmt";
          p.compile_to_lowered_stmt(path, lowering.arguments(), Halide::Text,
                                    target_.with_feature(Target::NoRuntime));
          std::ifstream in(path);
          std::stringstream ss;
          ss << in.rdbuf();
          stmt += "// kernel " + kernelSymbol(cell.name, k.name) + "\n" + ss.str() + "\n";
        }
      },
      error);
  std::filesystem::remove_all(tmp);
  return ok;
}

} // namespace

std::unique_ptr<Backend> makeHalideBackend(const std::string &target, std::string &error) {
  Target t = parseTarget(target, error);
  if (!error.empty())
    return nullptr;
  return std::make_unique<HalideCpuBackend>(target, t);
}

} // namespace cellc::backend
