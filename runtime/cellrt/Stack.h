// Stacks of layers, both directions and ragged batches, for any cell: one call that composes
// calls of a cell's sequence plan (cellrt/Executor.h) as torch.nn.LSTM(num_layers,
// bidirectional) does over a PackedSequence.
//
// The stack call's pointer arrays are the one-layer call's, with each param (and param
// gradient) repeated for every layer and direction, layer-major: W_ih of layer 0, of layer 0
// reverse, of layer 1, ... States take PyTorch's [L·D][B][n] layout; the inputs [T][B][n] are
// layer 0's; the outputs [T][B][D·n] the last layer's, the two directions side by side. Layer
// k+1 reads layer k's first output, so its input size is D·n: the dim that sizes the cell's
// one input is rebound per layer.
//
// Ragged batches: samples are sorted by length, longest first, and every sequence inside the
// stack is packed step after step (PyTorch's PackedSequence), so that step t runs on the
// samples still going and the work follows Σ lengths. The reverse direction runs the same plan
// on each sample's valid steps reversed. Outputs past a sample's length are 0.
//
// Dropout (training only) scales the input of layers 1.. by a mask drawn from a counter-based
// hash of (seed, layer, step, sample, unit): the backward recomputes it, nothing is stored.
#pragma once

#include "cellrt/Executor.h"

#include <algorithm>
#include <functional>
#include <numeric>

namespace cellrt {

struct StackConfig {
  int64_t layers = 1;
  int64_t directions = 1;           // 2: bidirectional
  const int64_t *lengths = nullptr; // [B], each in 1..T, any order; null: every sample T long
  double dropout = 0;               // on the input of layers 1.., in a training forward
  uint64_t seed = 0;                // the dropout masks' key
};

/// Whether dropout keeps a unit: SplitMix64's finalizer chained over the unit's coordinates.
inline bool dropoutKeeps(uint64_t seed, int64_t layer, int64_t t, int64_t sample, int64_t unit,
                         double p) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  uint64_t h = mix(seed);
  for (int64_t v : {layer, t, sample, unit})
    h = mix(h ^ uint64_t(v));
  return double(h >> 11) * 0x1.0p-53 >= p;
}

template <typename E, typename Invoker> class Stack {
public:
  /// Runs both directions of a layer at once through `both` (two tasks; e.g. TBB's
  /// parallel_invoke) with an invoker each; without `both`, one after the other on `forward`.
  using Both = void (*)(const std::function<void()> &, const std::function<void()> &);
  Stack(const SequencePlan &plan, Invoker &forward, Invoker &reverse, Both both)
      : p_(plan), invoker_{&forward, &reverse}, both_(both) {}
  Stack(const SequencePlan &plan, Invoker &invoker) : Stack(plan, invoker, invoker, nullptr) {}

  /// Scratch sizes for a padded batch; a ragged call needs no more.
  int workspaceBytes(const int64_t *shape, const StackConfig &c, int64_t *bytes) {
    return sizeQuery(shape, c, bytes, "_stack_workspace_size", false);
  }
  int reserveBytes(const int64_t *shape, const StackConfig &c, int64_t *bytes) {
    return sizeQuery(shape, c, bytes, "_stack_reserve_size", true);
  }

  /// Inference when `reserve` is null, else a training forward that fills the reserve.
  int forward(const int64_t *shape, const StackConfig &c, const E *const *in, E *const *out,
              void *workspace, int64_t workspaceBytes, void *reserve, int64_t reserveBytes) {
    if (int rc = start(shape, c, in, out, false, workspace, workspaceBytes, reserve, reserveBytes))
      return rc;
    train_ = reserve != nullptr;
    rs_ = static_cast<E *>(reserve);
    for (int64_t l = 0; l < L_; ++l)
      if (int rc = forwardLayer(l))
        return rc;
    return kOk;
  }

  int backward(const int64_t *shape, const StackConfig &c, const E *const *in, E *const *out,
               void *workspace, int64_t workspaceBytes, const void *reserve, int64_t reserveBytes) {
    if (!reserve)
      return fail(kNullPointer, std::string(p_.cell) + "_stack_backward: reserve is NULL");
    if (int rc = start(shape, c, in, out, true, workspace, workspaceBytes,
                       const_cast<void *>(reserve), reserveBytes))
      return rc;
    train_ = true;
    rs_ = static_cast<E *>(const_cast<void *>(reserve));
    for (int64_t l = L_ - 1; l >= 0; --l)
      if (int rc = backwardLayer(l))
        return rc;
    return kOk;
  }

private:
  using Exec = Executor<E, Invoker>;
  static constexpr int64_t kE = int64_t(sizeof(E));

  // ---- The call's shape: layers, their dims, the ports, the scratch memory ----

  std::vector<const PortDecl *> portsOf(bool backward, bool written) const {
    std::vector<const PortDecl *> list;
    for (int i = 0; i < p_.portCount; ++i)
      if (p_.ports[i].backward == backward && p_.ports[i].written == written)
        list.push_back(&p_.ports[i]);
    std::sort(list.begin(), list.end(),
              [](const PortDecl *a, const PortDecl *b) { return a->index < b->index; });
    return list;
  }

  /// A port's elements per sample in layer l.
  int64_t len(const PortDecl *port, int64_t l) {
    Checked ck;
    return evaluate(port->len, shapes_[size_t(l)].data(), ck);
  }

  /// How many slots a port takes in the stack's arrays: one per layer and direction for params.
  int64_t slots(const PortDecl *port) const { return port->kind == PortKind::Param ? L_ * D_ : 1; }

  /// Where a port's slots start in the stack's array.
  int64_t stackIndex(const std::vector<const PortDecl *> &list, const PortDecl *port) const {
    int64_t at = 0;
    for (const PortDecl *q : list)
      if (q->index < port->index)
        at += slots(q);
    return at;
  }

  /// The name of a tensor of layer l, direction d as the user sees it: W_ih_l1_reverse.
  std::string layerName(const PortDecl *port, int64_t l, int64_t d) const {
    return std::string(port->tensor) + "_l" + std::to_string(l) + (d ? "_reverse" : "");
  }

  /// Checks the configuration and finds every layer's dims.
  int configure(const int64_t *shape, const StackConfig &c, const char *what) {
    what_ = std::string(p_.cell) + what + ": ";
    if (!shape)
      return fail(kNullPointer, what_ + "shape is NULL");
    if (c.layers < 1 || c.layers > 1024)
      return fail(kBadShape, what_ + "layers must be in 1..1024, got " + std::to_string(c.layers));
    if (c.directions != 1 && c.directions != 2)
      return fail(kBadShape,
                  what_ + "directions must be 1 or 2, got " + std::to_string(c.directions));
    if (!(c.dropout >= 0 && c.dropout < 1))
      return fail(kBadShape, what_ + "dropout must be in [0, 1)");
    L_ = c.layers, D_ = c.directions, cfg_ = c;
    fin_ = portsOf(false, false), fout_ = portsOf(false, true);
    bin_ = portsOf(true, false), bout_ = portsOf(true, true);
    for (int i = 0; i < p_.portCount; ++i)
      if (p_.ports[i].kind != PortKind::Param && p_.ports[i].len.constant < 0)
        return fail(kBadShape, what_ + "the size of " + p_.ports[i].tensor +
                                   " per sample is not affine in the dims; stack it by hand");
    shapes_.assign(1, std::vector<int64_t>(shape, shape + p_.shapeRank));
    Layout probe;
    if (int rc = makeLayout(p_, shape, probe))
      return rc;
    for (int64_t l = 1; l < L_; ++l)
      if (int rc = nextLayer(l))
        return rc;
    return kOk;
  }

  /// Layer l's dims: the dim that sizes the input becomes D times layer l-1's first output.
  int nextLayer(int64_t l) {
    const PortDecl *x = nullptr, *y = nullptr;
    int inputs = 0;
    for (const PortDecl *port : fin_)
      if (port->kind == PortKind::Input)
        x = x ? x : port, ++inputs;
    for (const PortDecl *port : fout_)
      if (port->kind == PortKind::Output && !y)
        y = port;
    const SizeExpr &s = x ? x->len : SizeExpr{};
    if (inputs != 1 || !y)
      return fail(kBadShape, what_ + "a stack of layers needs a cell with one input and an output");
    if (s.terms != 1 || s.constant != 0 || s.term[0].coeff != 1)
      return fail(kBadShape, what_ + "a stack of layers needs the input's size to be one dim (" +
                                 x->tensor + "[I]), so that layer 1 can bind it to the output's");
    std::vector<int64_t> shape = shapes_.back();
    Checked ck;
    shape[size_t(s.term[0].index)] = ck.mul(D_, len(y, l - 1));
    shapes_.push_back(shape);
    Layout probe;
    if (int rc = makeLayout(p_, shape.data(), probe))
      return rc;
    for (const PortDecl *port : fin_)
      if (port->kind == PortKind::State && len(port, l) != len(port, 0))
        return fail(kBadShape, what_ + "state " + port->tensor + " has " +
                                   std::to_string(len(port, l)) + " elements in layer " +
                                   std::to_string(l) + " but " + std::to_string(len(port, 0)) +
                                   " in layer 0; a stack's states must have one size");
    return kOk;
  }

  /// Bump allocation of the stack's scratch, in elements of E.
  struct Arena {
    int64_t end = 0;
    int64_t take(int64_t elems) {
      int64_t at = end;
      end += (elems + 15) / 16 * 16; // 64-byte aligned slots for the kernels
      return at;
    }
  };

  /// The largest per-sample size a port has in any layer.
  int64_t maxLen(const PortDecl *port) {
    int64_t m = 0;
    for (int64_t l = 0; l < L_; ++l)
      m = std::max(m, len(port, l));
    return m;
  }

  /// Lays out the workspace and the reserve for a padded batch.
  int layOut() {
    const int64_t T = shapes_[0][0], B = shapes_[0][1], TB = T * B;
    Arena ws, rs;
    singleWs_ = 0;
    singleRs_.clear();
    for (int64_t l = 0; l < L_; ++l) {
      Exec ex(p_, *invoker_[0]);
      int64_t w = 0, r = 0;
      if (int rc = ex.workspaceBytes(shapes_[size_t(l)].data(), &w))
        return rc;
      if (int rc = ex.reserveBytes(shapes_[size_t(l)].data(), &r))
        return rc;
      singleWs_ = std::max(singleWs_, w / kE);
      for (int64_t d = 0; d < D_; ++d)
        singleRs_.push_back({rs.take(r / kE), r / kE});
    }
    // Each direction's scratch: the one-layer call's workspace, its sequences and states.
    Arena dir;
    wsSingle_ = dir.take(singleWs_);
    auto perPort = [&](const std::vector<const PortDecl *> &list, PortKind kind, int64_t rows) {
      std::vector<int64_t> at;
      for (const PortDecl *port : list)
        at.push_back(port->kind == kind ? dir.take(rows * maxLen(port)) : -1);
      return at;
    };
    xin_ = perPort(fin_, PortKind::Input, TB);
    xgrad_ = perPort(fin_, PortKind::Input, TB);
    yout_ = perPort(fout_, PortKind::Output, TB);
    sInit_ = perPort(fin_, PortKind::State, B);
    sFinal_ = perPort(fin_, PortKind::State, B);
    dirElems_ = dir.end;
    dirBase_ = ws.take(D_ * dirElems_);
    // Layer outputs (the next layer's inputs) and their gradients, [Σ len][D·n].
    int64_t width = 0;
    for (int64_t l = 1; l < L_; ++l)
      width = std::max(width, len(input(), l));
    for (int64_t &at : seqBuf_)
      at = ws.take(TB * width);
    layerIn_.assign(size_t(L_), -1);
    for (int64_t l = 1; l < L_; ++l)
      layerIn_[size_t(l)] = rs.take(TB * len(input(), l));
    Checked ck;
    wsElems_ = ws.end, rsElems_ = rs.end;
    if (ck.mul(wsElems_, kE) > INT64_MAX / 2 || ck.mul(rsElems_, kE) > INT64_MAX / 2 || ck.overflow)
      return fail(kOverflow, what_ + "the stack is too large");
    return kOk;
  }

  const PortDecl *input() const {
    for (const PortDecl *port : fin_)
      if (port->kind == PortKind::Input)
        return port;
    return nullptr;
  }

  int sizeQuery(const int64_t *shape, const StackConfig &c, int64_t *bytes, const char *what,
                bool reserve) {
    if (int rc = configure(shape, c, what))
      return rc;
    if (!bytes)
      return fail(kNullPointer, what_ + "bytes is NULL");
    if (int rc = layOut())
      return rc;
    *bytes = (reserve ? rsElems_ : wsElems_) * kE;
    return kOk;
  }

  /// Sorts the batch by length and finds the samples of every step.
  int sortBatch() {
    const int64_t T = shapes_[0][0], B = shapes_[0][1];
    lens_.assign(size_t(B), T);
    if (cfg_.lengths)
      for (int64_t n = 0; n < B; ++n) {
        if (cfg_.lengths[n] < 1 || cfg_.lengths[n] > T)
          return fail(kBadShape, what_ + "lengths[" + std::to_string(n) + "] is " +
                                     std::to_string(cfg_.lengths[n]) +
                                     "; every length must be in 1..T (T = " + std::to_string(T) +
                                     ")");
        lens_[size_t(n)] = cfg_.lengths[n];
      }
    perm_.resize(size_t(B));
    std::iota(perm_.begin(), perm_.end(), 0);
    std::stable_sort(perm_.begin(), perm_.end(),
                     [&](int64_t a, int64_t b) { return lens_[size_t(a)] > lens_[size_t(b)]; });
    rank_.resize(size_t(B));
    for (int64_t r = 0; r < B; ++r)
      rank_[size_t(perm_[size_t(r)])] = r;
    sizes_.assign(size_t(T), 0);
    for (int64_t n = 0; n < B; ++n)
      for (int64_t t = 0; t < lens_[size_t(n)]; ++t)
        ++sizes_[size_t(t)];
    off_.assign(size_t(T) + 1, 0);
    for (int64_t t = 0; t < T; ++t)
      off_[size_t(t) + 1] = off_[size_t(t)] + sizes_[size_t(t)];
    return kOk;
  }

  /// Every check of a call, then the batch order.
  int start(const int64_t *shape, const StackConfig &c, const E *const *in, E *const *out,
            bool backward, void *workspace, int64_t workspaceBytes, void *reserve,
            int64_t reserveBytes) {
    if (int rc = configure(shape, c, backward ? "_stack_backward" : "_stack_forward"))
      return rc;
    const std::string what = what_;
    if (int rc = layOut())
      return rc;
    if (!in || !out || !workspace)
      return fail(kNullPointer, what + "in, out and workspace must not be NULL");
    for (bool written : {false, true}) {
      const auto &list = backward ? (written ? bout_ : bin_) : (written ? fout_ : fin_);
      for (const PortDecl *port : list) {
        bool optional = !written && port->kind == PortKind::State;
        for (int64_t k = 0; k < slots(port) && !optional; ++k) {
          int64_t i = stackIndex(list, port) + k;
          if (written ? !out[i] : !in[i])
            return fail(kNullPointer, what +
                                          (slots(port) > 1 ? layerName(port, k / D_, k % D_)
                                                           : std::string(port->tensor)) +
                                          (written ? " (out[" : " (in[") + std::to_string(i) +
                                          "]) is NULL");
        }
      }
    }
    if (workspaceBytes < wsElems_ * kE)
      return fail(kWorkspaceTooSmall, what + "workspace has " + std::to_string(workspaceBytes) +
                                          " bytes, needs " + std::to_string(wsElems_ * kE));
    if (reserve && reserveBytes < rsElems_ * kE)
      return fail(kReserveTooSmall, what + "reserve has " + std::to_string(reserveBytes) +
                                        " bytes, needs " + std::to_string(rsElems_ * kE));
    in_ = in, out_ = out, ws_ = static_cast<E *>(workspace);
    return sortBatch();
  }

  // ---- Moving samples between the caller's padded layout and the packed one ----

  int64_t T() const { return shapes_[0][0]; }
  int64_t B() const { return shapes_[0][1]; }
  /// The step of sample r (in length order) that reversed step t reads.
  int64_t reversed(int64_t r, int64_t t) const { return lens_[size_t(perm_[size_t(r)])] - 1 - t; }

  /// Packed [Σ len][n] (reversed per sample when `reverse`) from columns col.. of [T][B][ld].
  void gather(const E *user, int64_t ld, int64_t col, int64_t n, bool reverse, E *packed) const {
    for (int64_t t = 0; t < T(); ++t)
      for (int64_t r = 0; r < sizes_[size_t(t)]; ++r) {
        int64_t ts = reverse ? reversed(r, t) : t;
        const E *src = user + (ts * B() + perm_[size_t(r)]) * ld + col;
        std::copy(src, src + n, packed + (off_[size_t(t)] + r) * n);
      }
  }

  /// The inverse of gather; past a sample's length the columns are 0 (or kept when adding).
  void scatter(const E *packed, int64_t n, bool reverse, bool add, E *user, int64_t ld,
               int64_t col) const {
    for (int64_t t = 0; t < T(); ++t)
      for (int64_t s = 0; s < B(); ++s) {
        E *dst = user + (t * B() + s) * ld + col;
        const int64_t r = rank_[size_t(s)];
        if (t >= lens_[size_t(s)]) {
          if (!add)
            std::fill(dst, dst + n, E(0));
          continue;
        }
        const E *src = packed + (off_[size_t(reverse ? reversed(r, t) : t)] + r) * n;
        for (int64_t i = 0; i < n; ++i)
          dst[i] = add ? dst[i] + src[i] : src[i];
      }
  }

  /// Packed to packed: n columns from col `scol` of rows of `sld` to col `dcol` of rows of `dld`.
  void repack(const E *src, int64_t sld, int64_t scol, E *dst, int64_t dld, int64_t dcol, int64_t n,
              bool reverse, bool add) const {
    for (int64_t t = 0; t < T(); ++t)
      for (int64_t r = 0; r < sizes_[size_t(t)]; ++r) {
        const E *s = src + (off_[size_t(reverse ? reversed(r, t) : t)] + r) * sld + scol;
        E *d = dst + (off_[size_t(t)] + r) * dld + dcol;
        for (int64_t i = 0; i < n; ++i)
          d[i] = add ? d[i] + s[i] : s[i];
      }
  }

  /// Scales a packed [Σ len][n] input of layer l by its dropout mask.
  void dropout(E *packed, int64_t n, int64_t l) const {
    const double p = cfg_.dropout;
    const E scale = E(1 / (1 - p));
    for (int64_t t = 0; t < T(); ++t)
      for (int64_t r = 0; r < sizes_[size_t(t)]; ++r) {
        E *row = packed + (off_[size_t(t)] + r) * n;
        for (int64_t i = 0; i < n; ++i)
          row[i] = dropoutKeeps(cfg_.seed, l, t, perm_[size_t(r)], i, p) ? row[i] * scale : E(0);
      }
  }

  /// State rows of layer l, direction d of a [L·D][B][n] tensor, in length order (or back).
  void gatherRows(const E *user, int64_t n, E *sorted) const {
    for (int64_t r = 0; r < B(); ++r)
      std::copy(user + perm_[size_t(r)] * n, user + (perm_[size_t(r)] + 1) * n, sorted + r * n);
  }
  void scatterRows(const E *sorted, int64_t n, E *user) const {
    for (int64_t r = 0; r < B(); ++r)
      std::copy(sorted + r * n, sorted + (r + 1) * n, user + perm_[size_t(r)] * n);
  }

  // ---- The layers ----

  bool dropping() const { return train_ && cfg_.dropout > 0; }

  /// Layer l's packed input: the caller's sequences for layer 0, layer l-1's outputs after.
  E *layerInput(int64_t l) const {
    return train_ ? rs_ + layerIn_[size_t(l)] : ws_ + seqBuf_[size_t(l % 2)];
  }

  /// Direction d's scratch at `offset` (xin_, yout_, ...).
  E *scratch(int64_t d, int64_t offset) const { return ws_ + dirBase_ + d * dirElems_ + offset; }

  /// Runs direction(0) and direction(1) of a layer, at once when the stack has `both`; the
  /// first failure's code, with its message on this thread.
  int eachDirection(const std::function<int(int64_t)> &direction) {
    if (D_ == 1)
      return direction(0);
    int rc[2] = {kOk, kOk};
    std::string message[2];
    auto task = [&](int64_t d) {
      rc[d] = direction(d);
      if (rc[d])
        message[d] = lastError();
    };
    if (both_ && invoker_[0] != invoker_[1])
      both_([&] { task(0); }, [&] { task(1); });
    else
      task(0), task(1);
    for (int d = 0; d < 2; ++d)
      if (rc[d])
        return fail(rc[d], message[d]);
    return kOk;
  }

  /// Binds the one-layer call's input sequences for layer l, direction d.
  void bindInputs(int64_t l, int64_t d, const E *const *user,
                  const std::vector<const PortDecl *> &list, std::vector<const E *> &single) {
    for (size_t i = 0; i < fin_.size(); ++i) {
      const PortDecl *port = fin_[i];
      if (port->kind != PortKind::Input)
        continue;
      const PortDecl *twin = twinOf(list, port);
      E *packed = scratch(d, xin_[i]);
      const int64_t n = len(port, l);
      if (l == 0)
        gather(user[stackIndex(list, twin)], n, 0, n, d == 1, packed);
      else if (d == 0)
        packed = layerInput(l);
      else
        repack(layerInput(l), n, 0, packed, n, 0, n, true, false);
      single[size_t(twin->index)] = packed;
    }
  }

  /// The port of the same tensor and kind in another list (the backward reads x too).
  static const PortDecl *twinOf(const std::vector<const PortDecl *> &list, const PortDecl *port) {
    for (const PortDecl *q : list)
      if (q->kind == port->kind && std::string(q->tensor) == port->tensor)
        return q;
    return port;
  }

  int runSingle(int64_t l, int64_t d, bool backward, const std::vector<const E *> &in,
                const std::vector<E *> &out) {
    Exec ex(p_, *invoker_[d]);
    ex.setBatchSizes(sizes_.data());
    const auto &[at, elems] = singleRs_[size_t(l * D_ + d)];
    const int64_t *shape = shapes_[size_t(l)].data();
    int rc = backward ? ex.backward(shape, in.data(), out.data(), scratch(d, wsSingle_),
                                    singleWs_ * kE, rs_ + at, elems * kE)
                      : ex.forward(shape, in.data(), out.data(), scratch(d, wsSingle_),
                                   singleWs_ * kE, train_ ? rs_ + at : nullptr, elems * kE);
    if (rc)
      lastError() =
          what_ + "layer " + std::to_string(l) + (d ? " reverse" : "") + ": " + lastError();
    return rc;
  }

  int forwardLayer(int64_t l) {
    if (int rc = eachDirection([&](int64_t d) { return forwardDirection(l, d); }))
      return rc;
    if (l < L_ - 1 && dropping())
      dropout(layerInput(l + 1), len(input(), l + 1), l + 1);
    return kOk;
  }

  /// Direction d of layer l; it writes only its own columns and state slots.
  int forwardDirection(int64_t l, int64_t d) {
    const bool last = l == L_ - 1;
    std::vector<const E *> in(size_t(p_.forwardIn), nullptr);
    std::vector<E *> out(size_t(p_.forwardOut), nullptr);
    bindInputs(l, d, in_, fin_, in);
    for (size_t i = 0; i < fin_.size(); ++i) {
      const PortDecl *port = fin_[i];
      const E *user =
          in_[stackIndex(fin_, port) + (port->kind == PortKind::Param ? l * D_ + d : 0)];
      if (port->kind == PortKind::Param)
        in[size_t(port->index)] = user;
      else if (port->kind == PortKind::State && user) {
        gatherRows(user + (l * D_ + d) * B() * len(port, l), len(port, l), scratch(d, sInit_[i]));
        in[size_t(port->index)] = scratch(d, sInit_[i]);
      }
    }
    for (size_t i = 0; i < fout_.size(); ++i)
      out[size_t(fout_[i]->index)] =
          scratch(d, fout_[i]->kind == PortKind::Output ? yout_[i] : sFinal_[stateSlot(fout_[i])]);
    if (int rc = runSingle(l, d, false, in, out))
      return rc;
    bool firstOutput = true;
    for (size_t i = 0; i < fout_.size(); ++i) {
      const PortDecl *port = fout_[i];
      const int64_t n = len(port, l);
      E *user = out_[stackIndex(fout_, port)];
      if (port->kind == PortKind::State)
        scatterRows(scratch(d, sFinal_[stateSlot(port)]), n, user + (l * D_ + d) * B() * n);
      else if (last)
        scatter(scratch(d, yout_[i]), n, d == 1, false, user, D_ * n, d * n);
      else if (firstOutput)
        repack(scratch(d, yout_[i]), n, 0, layerInput(l + 1), D_ * n, d * n, n, d == 1, false);
      firstOutput = firstOutput && port->kind != PortKind::Output;
    }
    return kOk;
  }

  /// Where the forward port of `port`'s tensor and kind is in `list` (fin_ or fout_): the
  /// index of its scratch (a state's init and final slots are fin_'s, an output's fout_'s).
  static size_t slot(const std::vector<const PortDecl *> &list, const PortDecl *port) {
    for (size_t i = 0; i < list.size(); ++i)
      if (list[i]->kind == port->kind && std::string(list[i]->tensor) == port->tensor)
        return i;
    return 0;
  }
  size_t stateSlot(const PortDecl *port) const { return slot(fin_, port); }
  size_t outputSlot(const PortDecl *port) const { return slot(fout_, port); }
  size_t inputSlot(const PortDecl *port) const { return slot(fin_, port); }

  /// The gradient of layer l's first output arrives in seqBuf_[l % 2] from layer l+1; the
  /// gradient of its input goes to seqBuf_[(l + 1) % 2] (or the caller's for layer 0), the sum
  /// of both directions' once both have run.
  int backwardLayer(int64_t l) {
    if (int rc = eachDirection([&](int64_t d) { return backwardDirection(l, d); }))
      return rc;
    E *dX = ws_ + seqBuf_[size_t((l + 1) % 2)];
    for (const PortDecl *port : bout_) {
      if (port->kind != PortKind::Input)
        continue;
      const int64_t n = len(port, l);
      for (int64_t d = 0; d < D_; ++d)
        if (l == 0)
          scatter(scratch(d, xgrad_[inputSlot(port)]), n, d == 1, d == 1,
                  out_[stackIndex(bout_, port)], n, 0);
        else
          repack(scratch(d, xgrad_[inputSlot(port)]), n, 0, dX, n, 0, n, d == 1, d == 1);
    }
    if (l > 0 && dropping())
      dropout(dX, len(input(), l), l);
    return kOk;
  }

  int backwardDirection(int64_t l, int64_t d) {
    const bool last = l == L_ - 1;
    E *dY = ws_ + seqBuf_[size_t(l % 2)];
    std::vector<const E *> in(size_t(p_.backwardIn), nullptr);
    std::vector<E *> out(size_t(p_.backwardOut), nullptr);
    bindInputs(l, d, in_, bin_, in);
    bool firstOutput = true;
    for (const PortDecl *port : bin_) {
      const E *user =
          in_[stackIndex(bin_, port) + (port->kind == PortKind::Param ? l * D_ + d : 0)];
      const int64_t n = len(port, l);
      if (port->kind == PortKind::Param) {
        in[size_t(port->index)] = user;
      } else if (port->kind == PortKind::State && user) {
        E *seed = scratch(d, sFinal_[stateSlot(port)]);
        gatherRows(user + (l * D_ + d) * B() * n, n, seed);
        in[size_t(port->index)] = seed;
      } else if (port->kind == PortKind::Output) {
        E *dy = scratch(d, yout_[outputSlot(port)]);
        if (last)
          gather(user, D_ * n, d * n, n, d == 1, dy);
        else if (firstOutput)
          repack(dY, D_ * n, d * n, dy, n, 0, n, d == 1, false);
        else
          std::fill(dy, dy + off_.back() * n, E(0));
        firstOutput = false;
        in[size_t(port->index)] = dy;
      }
    }
    for (const PortDecl *port : bout_) {
      E *user = out_[stackIndex(bout_, port) + (port->kind == PortKind::Param ? l * D_ + d : 0)];
      out[size_t(port->index)] = port->kind == PortKind::Param ? user
                                 : port->kind == PortKind::State
                                     ? scratch(d, sInit_[stateSlot(port)])
                                     : scratch(d, xgrad_[inputSlot(port)]);
    }
    if (int rc = runSingle(l, d, true, in, out))
      return rc;
    for (const PortDecl *port : bout_) {
      const int64_t n = len(port, l);
      E *user = out_[stackIndex(bout_, port)];
      if (port->kind == PortKind::State)
        scatterRows(scratch(d, sInit_[stateSlot(port)]), n, user + (l * D_ + d) * B() * n);
    }
    return kOk;
  }

  const SequencePlan &p_;
  Invoker *invoker_[2];
  Both both_;
  std::string what_;
  StackConfig cfg_;
  int64_t L_ = 1, D_ = 1;
  std::vector<const PortDecl *> fin_, fout_, bin_, bout_;
  std::vector<std::vector<int64_t>> shapes_; // per layer: {T, B, dims...}
  // Scratch, in elements of E: the one-layer call's workspace (shared by every call) and
  // reserves (one per layer and direction), per-port sequences and states, layer outputs.
  int64_t singleWs_ = 0, wsSingle_ = 0, wsElems_ = 0, rsElems_ = 0, dirBase_ = 0, dirElems_ = 0;
  std::vector<std::pair<int64_t, int64_t>> singleRs_; // (at, elements)
  std::vector<int64_t> xin_, xgrad_, yout_, sInit_, sFinal_, layerIn_;
  int64_t seqBuf_[2] = {0, 0};
  // The batch in length order.
  std::vector<int64_t> lens_, perm_, rank_, sizes_, off_;
  const E *const *in_ = nullptr;
  E *const *out_ = nullptr;
  E *ws_ = nullptr, *rs_ = nullptr;
  bool train_ = false;
};

} // namespace cellrt
