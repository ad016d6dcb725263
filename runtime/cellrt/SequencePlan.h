// The sequence plan as the runtime sees it: plain tables that a compiled library (or the
// reference interpreter) hands to cellrt's one executor (cellrt/Executor.h). The compiler
// writes them; cellrt knows nothing of the compiler.
//
// A call has a shape: {T, B, dim0, dim1, ...} (the cell's free dims in declaration order).
// Every size in a plan is affine in that shape. Buffers are the caller's tensors (by position
// in the call's pointer arrays), workspace slots or reserve slots; kernels read and write views
// of buffers; a program is a list of steps, among them loops over time with a direction.
#pragma once

#include <cstdint>

namespace cellrt {

/// The most shape entries one size may combine (sizes are affine in T, B and the dims).
constexpr int kMaxSizeTerms = 8;

/// constant + Σ coeff·shape[index].
struct SizeExpr {
  int64_t constant = 0;
  int terms = 0;
  struct Term {
    int index;
    int64_t coeff;
  } term[kMaxSizeTerms] = {};
};

/// Where a buffer lives.
enum class Storage : uint8_t {
  In,        // the call's in[index]
  Out,       // the call's out[index]
  Workspace, // a slot of the workspace, scratch for one call
  Reserve,   // a slot of the reserve, kept from a training forward for the backward
};

/// How many elements a buffer has.
enum class Extent : uint8_t {
  Sequence, // T·B samples of `len` elements: [T][B][len]
  Batch,    // B samples of `len` elements: [B][len]
  Whole,    // `len`·`cols` elements: a param, or a param's gradient
  Packed,   // `len` rows of padded(`cols`) elements: a matrix packed by a backend
};

/// Which memory a buffer's pointer addresses.
enum class Memory : uint8_t { Host, Device };

struct BufferDecl {
  const char *label; // for messages: "param W_hh", "gradient of output h"
  Storage storage;
  int index; // In/Out: position in the pointer array
  Extent extent;
  SizeExpr len, cols; // see Extent
  bool optional;      // In: a null pointer is allowed (initial states, final-state seeds)
  bool pingPong;      // Workspace: two copies, the current and the next step's
  Memory memory;      // Host on CPU targets
};

/// How a kernel sees a buffer.
enum class Slot : uint8_t {
  All,     // the whole buffer (or, in a per-step kernel, the step's slice of a sequence)
  Current, // a ping-pong buffer's copy for this step
  Next,    // a ping-pong buffer's copy for the step after
};

enum class ViewKind : uint8_t {
  Samples, // 2-D (len, samples): element i of sample n at n·len + i
  Tensor,  // a param in its declared layout: rank 0, 1 ([len]) or 2 ([len][cols])
  Packed,  // 2-D (padded(cols), len): a packed matrix
};

struct ArgDecl {
  int buffer;
  ViewKind view;
  Slot slot;
  int rank; // Tensor views
};

/// What a kernel does, for the executor's messages and for backends that treat kinds apart.
enum class KernelKind : uint8_t {
  TimeParallel, // once over all T·B samples before a loop (hoisted GEMMs)
  Step,         // once per time step over the step's batch
  Reduction,    // once over all T·B samples after a loop (dx, param gradients)
};

/// A compiled kernel's entry point in Halide's argv convention: scalars by pointer, buffers
/// as halide_buffer_t pointers. Null when the plan is run by another invoker (the
/// interpreter).
using KernelEntry = int (*)(void **);

struct KernelDecl {
  const char *name; // "forward_step"
  KernelKind kind;
  int firstArg, args; // a range of the plan's ArgDecl table
  KernelEntry entry;
};

enum class Direction : uint8_t { Forward, Reverse };

enum class StepKind : uint8_t {
  Pack,       // a backend's copy of a param into a packed workspace slot (src -> dst)
  InitState,  // dst[Current] = src, or `fill` where src is absent or a null optional input
  RunKernel,  // kernel, once
  Loop,       // kernel, once per time step in `direction`, swapping ping-pong buffers after each
  FinalState, // dst = src[Current]
};

struct Step {
  StepKind kind;
  int kernel;          // RunKernel, Loop
  int src, dst;        // buffers
  bool transpose;      // Pack: dst[k][i] = src[i][k] (else a padded copy)
  float fill;          // InitState
  Direction direction; // Loop
};

struct Program {
  const char *name; // "forward", "backward": the prefix of its messages
  const Step *steps;
  int count;
};

/// What a position of a call's pointer arrays carries, for callers that compose calls of one
/// plan: stacks of layers, both directions, ragged batches (cellrt/Stack.h).
enum class PortKind : uint8_t { Input, State, Param, Output };

struct PortDecl {
  const char *tensor; // the cell's name: "x", "h", "W_ih"
  PortKind kind;      // a gradient's port has its tensor's kind
  bool backward;      // a position of the backward call (else of the forward's)
  bool written;       // in out[] (else in[])
  int index;          // the position
  SizeExpr len;       // Input, State, Output: elements per sample (constant -1: not affine)
};

struct SequencePlan {
  const char *cell;
  int shapeRank; // 2 + the number of free dims
  int64_t packPadding;
  const BufferDecl *buffers;
  int bufferCount;
  const ArgDecl *args;
  const KernelDecl *kernels;
  int kernelCount;
  Program inference, training, backward;
  int forwardIn, forwardOut, backwardIn, backwardOut; // pointer array lengths
  const PortDecl *ports;                              // one per position of the four pointer arrays
  int portCount;
};

/// Packed params: the packed copies of a plan's param matrices that its inference program
/// makes (its Pack steps), made once by Executor::packParams and then reused by forward calls
/// instead of packing at every call, as oneDNN users reorder weights once. The memory starts
/// with this header, which says for which dims the copies were made; the copies follow it.
struct PackHeader {
  static constexpr uint64_t kMagic = 0x63656c6c63706b31; // "cellcpk1"
  static constexpr int kMaxDims = 30;
  uint64_t magic;
  int64_t dims;            // how many
  int64_t value[kMaxDims]; // the shape after T and B
};
constexpr int64_t kPackHeaderBytes = sizeof(PackHeader); // 256: the copies stay 64-byte aligned

} // namespace cellrt
