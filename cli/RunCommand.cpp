#include "cli/RunCommand.h"

#include "cli/Npy.h"
#include "compiler/interp/Interpreter.h"
#include "compiler/ir/DimSolver.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>

namespace cellc::cli {

namespace fs = std::filesystem;
using interp::Buffer;
using npy::shapeString;

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
  explicit ShapeBinder(const DimValues &fixed) : dims_(fixed) {}

  void require(const std::string &file, const npy::Array &a, const std::vector<Size> &expected) {
    expected_[file] = expected;
    actual_[file] = a.shape;
    if (a.shape.size() != expected.size())
      return;
    for (size_t i = 0; i < expected.size(); ++i)
      constraints_.push_back({file, i, expected[i], a.shape[i]});
  }

  /// Solves the dims one unknown at a time, then checks every file. Returns "" or an error.
  std::string bind() {
    DimSolver solver(dims_);
    for (const AxisConstraint &c : constraints_)
      solver.add(c.size, c.actual);
    int bad = solver.solve();
    dims_ = solver.values();
    if (bad >= 0)
      return mismatch(constraints_[size_t(bad)].file);
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

  DimValues dims_;
  std::vector<AxisConstraint> constraints_;
  std::map<std::string, std::vector<Size>> expected_;
  std::map<std::string, std::vector<int64_t>> actual_;
};

/// A row's whole shape: [T, B, n...] for sequences, [B, n...] for batches.
std::vector<Size> fileShape(const abi::Row &r, Size T, Size B) {
  std::vector<Size> s;
  if (r.copies > 0)
    s.push_back(Size::constant(r.copies));
  if (r.layout == abi::Layout::Sequence)
    s.push_back(T);
  if (r.layout != abi::Layout::Declared)
    s.push_back(B);
  s.insert(s.end(), r.shape.begin(), r.shape.end());
  return s;
}

std::vector<int64_t> evaluated(const std::vector<Size> &sizes, const DimValues &dims) {
  std::vector<int64_t> v;
  for (const Size &s : sizes)
    v.push_back(*s.evaluate(dims));
  return v;
}

/// The rows `cellc run` reads: the forward's, and with --backward the backward's that the
/// forward does not read already (output and final-state gradients).
std::vector<const abi::Row *> filesRead(const abi::Signature &sig, bool backward) {
  std::vector<const abi::Row *> rows = sig.select(abi::Call::Forward, false);
  if (backward)
    for (const abi::Row *r : sig.select(abi::Call::Backward, false))
      if (!sig.find(abi::Call::Forward, r->role, r->tensor))
        rows.push_back(r);
  return rows;
}

struct LoadedFiles {
  std::map<std::string, npy::Array> arrays; // by file name (not path)
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
  npy::Array a;
  if (!npy::load(p.string(), a, error)) {
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
              std::ostream &err, bool float64 = false) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    err << "cellc: error: cannot create output directory '" << dir << "': " << ec.message() << "\n";
    return false;
  }
  std::vector<std::pair<std::string, std::string>> written;
  for (auto &[name, shapeAndData] : files) {
    std::string path = (fs::path(dir) / name).string(), tmp = path + ".partial", error;
    auto save = float64 ? npy::saveFloat64 : npy::saveFloat32;
    if (!save(tmp, shapeAndData.first, shapeAndData.second, error)) {
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

/// Reads DIR/lengths.npy: int64 or int32 [B], each in 1..T. False with a message on error.
bool loadLengths(const std::string &path, int64_t T, int64_t B, std::vector<int64_t> &lengths,
                 std::ostream &err) {
  std::vector<int64_t> shape;
  std::string error;
  if (!npy::loadIntegers(path, shape, lengths, error)) {
    err << "cellc run: error: " << error << "\n";
    return false;
  }
  if (shape != std::vector<int64_t>{B}) {
    err << "cellc run: error: " << path << ": expected shape (B,) = (" << B << ",), got "
        << shapeString(shape) << "\n";
    return false;
  }
  for (size_t n = 0; n < lengths.size(); ++n)
    if (lengths[n] < 1 || lengths[n] > T) {
      err << "cellc run: error: " << path << ": lengths[" << n << "] is " << lengths[n]
          << "; every length must be in 1..T (T = " << T << ")\n";
      return false;
    }
  return true;
}

} // namespace

int runCell(const abi::Signature &oneLayer, SequenceRunner &runner, const RunOptions &opts,
            std::ostream &out, std::ostream &err) {
  if (!fs::is_directory(opts.inputDir)) {
    err << "cellc run: error: input directory '" << opts.inputDir << "' does not exist\n";
    return 1;
  }
  const std::string lengthsPath = (fs::path(opts.inputDir) / "lengths.npy").string();
  Stacking stacking{opts.layers > 1 || opts.bidirectional || fs::exists(lengthsPath),
                    opts.layers,
                    opts.bidirectional ? 2 : 1,
                    {},
                    opts.dropout,
                    opts.seed};
  std::string why;
  std::optional<abi::Signature> stackSig =
      abi::stacked(oneLayer, stacking.layers, stacking.directions, why);
  if (!stackSig) {
    err << "cellc run: error: cell " << oneLayer.cell << ": " << why << "\n";
    return 1;
  }
  const abi::Signature &sig = *stackSig;
  // 1. Load every file of the contract.
  LoadedFiles files;
  const std::vector<const abi::Row *> reads = filesRead(sig, opts.backward);
  for (const abi::Row *r : reads)
    loadFile(opts.inputDir, r->names.file, r->optional, files);
  if (!files.errors.empty()) {
    for (const std::string &e : files.errors)
      err << "cellc run: error: " << e << "\n";
    return 1;
  }

  // 2. T and B come from the first input; every sequence must agree.
  const abi::Row &firstRow = *sig.select(abi::Call::Forward, false).front();
  const npy::Array &first = files.arrays[firstRow.names.file];
  if (first.shape.size() != 3) {
    err << "cellc run: error: " << (fs::path(opts.inputDir) / firstRow.names.file).string()
        << ": expected a sequence of shape (T, B, " << firstRow.shape[0].str() << "), got "
        << shapeString(first.shape) << "\n";
    return 1;
  }
  const int64_t T = first.shape[0], B = first.shape[1];
  if (T < 1 || B < 1) {
    err << "cellc run: error: " << firstRow.names.file << ": T and B must be at least 1, got "
        << shapeString(first.shape) << "\n";
    return 1;
  }
  Size sT = Size::constant(T), sB = Size::constant(B);
  if (fs::exists(lengthsPath) && !loadLengths(lengthsPath, T, B, stacking.lengths, err))
    return 1;
  runner.stack(stacking);

  // 3. Bind the dims and check every shape.
  ShapeBinder binder(sig.fixedDims);
  for (const abi::Row *r : reads) {
    auto it = files.arrays.find(r->names.file);
    if (it != files.arrays.end())
      binder.require((fs::path(opts.inputDir) / r->names.file).string(), it->second,
                     fileShape(*r, sT, sB));
  }
  std::string bad = binder.bind();
  if (!bad.empty()) {
    err << "cellc run: error: " << bad << "\n";
    return 1;
  }
  const DimValues &dims = binder.dims();

  // 4. Run, with every tensor at its position in the signature.
  std::vector<int64_t> shape = {T, B};
  for (const std::string &d : sig.dims)
    shape.push_back(dims.at(d));
  auto gather = [&](abi::Call call) {
    Tensors t;
    for (const abi::Row *r : sig.select(call, false)) {
      auto it = files.arrays.find(r->names.file);
      t.push_back(it == files.arrays.end() ? Buffer() : it->second.data);
    }
    return t;
  };
  auto sized = [&](abi::Call call) {
    Tensors t;
    for (const abi::Row *r : sig.select(call, true))
      t.emplace_back(size_t(*sig.elements(*r, T, B, dims)));
    return t;
  };
  Tensors fwdIn = gather(abi::Call::Forward), fwdOut = sized(abi::Call::Forward);
  Tensors bwdIn, bwdOut;
  if (opts.backward)
    bwdIn = gather(abi::Call::Backward), bwdOut = sized(abi::Call::Backward);
  Timing timing;
  std::string error;
  if (!runner.run(shape, fwdIn, fwdOut, opts.backward ? &bwdIn : nullptr,
                  opts.backward ? &bwdOut : nullptr, opts.repeat, timing, error)) {
    err << "cellc run: error: " << error << "\n";
    return 1;
  }
  std::map<std::string, std::pair<std::vector<int64_t>, Buffer>> outputs;
  auto collect = [&](abi::Call call, Tensors &data) {
    for (const abi::Row *r : sig.select(call, true))
      outputs[r->names.file] = {evaluated(fileShape(*r, sT, sB), dims),
                                std::move(data[size_t(r->position)])};
  };
  collect(abi::Call::Forward, fwdOut);
  if (opts.backward)
    collect(abi::Call::Backward, bwdOut);

  // 5. Write, then say what was done.
  if (!writeAll(opts.outputDir, outputs, err, opts.float64))
    return 1;
  out << "cell " << sig.cell << ": T=" << T << " B=" << B;
  for (auto &[d, v] : dims)
    out << " " << d << "=" << v;
  if (stacking.on)
    out << "  layers=" << stacking.layers << (stacking.directions == 2 ? " bidirectional" : "")
        << (stacking.lengths.empty() ? "" : " ragged") << (opts.dropout > 0 ? " dropout" : "");
  out << "  (" << runner.what() << ", forward " << timing.forwardMs << " ms";
  if (opts.backward)
    out << ", backward " << timing.backwardMs << " ms";
  out << (opts.repeat > 1 ? ", median of " + std::to_string(opts.repeat) + " calls" : "") << ")\n";
  for (auto &[name, shapeAndData] : outputs)
    out << "  wrote " << (fs::path(opts.outputDir) / name).string() << "  "
        << shapeString(shapeAndData.first) << "  " << summary(shapeAndData.second) << "\n";
  return 0;
}

int generateData(const abi::Signature &oneLayer, const GenOptions &opts, std::ostream &out,
                 std::ostream &err) {
  std::string why;
  std::optional<abi::Signature> stackSig =
      abi::stacked(oneLayer, opts.layers, opts.bidirectional ? 2 : 1, why);
  if (!stackSig) {
    err << "cellc gen: error: cell " << oneLayer.cell << ": " << why << "\n";
    return 1;
  }
  const abi::Signature &sig = *stackSig;
  DimValues dims = sig.fixedDims;
  for (auto &[d, v] : opts.dims)
    dims[d] = v;
  for (const std::string &d : sig.dims) {
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
  Size sT = Size::constant(opts.T), sB = Size::constant(opts.B);
  for (const abi::Row *r : filesRead(sig, opts.backward)) {
    std::vector<int64_t> shape = evaluated(fileShape(*r, sT, sB), dims);
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    // Params: PyTorch's RNN initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)); initial
    // states U(-0.5, 0.5); everything else U(-1, 1).
    double scale = 1.0;
    if (r->role == abi::Role::Param)
      scale = 1.0 / std::sqrt(shape.size() == 2 ? double(shape[1])
                              : shape.empty()   ? 1.0
                                                : double(shape[0]));
    else if (r->role == abi::Role::InitState)
      scale = 0.5;
    Buffer b(static_cast<size_t>(count));
    for (double &v : b)
      v = scale * uniform(rng);
    files[r->names.file] = {shape, b};
  }
  if (!writeAll(opts.outputDir, files, err))
    return 1;
  if (opts.ragged) {
    std::vector<int64_t> lengths;
    for (int64_t n = 0; n < opts.B; ++n)
      lengths.push_back(1 + int64_t(rng() % uint64_t(opts.T)));
    std::string error;
    if (!npy::saveInt64((fs::path(opts.outputDir) / "lengths.npy").string(), {opts.B}, lengths,
                        error)) {
      err << "cellc gen: error: " << error << "\n";
      return 1;
    }
  }
  out << "cell " << sig.cell << ": generated " << files.size() + opts.ragged << " files in "
      << opts.outputDir << " (T=" << opts.T << " B=" << opts.B;
  for (auto &[d, v] : dims)
    out << " " << d << "=" << v;
  out << ", seed " << opts.seed << ")\n";
  return 0;
}

} // namespace cellc::cli
