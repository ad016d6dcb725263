#include "cli/LibraryRunner.h"

#include <algorithm>
#include <chrono>
#include <dlfcn.h>

namespace cellc::cli {

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
  auto defines = reinterpret_cast<Text>(dlsym(h, "cellc_library_defines"));
  if (!name || !defines) {
    error = "'" + path + "' is not a library compiled by cellc (no cellc_library_name)";
    return nullptr;
  }
  const std::string cell = name();
  lib->defines_ = defines();
  auto sym = [&](const std::string &s) { return dlsym(h, (cell + s).c_str()); };
  auto signature = reinterpret_cast<Text>(sym("_signature"));
  if (!signature) {
    error =
        "'" + path + "' exports no signature (" + cell + "_signature); rebuild it with this cellc";
    return nullptr;
  }
  std::optional<abi::Signature> sig = abi::parse(signature(), error);
  if (!sig) {
    error = "'" + path + "': " + error;
    return nullptr;
  }
  lib->signature_ = std::move(*sig);
  lib->workspaceSize_ = reinterpret_cast<SizeFn>(sym("_workspace_size_v"));
  lib->reserveSize_ = reinterpret_cast<SizeFn>(sym("_reserve_size_v"));
  lib->forward_ = reinterpret_cast<ForwardFn>(sym("_forward_v"));
  lib->backward_ = reinterpret_cast<BackwardFn>(sym("_backward_v"));
  lib->message_ = reinterpret_cast<MessageFn>(sym("_error_message"));
  lib->packedSize_ = reinterpret_cast<SizeFn>(sym("_packed_params_size_v"));
  lib->pack_ = reinterpret_cast<PackFn>(sym("_pack_params_v"));
  lib->forwardPacked_ = reinterpret_cast<ForwardPackedFn>(sym("_forward_packed_v"));
  lib->stackWorkspaceSize_ = reinterpret_cast<StackSizeFn>(sym("_stack_workspace_size_v"));
  lib->stackReserveSize_ = reinterpret_cast<StackSizeFn>(sym("_stack_reserve_size_v"));
  lib->stackForward_ = reinterpret_cast<StackForwardFn>(sym("_stack_forward_v"));
  lib->stackBackward_ = reinterpret_cast<StackBackwardFn>(sym("_stack_backward_v"));
  if (!lib->workspaceSize_ || !lib->reserveSize_ || !lib->forward_ || !lib->backward_ ||
      !lib->message_) {
    error = "'" + path + "' lacks the entry points of cell '" + cell + "'";
    return nullptr;
  }
  return lib;
}

CellLibrary::~CellLibrary() {
  if (handle_)
    dlclose(handle_);
}

namespace {

using Tensors32 = std::vector<std::vector<float>>;

Tensors32 toFloat(const Tensors &t) {
  Tensors32 out;
  for (const auto &v : t)
    out.emplace_back(v.begin(), v.end());
  return out;
}

void toDouble(const Tensors32 &from, Tensors &to) {
  for (size_t i = 0; i < from.size(); ++i)
    to[i].assign(from[i].begin(), from[i].end());
}

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Times `repeat` calls of `call`; false at the first failure.
template <typename Fn> bool timed(int repeat, double &medianMs, Fn call) {
  std::vector<double> times;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    if (call())
      return false;
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  medianMs = medianOf(times);
  return true;
}

} // namespace

bool CellLibrary::run(const std::vector<int64_t> &shape, const Tensors &fwdIn, Tensors &fwdOut,
                      const Tensors *bwdIn, Tensors *bwdOut, int repeat, Timing &timing,
                      std::string &error) {
  auto fail = [&](const char *what) {
    error = std::string(what) + ": " + message_();
    return false;
  };
  const cellrt::StackConfig st = stack_.config();
  if (stack_.on &&
      (!stackWorkspaceSize_ || !stackReserveSize_ || !stackForward_ || !stackBackward_)) {
    error = "this library has no stack call (<cell>_stack_forward_v); rebuild it";
    return false;
  }
  if (stack_.on && packed_) {
    error = "--packed applies to the one-layer call, not to stacks";
    return false;
  }
  int64_t wsBytes = 0, rsBytes = 0;
  if (stack_.on ? stackWorkspaceSize_(shape.data(), st.layers, st.directions, &wsBytes) ||
                      stackReserveSize_(shape.data(), st.layers, st.directions, &rsBytes)
                : workspaceSize_(shape.data(), &wsBytes) || reserveSize_(shape.data(), &rsBytes))
    return fail("size query");
  std::vector<float> workspace(size_t(wsBytes / 4) + 1), reserve(size_t(rsBytes / 4) + 1);
  void *rs = bwdIn ? reserve.data() : nullptr;

  Tensors32 in = toFloat(fwdIn), out = toFloat(fwdOut);
  std::vector<float *> inp = pointers(in), outp = pointers(out);
  std::vector<float> packed;
  int64_t packedBytes = 0;
  if (packed_) {
    if (!pack_ || !packedSize_ || !forwardPacked_) {
      error = "this library has no packed params (<cell>_pack_params_v); rebuild it";
      return false;
    }
    if (packedSize_(shape.data(), &packedBytes))
      return fail("packed params size query");
    packed.resize(size_t(packedBytes / 4) + 1);
    if (pack_(shape.data(), inp.data(), packed.data(), packedBytes))
      return fail("packing the params");
  }
  if (!timed(repeat, timing.forwardMs, [&] {
        if (stack_.on)
          return stackForward_(shape.data(), st.layers, st.directions, st.lengths, st.dropout,
                               st.seed, inp.data(), outp.data(), workspace.data(), wsBytes, rs,
                               rsBytes);
        if (packed_)
          return forwardPacked_(shape.data(), inp.data(), outp.data(), packed.data(), packedBytes,
                                workspace.data(), wsBytes, rs, rsBytes);
        return forward_(shape.data(), inp.data(), outp.data(), workspace.data(), wsBytes, rs,
                        rsBytes);
      }))
    return fail("forward");
  toDouble(out, fwdOut);
  if (!bwdIn)
    return true;
  Tensors32 bin = toFloat(*bwdIn), bout = toFloat(*bwdOut);
  std::vector<float *> binp = pointers(bin), boutp = pointers(bout);
  if (!timed(repeat, timing.backwardMs, [&] {
        if (stack_.on)
          return stackBackward_(shape.data(), st.layers, st.directions, st.lengths, st.dropout,
                                st.seed, binp.data(), boutp.data(), workspace.data(), wsBytes,
                                reserve.data(), rsBytes);
        return backward_(shape.data(), binp.data(), boutp.data(), workspace.data(), wsBytes,
                         reserve.data(), rsBytes);
      }))
    return fail("backward");
  toDouble(bout, *bwdOut);
  return true;
}

} // namespace cellc::cli
