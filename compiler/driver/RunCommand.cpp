#include "compiler/driver/RunCommand.h"

#include "compiler/Interpreter.h"
#include "compiler/driver/LibraryRunner.h"
#include "runtime/Npy.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

namespace cellc::driver {

namespace fs = std::filesystem;
using cellrt::npy::shapeString;
using interp::Buffer;

namespace {

/// One axis of a file whose length must equal a size expression.
struct AxisConstraint {
  std::string file;
  size_t axis;
  Size size;
  int64_t actual;
};

/// The shapes of every file of a run, the dims they bind, and the errors found on the way.
class ShapeBinder {
public:
  explicit ShapeBinder(const ir::Cell &c) : cell_(c), dims_(c.fixedDims) {}

  void require(const std::string &file, const cellrt::npy::Array &a,
               const std::vector<Size> &expected) {
    expected_[file] = expected;
    actual_[file] = a.shape;
    if (a.shape.size() != expected.size())
      return;
    for (size_t i = 0; i < expected.size(); ++i)
      constraints_.push_back({file, i, expected[i], a.shape[i]});
  }

  /// Solves the dims one unknown at a time, then checks every file. Returns "" or an error.
  std::string bind() {
    for (bool progress = true; progress;) {
      progress = false;
      for (const AxisConstraint &c : constraints_) {
        std::string unknown;
        int unknowns = 0;
        for (auto &[d, k] : c.size.terms())
          if (!dims_.count(d))
            ++unknowns, unknown = d;
        if (unknowns != 1)
          continue;
        // k * D + rest = actual
        int64_t k = c.size.terms().at(unknown);
        Size rest = *c.size.minus(*Size::symbol(unknown).scaled(k));
        std::optional<int64_t> r = rest.evaluate(dims_);
        if (!r)
          continue;
        int64_t v = (c.actual - *r) / k;
        if ((c.actual - *r) % k != 0 || v < 1)
          return mismatch(c.file);
        dims_[unknown] = v;
        progress = true;
      }
    }
    for (auto &[file, expected] : expected_) {
      std::vector<int64_t> want = evaluate(expected);
      if (want != actual_[file])
        return mismatch(file);
    }
    return "";
  }

  std::vector<int64_t> evaluate(const std::vector<Size> &sizes) const {
    std::vector<int64_t> v;
    for (const Size &s : sizes)
      v.push_back(s.evaluate(dims_).value_or(-1));
    return v;
  }
  const DimValues &dims() const { return dims_; }

private:
  std::string mismatch(const std::string &file) {
    const std::vector<Size> &expected = expected_[file];
    std::string symbolic = "(";
    for (size_t i = 0; i < expected.size(); ++i)
      symbolic += (i ? ", " : "") + expected[i].str();
    symbolic += expected.size() == 1 ? ",)" : ")";
    std::string msg = file + ": expected shape " + symbolic;
    std::vector<int64_t> want = evaluate(expected);
    bool known = std::find(want.begin(), want.end(), -1) == want.end();
    if (known && symbolic != shapeString(want))
      msg += " = " + shapeString(want);
    msg += ", got " + shapeString(actual_[file]);
    if (!dims_.empty()) {
      msg += " (with";
      for (auto &[d, v] : dims_)
        msg += " " + d + "=" + std::to_string(v);
      msg += ")";
    }
    return msg;
  }

  const ir::Cell &cell_;
  DimValues dims_;
  std::vector<AxisConstraint> constraints_;
  std::map<std::string, std::vector<Size>> expected_;
  std::map<std::string, std::vector<int64_t>> actual_;
};

std::vector<Size> shapeOf(const ir::Type &t) {
  std::vector<Size> s;
  if (t.rank >= 1)
    s.push_back(t.rows);
  if (t.rank == 2)
    s.push_back(t.cols);
  return s;
}

struct LoadedFiles {
  std::map<std::string, cellrt::npy::Array> arrays; // by file name (not path)
  std::vector<std::string> errors;
};

/// Loads DIR/name; a missing optional file is skipped silently.
bool loadFile(const std::string &dir, const std::string &name, bool optional, LoadedFiles &files) {
  fs::path p = fs::path(dir) / name;
  if (optional && !fs::exists(p))
    return false;
  if (!fs::exists(p)) {
    files.errors.push_back(p.string() + ": missing (required by the cell)");
    return false;
  }
  std::string error;
  cellrt::npy::Array a;
  if (!cellrt::npy::load(p.string(), a, error)) {
    files.errors.push_back(error);
    return false;
  }
  files.arrays[name] = std::move(a);
  return true;
}

/// Writes every file under a temporary name first and renames only once all succeeded, so a
/// failed run leaves no partial outputs.
bool writeAll(const std::string &dir,
              const std::map<std::string, std::pair<std::vector<int64_t>, Buffer>> &files,
              std::ostream &err) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << "cellc: error: cannot create output directory '" << dir << "': " << ec.message() << "\n";
    return false;
  }
  std::vector<std::pair<std::string, std::string>> written;
  for (auto &[name, shapeAndData] : files) {
    std::string path = (fs::path(dir) / name).string(), tmp = path + ".partial", error;
    if (!cellrt::npy::saveFloat32(tmp, shapeAndData.first, shapeAndData.second, error)) {
      err << "cellc run: error: " << error << "\n";
      for (auto &[t, p] : written)
        std::remove(t.c_str());
      return false;
    }
    written.push_back({tmp, path});
  }
  for (auto &[tmp, path] : written)
    std::rename(tmp.c_str(), path.c_str());
  return true;
}

std::string summary(const Buffer &b) {
  double maxAbs = 0, sum = 0;
  bool finite = true;
  for (double v : b) {
    finite = finite && std::isfinite(v);
    maxAbs = std::max(maxAbs, std::fabs(v));
    sum += v;
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "mean %+.6f  max|.| %.6f%s", b.empty() ? 0.0 : sum / b.size(),
                maxAbs, finite ? "" : "  (NOT FINITE)");
  return buf;
}

} // namespace

int runCell(const CompiledCell &compiled, const RunOptions &opts, std::ostream &out,
            std::ostream &err) {
  const ir::Cell &cell = compiled.cell;
  if (!fs::is_directory(opts.inputDir)) {
    err << "cellc run: error: input directory '" << opts.inputDir << "' does not exist\n";
    return 1;
  }
  // 1. Load every file of the contract.
  LoadedFiles files;
  for (const ir::TensorDecl &x : cell.inputs)
    loadFile(opts.inputDir, x.name + ".npy", false, files);
  for (const ir::TensorDecl &s : cell.states)
    loadFile(opts.inputDir, s.name + ".init.npy", true, files);
  for (const ir::TensorDecl &p : cell.params)
    loadFile(opts.inputDir, p.name + ".npy", false, files);
  if (opts.backward) {
    for (const ir::TensorDecl &o : cell.outputs)
      loadFile(opts.inputDir, "grad_" + o.name + ".npy", false, files);
    for (const ir::TensorDecl &s : cell.states)
      loadFile(opts.inputDir, "grad_" + s.name + ".final.npy", true, files);
  }
  if (!files.errors.empty()) {
    for (const std::string &e : files.errors)
      err << "cellc run: error: " << e << "\n";
    return 1;
  }

  // 2. T and B come from the first input; every sequence must agree.
  const cellrt::npy::Array &first = files.arrays[cell.inputs[0].name + ".npy"];
  if (first.shape.size() != 3) {
    err << "cellc run: error: "
        << (fs::path(opts.inputDir) / (cell.inputs[0].name + ".npy")).string()
        << ": expected a sequence of shape (T, B, " << cell.inputs[0].type.rows.str() << "), got "
        << shapeString(first.shape) << "\n";
    return 1;
  }
  const int64_t T = first.shape[0], B = first.shape[1];
  if (T < 1 || B < 1) {
    err << "cellc run: error: " << cell.inputs[0].name << ".npy: T and B must be at least 1, got "
        << shapeString(first.shape) << "\n";
    return 1;
  }
  Size sT = Size::constant(T), sB = Size::constant(B);

  // 3. Bind the dims and check every shape.
  ShapeBinder binder(cell);
  auto path = [&](const std::string &name) { return (fs::path(opts.inputDir) / name).string(); };
  auto require = [&](const std::string &name, std::vector<Size> shape) {
    auto it = files.arrays.find(name);
    if (it != files.arrays.end())
      binder.require(path(name), it->second, shape);
  };
  for (const ir::TensorDecl &x : cell.inputs)
    require(x.name + ".npy", {sT, sB, x.type.rows});
  for (const ir::TensorDecl &s : cell.states) {
    require(s.name + ".init.npy", {sB, s.type.rows});
    require("grad_" + s.name + ".final.npy", {sB, s.type.rows});
  }
  for (const ir::TensorDecl &p : cell.params)
    require(p.name + ".npy", shapeOf(p.type));
  for (const ir::TensorDecl &o : cell.outputs)
    require("grad_" + o.name + ".npy", {sT, sB, o.type.rows});
  std::string bad = binder.bind();
  if (!bad.empty()) {
    err << "cellc run: error: " << bad << "\n";
    return 1;
  }

  // 4. Run.
  interp::SequenceData data;
  data.T = T;
  data.B = B;
  data.dims = binder.dims();
  auto take = [&](const std::string &name) { return std::move(files.arrays[name].data); };
  for (const ir::TensorDecl &x : cell.inputs)
    data.inputs[x.name] = take(x.name + ".npy");
  for (const ir::TensorDecl &s : cell.states)
    if (files.arrays.count(s.name + ".init.npy"))
      data.initStates[s.name] = take(s.name + ".init.npy");
  for (const ir::TensorDecl &p : cell.params)
    data.params[p.name] = take(p.name + ".npy");

  auto start = std::chrono::steady_clock::now();
  interp::ForwardResult fwd;
  interp::BackwardResult bwd;
  interp::GradientSeeds seeds;
  if (opts.backward) {
    for (const ir::TensorDecl &o : cell.outputs)
      seeds.outputs[o.name] = take("grad_" + o.name + ".npy");
    for (const ir::TensorDecl &s : cell.states)
      if (files.arrays.count("grad_" + s.name + ".final.npy"))
        seeds.finalStates[s.name] = take("grad_" + s.name + ".final.npy");
  }
  CellLibrary::Timing timing;
  if (opts.library) {
    std::string error;
    if (!opts.library->run(cell, data, opts.backward ? &seeds : nullptr, opts.repeat, fwd, bwd,
                           timing, error)) {
      err << "cellc run: error: " << error << "\n";
      return 1;
    }
  } else {
    fwd = interp::forward(cell, data,
                          opts.backward ? compiled.grad.saved : std::vector<ir::ValueId>{});
    if (opts.backward)
      bwd = interp::backward(cell, compiled.grad, data, fwd, seeds);
  }
  std::map<std::string, std::pair<std::vector<int64_t>, Buffer>> outputs;
  auto n = [&](const ir::Type &t) { return interp::elementCount(t, data.dims); };
  for (const ir::TensorDecl &o : cell.outputs)
    outputs[o.name + ".npy"] = {{T, B, n(o.type)}, fwd.outputs[o.name]};
  for (const ir::TensorDecl &s : cell.states)
    outputs[s.name + ".final.npy"] = {{B, n(s.type)}, fwd.finalStates[s.name]};
  if (opts.backward) {
    for (const ir::TensorDecl &x : cell.inputs)
      outputs["grad_" + x.name + ".npy"] = {{T, B, n(x.type)}, bwd.inputs[x.name]};
    for (const ir::TensorDecl &s : cell.states)
      outputs["grad_" + s.name + ".init.npy"] = {{B, n(s.type)}, bwd.initStates[s.name]};
    for (const ir::TensorDecl &p : cell.params) {
      std::vector<int64_t> shape;
      for (const Size &s : shapeOf(p.type))
        shape.push_back(*s.evaluate(data.dims));
      outputs["grad_" + p.name + ".npy"] = {shape, bwd.params[p.name]};
    }
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  // 5. Write, then say what was done.
  if (!writeAll(opts.outputDir, outputs, err))
    return 1;
  out << "cell " << cell.name << ": T=" << T << " B=" << B;
  for (auto &[d, v] : data.dims)
    out << " " << d << "=" << v;
  if (opts.library) {
    out << "  (compiled library, forward " << timing.forwardMs << " ms";
    if (opts.backward)
      out << ", backward " << timing.backwardMs << " ms";
    out << (opts.repeat > 1 ? ", median of " + std::to_string(opts.repeat) + " calls" : "")
        << ")\n";
  } else {
    out << "  (reference interpreter, " << (opts.backward ? "forward + backward" : "forward")
        << ", " << std::lround(ms) << " ms)\n";
  }
  for (auto &[name, shapeAndData] : outputs)
    out << "  wrote " << (fs::path(opts.outputDir) / name).string() << "  "
        << shapeString(shapeAndData.first) << "  " << summary(shapeAndData.second) << "\n";
  return 0;
}

int generateData(const CompiledCell &compiled, const GenOptions &opts, std::ostream &out,
                 std::ostream &err) {
  const ir::Cell &cell = compiled.cell;
  DimValues dims = cell.fixedDims;
  for (auto &[d, v] : opts.dims)
    dims[d] = v;
  for (const std::string &d : cell.dims) {
    if (!dims.count(d)) {
      err << "cellc gen: error: give a size for dimension '" << d << "' with --dim " << d << "=N\n";
      return 1;
    }
  }
  if (opts.T < 1 || opts.B < 1) {
    err << "cellc gen: error: --T and --B must be at least 1\n";
    return 1;
  }
  std::mt19937_64 rng(opts.seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::map<std::string, std::pair<std::vector<int64_t>, Buffer>> files;
  auto random = [&](std::vector<int64_t> shape, double scale) {
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    Buffer b(count);
    for (double &v : b)
      v = scale * uniform(rng);
    return std::make_pair(shape, b);
  };
  for (const ir::TensorDecl &x : cell.inputs)
    files[x.name + ".npy"] = random({opts.T, opts.B, *x.type.rows.evaluate(dims)}, 1.0);
  for (const ir::TensorDecl &s : cell.states)
    files[s.name + ".init.npy"] = random({opts.B, *s.type.rows.evaluate(dims)}, 0.5);
  for (const ir::TensorDecl &p : cell.params) {
    std::vector<int64_t> shape;
    for (const Size &s : shapeOf(p.type))
      shape.push_back(*s.evaluate(dims));
    // PyTorch's RNN initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    double fanIn = shape.size() == 2 ? double(shape[1]) : shape.empty() ? 1.0 : double(shape[0]);
    files[p.name + ".npy"] = random(shape, 1.0 / std::sqrt(fanIn));
  }
  if (opts.backward) {
    for (const ir::TensorDecl &o : cell.outputs)
      files["grad_" + o.name + ".npy"] = random({opts.T, opts.B, *o.type.rows.evaluate(dims)}, 1.0);
    for (const ir::TensorDecl &s : cell.states)
      files["grad_" + s.name + ".final.npy"] = random({opts.B, *s.type.rows.evaluate(dims)}, 1.0);
  }
  std::ostream &sink = err;
  if (!writeAll(opts.outputDir, files, sink))
    return 1;
  out << "cell " << cell.name << ": generated " << files.size() << " files in " << opts.outputDir
      << " (T=" << opts.T << " B=" << opts.B;
  for (auto &[d, v] : dims)
    out << " " << d << "=" << v;
  out << ", seed " << opts.seed << ")\n";
  return 0;
}

} // namespace cellc::driver
