// The runtime of a library built by `cellc compile --backend mlir`. Its glue declares the
// module's two sequence functions through MLIR's C interface (`_mlir_ciface_<cell>_forward`:
// a pointer to the results, then the arguments: index and f32 values, pointers to memref
// descriptors) and tables that say where each argument comes from and where each result goes.
// The functions here bind the C ABI's pointer arrays, the same as a Halide library's, to
// descriptors, check a call as the Halide executor does (cellrt/Executor.h), and copy the
// results, memrefs the module allocated, into the caller's arrays and the reserve before
// freeing them. Knows nothing of the compiler.
#pragma once

#include "cellrt/Errors.h"
#include "cellrt/SequencePlan.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace cellrt::mlir {

/// What an operand of a sequence function is bound to.
enum class Binding : uint8_t {
  Shape,   // argument: shape[index] (T, B or a free dim) as an MLIR index
  In,      // argument: the call's in[index]
  Out,     // result: copied to the call's out[index]
  Reserve, // saved value `index`: a training forward's result, a backward's argument
};

/// An argument or a result of a sequence function.
struct Operand {
  const char *label; // for messages: "input x", "saved value 3"
  Binding binding;
  int index;
  Extent extent; // Sequence: [T][B][dims], Batch: [B][dims], Whole: the declared dims
  int rank;      // of the value itself (per sample for Sequence and Batch): 0, 1 or 2
  SizeExpr dims[2];
  bool optional; // In: NULL means every element is `fill` (initial states, final-state seeds)
  float fill;
  bool byValue; // a scalar param: an f32 argument, not a memref
};

/// One argument as the glue's trampoline passes it on.
union Value {
  int64_t index;
  float f32;
  void *memref;
};

struct Function {
  const char *name; // "forward", "backward": for messages
  const Operand *args;
  int argCount;
  const Operand *results;
  int resultCount;
  void (*call)(void *results, const Value *args); // calls _mlir_ciface_<cell>_<name>
};

struct Module {
  const char *cell;
  int shapeRank; // 2 + free dims
  Function forward, backward;
  const SizeExpr *saved; // elements per sample of each saved value, in reserve order
  int savedCount;
};

/// MLIR's descriptor of a ranked memref: {allocated, aligned, offset, sizes[r], strides[r]},
/// in elements; the rank is known from the operand, not stored.
constexpr int kMaxRank = 4;
struct Descriptor {
  float *allocated, *aligned;
  int64_t offset;
  int64_t sizesAndStrides[2 * kMaxRank];
};
inline int64_t descriptorWords(int rank) { return 3 + 2 * int64_t(rank); }

/// MLIR's unranked memref, what its lowering hands to memrefCopy.
struct UnrankedMemref {
  int64_t rank;
  void *descriptor;
};

/// Copies `sizes` elements between strided layouts (in elements; `elem` bytes each).
inline void copyStrided(int64_t elem, int rank, const int64_t *sizes, const char *src,
                        const int64_t *srcStrides, char *dst, const int64_t *dstStrides) {
  if (rank == 0) {
    std::memcpy(dst, src, size_t(elem));
    return;
  }
  for (int64_t i = 0; i < sizes[0]; ++i)
    copyStrided(elem, rank - 1, sizes + 1, src + i * srcStrides[0] * elem, srcStrides + 1,
                dst + i * dstStrides[0] * elem, dstStrides + 1);
}

/// The runtime function MLIR 14's memref lowering calls for a copy between non-identity
/// layouts (memref.copy); the glue exports it under that name, hidden.
inline void memrefCopy(int64_t elem, const UnrankedMemref *src, const UnrankedMemref *dst) {
  const auto *s = static_cast<const Descriptor *>(src->descriptor);
  const auto *d = static_cast<const Descriptor *>(dst->descriptor);
  const int r = int(src->rank);
  copyStrided(elem, r, s->sizesAndStrides, reinterpret_cast<const char *>(s->aligned + s->offset),
              s->sizesAndStrides + r, reinterpret_cast<char *>(d->aligned + d->offset),
              d->sizesAndStrides + r);
}

/// MLIR 14 lowers a memref.get_global (a constant tensor) with this allocated pointer; it is
/// not the module's to free.
inline const void *globalMarker() { return reinterpret_cast<const void *>(uintptr_t(0xdeadbeef)); }

/// One call of a sequence function for a shape.
class Invocation {
public:
  Invocation(const Module &m, const Function &f, const int64_t *shape)
      : m_(m), f_(f), shape_(shape) {}

  /// Checks the shape and computes every operand's sizes and the reserve's layout.
  int layout() {
    if (!shape_)
      return failCall(kNullPointer, "shape is NULL");
    for (int i = 0; i < m_.shapeRank; ++i)
      if (shape_[i] < 1)
        return failCall(kBadShape, "T, B and every dimension must be at least 1");
    Checked ck;
    savedOffset_.clear();
    reserve_ = 0;
    for (int s = 0; s < m_.savedCount; ++s) {
      savedOffset_.push_back(reserve_);
      reserve_ = ck.add(reserve_, ck.mul(ck.mul(shape_[0], shape_[1]), eval(m_.saved[s], ck)));
    }
    sizes_.assign(size_t(f_.argCount + f_.resultCount), {});
    for (int i = 0; i < f_.argCount + f_.resultCount; ++i)
      sizes_[size_t(i)] = sizesOf(operand(i), ck);
    if (ck.overflow || reserve_ > INT64_MAX / 16)
      return failCall(kOverflow, "the shape is too large (a size overflows 64 bits)");
    return kOk;
  }

  int64_t reserveElems() const { return reserve_; }

  /// Runs the function on the caller's arrays: `reserve` null drops the saved values (an
  /// inference forward). Every pointer is checked before the module runs.
  int run(const float *const *in, float *const *out, float *reserve) {
    if (int rc = bindArgs(in, reserve))
      return rc;
    for (int r = 0; r < f_.resultCount; ++r)
      if (const Operand &o = f_.results[r]; o.binding == Binding::Out && !out[o.index])
        return failCall(kNullPointer, std::string(o.label) + " is NULL");
    std::vector<int64_t> words;
    for (int r = 0; r < f_.resultCount; ++r)
      words.resize(words.size() + size_t(descriptorWords(rankOf(f_.results[r]))));
    f_.call(words.data(), values_.data());
    return takeResults(words, out, reserve);
  }

  int failCall(int code, const std::string &message) const {
    return fail(code, std::string(m_.cell) + "_" + f_.name + ": " + message);
  }

private:
  const Operand &operand(int i) const {
    return i < f_.argCount ? f_.args[i] : f_.results[i - f_.argCount];
  }
  static int rankOf(const Operand &o) {
    return o.rank + (o.extent == Extent::Sequence ? 2 : o.extent == Extent::Batch ? 1 : 0);
  }
  int64_t eval(const SizeExpr &s, Checked &ck) const {
    int64_t v = s.constant;
    for (int i = 0; i < s.terms; ++i)
      v = ck.add(v, ck.mul(s.term[i].coeff, shape_[s.term[i].index]));
    return v;
  }
  std::vector<int64_t> sizesOf(const Operand &o, Checked &ck) const {
    std::vector<int64_t> sizes;
    if (o.binding == Binding::Shape || o.byValue)
      return sizes;
    if (o.extent == Extent::Sequence)
      sizes.push_back(shape_[0]);
    if (o.extent != Extent::Whole)
      sizes.push_back(shape_[1]);
    for (int d = 0; d < o.rank; ++d)
      sizes.push_back(eval(o.dims[d], ck));
    int64_t n = 1;
    for (int64_t s : sizes)
      n = ck.mul(n, s);
    ck.overflow = ck.overflow || n > INT64_MAX / 16;
    return sizes;
  }
  static int64_t count(const std::vector<int64_t> &sizes) {
    int64_t n = 1;
    for (int64_t s : sizes)
      n *= s;
    return n;
  }
  /// A contiguous descriptor of `data` with `sizes`.
  static Descriptor contiguous(float *data, const std::vector<int64_t> &sizes) {
    Descriptor d{data, data, 0, {}};
    const int r = int(sizes.size());
    int64_t stride = 1;
    for (int i = r - 1; i >= 0; --i) {
      d.sizesAndStrides[i] = sizes[size_t(i)];
      d.sizesAndStrides[r + i] = stride;
      stride *= sizes[size_t(i)];
    }
    return d;
  }

  int bindArgs(const float *const *in, float *reserve) {
    descriptors_.assign(size_t(f_.argCount), {});
    values_.assign(size_t(f_.argCount), {});
    fills_.clear();
    fills_.reserve(size_t(f_.argCount)); // the descriptors point into these
    for (int a = 0; a < f_.argCount; ++a) {
      const Operand &o = f_.args[a];
      const std::vector<int64_t> &sizes = sizes_[size_t(a)];
      float *data = nullptr;
      switch (o.binding) {
      case Binding::Shape:
        values_[size_t(a)].index = shape_[o.index];
        continue;
      case Binding::In:
        data = const_cast<float *>(in[o.index]);
        if (!data && !o.optional)
          return failCall(kNullPointer, std::string(o.label) + " is NULL");
        if (!data) {
          fills_.emplace_back(size_t(count(sizes)), o.fill);
          data = fills_.back().data();
        }
        break;
      case Binding::Reserve:
        if (!reserve)
          return failCall(kNullPointer, "reserve is NULL");
        data = reserve + savedOffset_[size_t(o.index)];
        break;
      case Binding::Out:
        return failCall(kKernelFailed, "an argument bound to out[]");
      }
      if (o.byValue) {
        values_[size_t(a)].f32 = *data;
        continue;
      }
      descriptors_[size_t(a)] = contiguous(data, sizes);
      values_[size_t(a)].memref = &descriptors_[size_t(a)];
    }
    return kOk;
  }

  /// Copies each result where it goes, then frees what the module allocated for it (not an
  /// argument it returned, nor a constant, nor one buffer twice).
  int takeResults(const std::vector<int64_t> &words, float *const *out, float *reserve) {
    std::vector<const void *> owned;
    int rc = kOk;
    size_t at = 0;
    for (int r = 0; r < f_.resultCount; ++r) {
      const Operand &o = f_.results[r];
      const int rank = rankOf(o);
      Descriptor d{};
      std::memcpy(&d, &words[at], size_t(descriptorWords(rank)) * sizeof(int64_t));
      at += size_t(descriptorWords(rank));
      const std::vector<int64_t> &sizes = sizes_[size_t(f_.argCount + r)];
      if (rc == kOk && !std::equal(sizes.begin(), sizes.end(), d.sizesAndStrides))
        rc = failCall(kKernelFailed, std::string(o.label) + " came back with other sizes");
      float *dst = o.binding == Binding::Out ? out[o.index]
                   : reserve                 ? reserve + savedOffset_[size_t(o.index)]
                                             : nullptr;
      if (rc == kOk && dst) {
        Descriptor c = contiguous(dst, sizes);
        copyStrided(sizeof(float), rank, sizes.data(),
                    reinterpret_cast<const char *>(d.aligned + d.offset), d.sizesAndStrides + rank,
                    reinterpret_cast<char *>(dst), c.sizesAndStrides + rank);
      }
      if (!isArgument(d.allocated) && d.allocated != globalMarker() &&
          std::find(owned.begin(), owned.end(), d.allocated) == owned.end())
        owned.push_back(d.allocated);
    }
    for (const void *p : owned)
      std::free(const_cast<void *>(p));
    return rc;
  }

  bool isArgument(const void *p) const {
    for (const Descriptor &d : descriptors_)
      if (d.allocated && d.allocated == p)
        return true;
    return false;
  }

  const Module &m_;
  const Function &f_;
  const int64_t *shape_;
  std::vector<std::vector<int64_t>> sizes_; // per argument, then per result
  std::vector<int64_t> savedOffset_;        // per saved value, in elements of the reserve
  int64_t reserve_ = 0;
  std::vector<Descriptor> descriptors_;
  std::vector<Value> values_;
  std::vector<std::vector<float>> fills_; // omitted initial states and seeds
};

/// The bodies of the library's C entry points.
namespace library {

/// No exception (an allocation that fails) crosses the C ABI.
template <typename Fn> int guarded(Fn fn) {
  try {
    return fn();
  } catch (const std::exception &e) {
    return fail(kKernelFailed, e.what());
  }
}

inline int size(const Module &m, const int64_t *shape, int64_t *bytes, bool reserve) {
  Invocation call(m, m.forward, shape);
  if (int rc = call.layout())
    return rc;
  if (!bytes)
    return call.failCall(kNullPointer, "bytes is NULL");
  // The module allocates its own scratch: a workspace of 0 bytes.
  *bytes = reserve ? call.reserveElems() * int64_t(sizeof(float)) : 0;
  return kOk;
}

/// Inference when `reserve` is null, else a training forward that fills the reserve. The
/// workspace is unused (0 bytes) and may be null.
inline int forward(const Module &m, const int64_t *shape, const float *const *in, float *const *out,
                   void *reserve, int64_t reserveBytes) {
  Invocation call(m, m.forward, shape);
  if (int rc = call.layout())
    return rc;
  if (!in || !out)
    return call.failCall(kNullPointer, "in and out must not be NULL");
  const int64_t needs = call.reserveElems() * int64_t(sizeof(float));
  if (reserve && reserveBytes < needs)
    return call.failCall(kReserveTooSmall, "reserve has " + std::to_string(reserveBytes) +
                                               " bytes, needs " + std::to_string(needs));
  return call.run(in, out, static_cast<float *>(reserve));
}

inline int backward(const Module &m, const int64_t *shape, const float *const *in,
                    float *const *out, const void *reserve, int64_t reserveBytes) {
  Invocation call(m, m.backward, shape);
  if (int rc = call.layout())
    return rc;
  const int64_t needs = call.reserveElems() * int64_t(sizeof(float));
  if (!in || !out || (!reserve && needs > 0))
    return call.failCall(kNullPointer, "in, out and reserve must not be NULL");
  if (reserveBytes < needs)
    return call.failCall(kReserveTooSmall, "reserve has " + std::to_string(reserveBytes) +
                                               " bytes, needs " + std::to_string(needs));
  return call.run(in, out, static_cast<float *>(const_cast<void *>(reserve)));
}

/// Packed params: the module packs nothing, so they are the header alone, which still ties a
/// forward_packed call to the dims they were made for.
inline int packedParamsSize(const Module &m, const int64_t *shape, int64_t *bytes) {
  if (int rc = size(m, shape, bytes, false))
    return rc;
  *bytes = kPackHeaderBytes;
  return kOk;
}

inline int packParams(const Module &m, const int64_t *shape, const float *const *in, void *packed,
                      int64_t packedBytes) {
  Invocation call(m, m.forward, shape);
  if (int rc = call.layout())
    return rc;
  const int dims = m.shapeRank - 2;
  if (dims > PackHeader::kMaxDims)
    return call.failCall(kBadShape, "more than 30 dims");
  if (!in || !packed)
    return call.failCall(kNullPointer, "in and packed must not be NULL");
  if (packedBytes < kPackHeaderBytes)
    return call.failCall(kWorkspaceTooSmall, "packed has " + std::to_string(packedBytes) +
                                                 " bytes, needs " +
                                                 std::to_string(kPackHeaderBytes));
  PackHeader h{PackHeader::kMagic, dims, {}};
  for (int d = 0; d < dims; ++d)
    h.value[d] = shape[2 + d];
  std::memcpy(packed, &h, sizeof h);
  return kOk;
}

inline int forwardPacked(const Module &m, const int64_t *shape, const float *const *in,
                         float *const *out, const void *packed, int64_t packedBytes, void *reserve,
                         int64_t reserveBytes) {
  Invocation call(m, m.forward, shape);
  if (int rc = call.layout())
    return rc;
  if (!packed)
    return call.failCall(kNullPointer, "packed is NULL");
  PackHeader h;
  if (packedBytes < kPackHeaderBytes)
    return call.failCall(kWorkspaceTooSmall,
                         "packed params have " + std::to_string(packedBytes) + " bytes");
  std::memcpy(&h, packed, sizeof h);
  if (h.magic != PackHeader::kMagic)
    return call.failCall(kBadShape,
                         "packed params were not made by " + std::string(m.cell) + "_pack_params");
  for (int d = 0; d < m.shapeRank - 2; ++d)
    if (d >= h.dims || d >= PackHeader::kMaxDims || h.value[d] != shape[2 + d])
      return call.failCall(kBadShape, "packed params were made for other dims (dim " +
                                          std::to_string(d + 1) + ")");
  return forward(m, shape, in, out, reserve, reserveBytes);
}

/// Stacks: the module computes one layer in one direction over whole sequences; a stack call
/// of exactly that is a plain call, anything more is refused.
inline bool plainStack(int64_t layers, int64_t directions, const int64_t *lengths, double dropout) {
  return layers == 1 && directions == 1 && !lengths && dropout == 0;
}

inline int stackRefused(const Module &m, const char *what) {
  return fail(kBadShape, std::string(m.cell) + what +
                             ": a library built with --backend mlir runs one layer in one "
                             "direction over whole sequences; build with the Halide backend "
                             "(the default) for stacks, both directions, ragged batches and "
                             "dropout");
}

inline int stackSize(const Module &m, const int64_t *shape, int64_t layers, int64_t directions,
                     int64_t *bytes, bool reserve) {
  if (!plainStack(layers, directions, nullptr, 0))
    return stackRefused(m, reserve ? "_stack_reserve_size" : "_stack_workspace_size");
  return size(m, shape, bytes, reserve);
}

/// The module's code is serial: any count of threads is fine.
inline int setNumThreads(int n) {
  return n < 1 ? fail(kBadShape, "threads must be at least 1") : kOk;
}

} // namespace library

} // namespace cellrt::mlir
