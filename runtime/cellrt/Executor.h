// The one sequence executor: runs a SequencePlan's programs (the forward for inference or
// training, the backward) over caller memory. It computes the workspace and reserve layouts
// from the call's shape, checks the call, and walks the steps: packing, initial states, the
// time loops with their direction and the state ping-pong, final states. Kernels are run by an
// Invoker — compiled Halide entry points in a library (cellrt/HalideKernels.h), the IR
// evaluator in the reference interpreter — so the time loop exists once.
//
// An Invoker provides
//   int run(const SequencePlan &, int kernel, const int64_t *shape, int64_t samples,
//           const View<E> *views)   // 0, or an error code with lastError() set
//   void pack(const E *src, int64_t rows, int64_t cols, bool transpose, int64_t padding, E *dst)
#pragma once

#include "cellrt/Errors.h"
#include "cellrt/SequencePlan.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace cellrt {

inline int64_t paddedTo(int64_t n, int64_t multiple) {
  return (n + multiple - 1) / multiple * multiple;
}

inline int64_t evaluate(const SizeExpr &s, const int64_t *shape, Checked &ck) {
  int64_t v = s.constant;
  for (int i = 0; i < s.terms; ++i)
    v = ck.add(v, ck.mul(s.term[i].coeff, shape[s.term[i].index]));
  return v;
}

/// Where every buffer of a plan lives for one shape.
struct Layout {
  std::vector<int64_t> shape;            // T, B, dims
  std::vector<int64_t> len, cols, elems; // per buffer (cols padded for Packed buffers)
  std::vector<int64_t> offset;           // per workspace/reserve buffer, in elements
  std::vector<int64_t> packOffset;       // per buffer: in packed params, or -1 (see PackHeader)
  int64_t T = 0, B = 0, TB = 0, workspace = 0, reserve = 0, packed = 0;
};

/// Computes the layout; on a bad or too large shape returns an error code with a message.
inline int makeLayout(const SequencePlan &p, const int64_t *shape, Layout &L) {
  if (!shape)
    return fail(kNullPointer, std::string(p.cell) + ": shape is NULL");
  L.shape.assign(shape, shape + p.shapeRank);
  for (int64_t v : L.shape)
    if (v < 1)
      return fail(kBadShape, std::string(p.cell) + ": T, B and every dimension must be at least 1");
  Checked ck;
  L.T = shape[0];
  L.B = shape[1];
  L.TB = ck.mul(L.T, L.B);
  // Every buffer a kernel sees must be indexable with 32 bits.
  const int64_t limit = int64_t(1) << 31;
  bool fits = true;
  int n = p.bufferCount;
  L.len.resize(n), L.cols.resize(n), L.elems.resize(n), L.offset.assign(n, 0);
  int64_t at[2] = {0, 0}; // workspace, reserve
  for (int b = 0; b < n; ++b) {
    const BufferDecl &d = p.buffers[b];
    int64_t len = evaluate(d.len, shape, ck), cols = evaluate(d.cols, shape, ck);
    if (d.extent == Extent::Packed)
      cols = paddedTo(cols, p.packPadding);
    int64_t elems = d.extent == Extent::Sequence ? ck.mul(L.TB, len)
                    : d.extent == Extent::Batch  ? ck.mul(L.B, len)
                                                 : ck.mul(len, cols);
    fits = fits && !ck.overflow && elems < limit;
    L.len[b] = len, L.cols[b] = cols, L.elems[b] = elems;
    if (d.storage == Storage::Workspace || d.storage == Storage::Reserve) {
      int64_t &end = at[d.storage == Storage::Reserve];
      L.offset[b] = end;
      end = ck.add(end, ck.mul(elems, d.pingPong ? 2 : 1));
    }
  }
  L.workspace = at[0];
  L.reserve = at[1];
  L.packOffset.assign(n, -1);
  L.packed = 0;
  for (int s = 0; s < p.inference.count; ++s)
    if (const Step &st = p.inference.steps[s]; st.kind == StepKind::Pack) {
      L.packOffset[st.dst] = L.packed;
      L.packed = ck.add(L.packed, L.elems[st.dst]);
    }
  if (!fits || ck.overflow || L.workspace > INT64_MAX / 16 || L.reserve > INT64_MAX / 16 ||
      L.packed > INT64_MAX / 16)
    return fail(kOverflow, std::string(p.cell) +
                               ": the shape is too large (a buffer exceeds 2^31 elements or a "
                               "size overflows 64 bits)");
  return kOk;
}

/// A kernel's view of a buffer.
template <typename E> struct View {
  E *base;
  ViewKind kind;
  int rank;
  int64_t len, cols, samples;
};

template <typename E, typename Invoker> class Executor {
public:
  Executor(const SequencePlan &plan, Invoker &invoker) : p_(plan), invoker_(invoker) {}

  int workspaceBytes(const int64_t *shape, int64_t *bytes) {
    return sizeQuery(shape, bytes, "_workspace_size", false);
  }
  int reserveBytes(const int64_t *shape, int64_t *bytes) {
    return sizeQuery(shape, bytes, "_reserve_size", true);
  }

  int packedParamsBytes(const int64_t *shape, int64_t *bytes) {
    if (int rc = sizeQuery(shape, bytes, "_packed_params_size", false))
      return rc;
    *bytes = packedNeeds();
    return kOk;
  }

  /// Packs the params of the forward call's `in` array into `packed` (packedParamsBytes).
  int packParams(const int64_t *shape, const E *const *in, void *packed, int64_t packedBytes) {
    const std::string what = std::string(p_.cell) + "_pack_params: ";
    if (int rc = makeLayout(p_, shape, L_))
      return rc;
    const int dims = p_.shapeRank - 2;
    if (dims > PackHeader::kMaxDims)
      return fail(kBadShape, what + "more than 30 dims");
    if (!in || !packed)
      return fail(kNullPointer, what + "in and packed must not be NULL");
    if (packedBytes < packedNeeds())
      return fail(kWorkspaceTooSmall, what + "packed has " + std::to_string(packedBytes) +
                                          " bytes, needs " + std::to_string(packedNeeds()));
    PackHeader header{PackHeader::kMagic, dims, {}};
    std::copy(shape + 2, shape + 2 + dims, header.value);
    std::memcpy(packed, &header, sizeof header);
    in_ = in, pk_ = packedData(packed);
    for (int s = 0; s < p_.inference.count; ++s)
      if (const Step &st = p_.inference.steps[s]; st.kind == StepKind::Pack) {
        const BufferDecl &src = p_.buffers[st.src];
        if (src.storage != Storage::In)
          return fail(kKernelFailed, what + "the plan packs " + src.label + ", not a param");
        if (!in[src.index])
          return fail(kNullPointer, what + src.label + " is NULL");
        pack(st);
      }
    return kOk;
  }

  /// Inference when `reserve` is null, else a training forward that fills the reserve. With
  /// `packed` (from packParams, for the same dims and the same params), its copies are used
  /// instead of packing the params again.
  int forward(const int64_t *shape, const E *const *in, E *const *out, void *workspace,
              int64_t workspaceBytes, void *reserve, int64_t reserveBytes,
              const void *packed = nullptr, int64_t packedBytes = 0) {
    const bool train = reserve != nullptr;
    const Program &prog = train ? p_.training : p_.inference;
    if (int rc = makeLayout(p_, shape, L_))
      return rc;
    if (!in || !out || !workspace)
      return failCall(prog, kNullPointer, "in, out and workspace must not be NULL");
    if (int rc = checkCall(prog, in, out, workspaceBytes, train, reserveBytes))
      return rc;
    if (packed)
      if (int rc = checkPacked(prog, packed, packedBytes))
        return rc;
    pk_ = packed ? packedData(const_cast<void *>(packed)) : nullptr;
    stepOffsets();
    return run(prog, in, out, static_cast<E *>(workspace), static_cast<E *>(reserve));
  }

  int backward(const int64_t *shape, const E *const *in, E *const *out, void *workspace,
               int64_t workspaceBytes, const void *reserve, int64_t reserveBytes) {
    const Program &prog = p_.backward;
    if (int rc = makeLayout(p_, shape, L_))
      return rc;
    if (!in || !out || !workspace || (!reserve && L_.reserve > 0))
      return failCall(prog, kNullPointer, "in, out, workspace and reserve must not be NULL");
    if (int rc = checkCall(prog, in, out, workspaceBytes, true, reserveBytes))
      return rc;
    pk_ = nullptr;
    stepOffsets();
    return run(prog, in, out, static_cast<E *>(workspace),
               static_cast<E *>(const_cast<void *>(reserve)));
  }

  const Layout &layout() const { return L_; }

  /// A ragged call (cellrt/Stack.h): step t runs on the first `sizes[t]` samples only (a
  /// non-increasing list with sizes[0] = B, PyTorch's PackedSequence.batch_sizes), and every
  /// sequence, the caller's and the scratch ones, is packed step after step: step t's samples
  /// start at sample sizes[0] + ... + sizes[t-1]. Time-parallel kernels and reductions see the
  /// valid samples only. Null (the default): every step runs on all B samples.
  void setBatchSizes(const int64_t *sizes) { batchSizes_ = sizes; }

private:
  int sizeQuery(const int64_t *shape, int64_t *bytes, const char *what, bool reserve) {
    if (int rc = makeLayout(p_, shape, L_))
      return rc;
    if (!bytes)
      return fail(kNullPointer, std::string(p_.cell) + what + ": bytes is NULL");
    *bytes = (reserve ? L_.reserve : L_.workspace) * int64_t(sizeof(E));
    return kOk;
  }

  int failCall(const Program &prog, int code, const std::string &message) {
    return fail(code, std::string(p_.cell) + "_" + prog.name + ": " + message);
  }

  /// Every pointer the program reads or writes is given, and scratch memory is large enough.
  int checkCall(const Program &prog, const E *const *in, E *const *out, int64_t workspaceBytes,
                bool needsReserve, int64_t reserveBytes) {
    for (int b : buffersOf(prog)) {
      const BufferDecl &d = p_.buffers[b];
      bool missing = (d.storage == Storage::In && !in[d.index] && !d.optional) ||
                     (d.storage == Storage::Out && !out[d.index]);
      if (missing)
        return failCall(prog, kNullPointer, std::string(d.label) + " is NULL");
    }
    const int64_t esize = int64_t(sizeof(E));
    if (workspaceBytes < L_.workspace * esize)
      return failCall(prog, kWorkspaceTooSmall,
                      "workspace has " + std::to_string(workspaceBytes) + " bytes, needs " +
                          std::to_string(L_.workspace * esize));
    if (needsReserve && reserveBytes < L_.reserve * esize)
      return failCall(prog, kReserveTooSmall,
                      "reserve has " + std::to_string(reserveBytes) + " bytes, needs " +
                          std::to_string(L_.reserve * esize));
    return kOk;
  }

  /// Bytes of packed params for the current layout: the header, then the copies.
  int64_t packedNeeds() const { return kPackHeaderBytes + L_.packed * int64_t(sizeof(E)); }

  static E *packedData(void *packed) {
    return reinterpret_cast<E *>(static_cast<char *>(packed) + kPackHeaderBytes);
  }

  /// Packed params made by packParams for this call's dims, and large enough.
  int checkPacked(const Program &prog, const void *packed, int64_t packedBytes) {
    PackHeader h;
    const int64_t needs = packedNeeds();
    if (packedBytes < kPackHeaderBytes)
      return failCall(prog, kWorkspaceTooSmall,
                      "packed params have " + std::to_string(packedBytes) + " bytes");
    std::memcpy(&h, packed, sizeof h);
    if (h.magic != PackHeader::kMagic)
      return failCall(prog, kBadShape,
                      "packed params were not made by " + std::string(p_.cell) + "_pack_params");
    for (int d = 0; d < p_.shapeRank - 2; ++d)
      if (d >= h.dims || d >= PackHeader::kMaxDims || h.value[d] != L_.shape[2 + size_t(d)])
        return failCall(
            prog, kBadShape,
            "packed params were made for other dims (dim " + std::to_string(d + 1) + ": " +
                (d < h.dims && d < PackHeader::kMaxDims ? std::to_string(h.value[d]) : "none") +
                ", this call " + std::to_string(L_.shape[2 + size_t(d)]) + ")");
    if (packedBytes < needs)
      return failCall(prog, kWorkspaceTooSmall,
                      "packed params have " + std::to_string(packedBytes) + " bytes, need " +
                          std::to_string(needs));
    return kOk;
  }

  void pack(const Step &st) {
    invoker_.pack(base(st.src, Slot::All), L_.len[st.src], L_.cols[st.src], st.transpose,
                  p_.packPadding, base(st.dst, Slot::All));
  }

  /// The caller's buffers a program touches, in table order.
  std::vector<int> buffersOf(const Program &prog) const {
    std::vector<bool> used(size_t(p_.bufferCount), false);
    for (int s = 0; s < prog.count; ++s) {
      const Step &st = prog.steps[s];
      for (int b : {st.src, st.dst})
        if (b >= 0)
          used[size_t(b)] = true;
      if (st.kind == StepKind::RunKernel || st.kind == StepKind::Loop) {
        const KernelDecl &k = p_.kernels[st.kernel];
        for (int a = 0; a < k.args; ++a)
          used[size_t(p_.args[k.firstArg + a].buffer)] = true;
      }
    }
    std::vector<int> list;
    for (int b = 0; b < p_.bufferCount; ++b)
      if (used[size_t(b)])
        list.push_back(b);
    return list;
  }

  E *base(int b, Slot slot) const {
    const BufferDecl &d = p_.buffers[b];
    switch (d.storage) {
    case Storage::In:
      return const_cast<E *>(in_[d.index]);
    case Storage::Out:
      return out_[d.index];
    case Storage::Workspace:
    case Storage::Reserve:
      break;
    }
    if (pk_ && L_.packOffset[b] >= 0)
      return pk_ + L_.packOffset[b];
    E *mem = d.storage == Storage::Workspace ? ws_ : rs_;
    int copy = slot == Slot::All ? 0 : slot == Slot::Current ? cur_ : 1 - cur_;
    return mem + L_.offset[b] + (d.pingPong ? copy * L_.elems[b] : 0);
  }

  /// Where each step's samples start in a sequence: t·B, or packed for a ragged call.
  void stepOffsets() {
    offset_.resize(size_t(L_.T) + 1);
    for (int64_t t = 0; t <= L_.T; ++t)
      offset_[size_t(t)] = !batchSizes_ ? t * L_.B
                           : t == 0     ? 0
                                        : offset_[size_t(t) - 1] + rows(t - 1);
  }

  /// The samples step t runs on.
  int64_t rows(int64_t t) const { return t >= L_.T ? 0 : batchSizes_ ? batchSizes_[t] : L_.B; }

  /// In a ragged forward loop, the samples whose last step is t (just run, not yet swapped) keep
  /// their state in both copies of every ping-pong buffer, so that the copy the loop ends on
  /// holds every final state.
  void keepEnded(int64_t t) {
    const int64_t from = rows(t + 1), to = rows(t);
    if (!batchSizes_ || from == to || t + 1 == L_.T)
      return;
    for (int b = 0; b < p_.bufferCount; ++b)
      if (p_.buffers[b].pingPong) {
        const int64_t len = L_.len[b];
        std::memcpy(base(b, Slot::Current) + from * len, base(b, Slot::Next) + from * len,
                    size_t((to - from) * len) * sizeof(E));
      }
  }

  /// Runs kernel `k`; `t` is the time step of a per-step kernel.
  int invoke(int k, int64_t t) {
    const KernelDecl &kd = p_.kernels[k];
    const bool perStep = kd.kind == KernelKind::Step;
    const int64_t samples = perStep ? rows(t) : offset_[size_t(L_.T)];
    views_.clear();
    for (int a = 0; a < kd.args; ++a) {
      const ArgDecl &ad = p_.args[kd.firstArg + a];
      const BufferDecl &d = p_.buffers[ad.buffer];
      View<E> v{base(ad.buffer, ad.slot), ad.view, ad.rank, L_.len[ad.buffer],
                L_.cols[ad.buffer],       samples};
      if (perStep && d.extent == Extent::Sequence)
        v.base += offset_[size_t(t)] * v.len;
      views_.push_back(v);
    }
    return invoker_.run(p_, k, L_.shape.data(), samples, views_.data());
  }

  int run(const Program &prog, const E *const *in, E *const *out, E *ws, E *rs) {
    in_ = in, out_ = out, ws_ = ws, rs_ = rs, cur_ = 0;
    for (int s = 0; s < prog.count; ++s) {
      const Step &st = prog.steps[s];
      switch (st.kind) {
      case StepKind::Pack:
        if (!pk_ || L_.packOffset[st.dst] < 0) // else made once by packParams
          pack(st);
        break;
      case StepKind::InitState: {
        E *dst = base(st.dst, Slot::Current);
        const E *src = st.src >= 0 ? base(st.src, Slot::All) : nullptr;
        // A ragged call starts a sample's backward state at its last step, on either copy.
        const bool both = batchSizes_ && p_.buffers[st.dst].pingPong;
        for (E *d : {dst, both ? base(st.dst, Slot::Next) : nullptr})
          if (d && src)
            std::memcpy(d, src, size_t(L_.elems[st.dst]) * sizeof(E));
          else if (d)
            std::fill(d, d + L_.elems[st.dst], E(st.fill));
        break;
      }
      case StepKind::RunKernel:
        if (int rc = invoke(st.kernel, 0))
          return rc;
        break;
      case StepKind::Loop:
        for (int64_t i = 0; i < L_.T; ++i, cur_ = 1 - cur_) {
          int64_t t = st.direction == Direction::Forward ? i : L_.T - 1 - i;
          if (rows(t) == 0) // a ragged batch shorter than T: every sample has ended
            continue;
          if (int rc = invoke(st.kernel, t))
            return rc;
          if (st.direction == Direction::Forward)
            keepEnded(t);
        }
        break;
      case StepKind::FinalState:
        std::memcpy(base(st.dst, Slot::All), base(st.src, Slot::Current),
                    size_t(L_.elems[st.src]) * sizeof(E));
        break;
      }
    }
    return kOk;
  }

  const SequencePlan &p_;
  Invoker &invoker_;
  Layout L_;
  std::vector<View<E>> views_;
  const E *const *in_ = nullptr;
  E *const *out_ = nullptr;
  E *ws_ = nullptr, *rs_ = nullptr;
  E *pk_ = nullptr; // packed params, or null: every Pack step packs into the workspace
  int cur_ = 0;
  const int64_t *batchSizes_ = nullptr; // a ragged call's samples per step, or null
  std::vector<int64_t> offset_;         // [T + 1]: where step t's samples start in a sequence
};

} // namespace cellrt
