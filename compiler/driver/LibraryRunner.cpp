#include "compiler/driver/LibraryRunner.h"

#include <algorithm>
#include <chrono>
#include <dlfcn.h>

namespace cellc::driver {

using interp::Buffer;

std::unique_ptr<CellLibrary> CellLibrary::open(const std::string &path, std::string &error) {
  std::string where = path.find('/') == std::string::npos ? "./" + path : path;
  void *h = dlopen(where.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    error = "cannot load '" + path + "': " + dlerror();
    return nullptr;
  }
  std::unique_ptr<CellLibrary> lib(new CellLibrary());
  lib->handle_ = h;
  using Text = const char *(*)();
  auto name = reinterpret_cast<Text>(dlsym(h, "cellc_library_name"));
  auto source = reinterpret_cast<Text>(dlsym(h, "cellc_library_source"));
  auto defines = reinterpret_cast<Text>(dlsym(h, "cellc_library_defines"));
  if (!name || !source || !defines) {
    error = "'" + path + "' is not a library compiled by cellc (no cellc_library_name)";
    return nullptr;
  }
  lib->name_ = name();
  lib->source_ = source();
  lib->defines_ = defines();
  auto sym = [&](const std::string &s) { return dlsym(h, (lib->name_ + s).c_str()); };
  lib->workspaceSize_ = reinterpret_cast<SizeFn>(sym("_workspace_size_v"));
  lib->reserveSize_ = reinterpret_cast<SizeFn>(sym("_reserve_size_v"));
  lib->forward_ = reinterpret_cast<ForwardFn>(sym("_forward_v"));
  lib->backward_ = reinterpret_cast<BackwardFn>(sym("_backward_v"));
  lib->message_ = reinterpret_cast<MessageFn>(sym("_error_message"));
  if (!lib->workspaceSize_ || !lib->reserveSize_ || !lib->forward_ || !lib->backward_ ||
      !lib->message_) {
    error = "'" + path + "' lacks the entry points of cell '" + lib->name_ + "'";
    return nullptr;
  }
  return lib;
}

CellLibrary::~CellLibrary() {
  if (handle_)
    dlclose(handle_);
}

namespace {

std::vector<float> toFloat(const Buffer &b) { return std::vector<float>(b.begin(), b.end()); }
Buffer toDouble(const std::vector<float> &f) { return Buffer(f.begin(), f.end()); }

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

} // namespace

bool CellLibrary::run(const ir::Cell &cell, const interp::SequenceData &data,
                      const interp::GradientSeeds *seeds, int repeat, interp::ForwardResult &fwd,
                      interp::BackwardResult &bwd, Timing &timing, std::string &error) const {
  const DimValues &dims = data.dims;
  std::vector<int64_t> shape = {data.T, data.B};
  for (const std::string &d : cell.dims)
    shape.push_back(dims.at(d));
  auto count = [&](const ir::Type &t, bool sequence) {
    return interp::elementCount(t, dims) * (sequence ? data.T * data.B : data.B);
  };
  auto fail = [&](const char *what) {
    error = std::string(what) + ": " + message_();
    return false;
  };

  // Float32 copies in signature order: inputs, initial states, params.
  std::vector<std::vector<float>> fin;
  std::vector<const float *> in;
  for (auto &x : cell.inputs)
    fin.push_back(toFloat(data.inputs.at(x.name)));
  for (auto &s : cell.states)
    fin.push_back(data.initStates.count(s.name) ? toFloat(data.initStates.at(s.name))
                                                : std::vector<float>());
  for (auto &p : cell.params)
    fin.push_back(toFloat(data.params.at(p.name)));
  for (auto &f : fin)
    in.push_back(f.empty() ? nullptr : f.data());

  std::vector<std::vector<float>> fout;
  for (auto &y : cell.outputs)
    fout.emplace_back(count(y.type, true));
  for (auto &s : cell.states)
    fout.emplace_back(count(s.type, false));
  std::vector<float *> out;
  for (auto &f : fout)
    out.push_back(f.data());

  int64_t wsBytes = 0, rsBytes = 0;
  if (workspaceSize_(shape.data(), &wsBytes) || reserveSize_(shape.data(), &rsBytes))
    return fail("size query");
  std::vector<float> workspace(size_t(wsBytes / 4) + 1), reserve(size_t(rsBytes / 4) + 1);
  void *rs = seeds ? reserve.data() : nullptr;

  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (forward_(shape.data(), in.data(), out.data(), workspace.data(), wsBytes, rs, rsBytes))
      return fail("forward");
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  timing.forwardMs = medianOf(times);
  size_t k = 0;
  for (auto &y : cell.outputs)
    fwd.outputs[y.name] = toDouble(fout[k++]);
  for (auto &s : cell.states)
    fwd.finalStates[s.name] = toDouble(fout[k++]);
  if (!seeds)
    return true;

  // Backward: inputs, params, output gradients, final-state gradients.
  std::vector<std::vector<float>> bin;
  for (auto &x : cell.inputs)
    bin.push_back(toFloat(data.inputs.at(x.name)));
  for (auto &p : cell.params)
    bin.push_back(toFloat(data.params.at(p.name)));
  for (auto &y : cell.outputs)
    bin.push_back(toFloat(seeds->outputs.at(y.name)));
  for (auto &s : cell.states)
    bin.push_back(seeds->finalStates.count(s.name) ? toFloat(seeds->finalStates.at(s.name))
                                                   : std::vector<float>());
  std::vector<const float *> bptr;
  for (auto &f : bin)
    bptr.push_back(f.empty() ? nullptr : f.data());
  std::vector<std::vector<float>> bout;
  for (auto &x : cell.inputs)
    bout.emplace_back(count(x.type, true));
  for (auto &s : cell.states)
    bout.emplace_back(count(s.type, false));
  for (auto &p : cell.params)
    bout.emplace_back(interp::elementCount(p.type, dims));
  std::vector<float *> boutPtr;
  for (auto &f : bout)
    boutPtr.push_back(f.data());
  times.clear();
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (backward_(shape.data(), bptr.data(), boutPtr.data(), workspace.data(), wsBytes,
                  reserve.data(), rsBytes))
      return fail("backward");
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  timing.backwardMs = medianOf(times);
  k = 0;
  for (auto &x : cell.inputs)
    bwd.inputs[x.name] = toDouble(bout[k++]);
  for (auto &s : cell.states)
    bwd.initStates[s.name] = toDouble(bout[k++]);
  for (auto &p : cell.params)
    bwd.params[p.name] = toDouble(bout[k++]);
  return true;
}

} // namespace cellc::driver
