// The external signature of a cell: every tensor a call of a compiled library (or of
// `cellc run`) takes or gives, as one table per call direction. Each row says its role, its
// position in the call's pointer arrays, its C field name in the generated header, its .npy
// file name, its label in messages, its symbolic shape and whether it may be omitted.
//
// This file is the only place that spells a tensor's external names (`h_init`, `grad_W_hh`,
// `h.final.npy`, ...): the name-clash check in sema, the header, the glue, `cellc run` and the
// library runner all read them from here. A library exports its signature as text
// (`<cell>_signature()`), so a program binds it without the .cell source.
#pragma once

#include "compiler/ir/Size.h"

#include <optional>
#include <string>
#include <vector>

namespace cellc::ir {
struct Cell;
}

namespace cellc::abi {

enum class TensorKind { Input, State, Param, Output };

/// What a row carries. Forward: Input, InitState, Param -> Output, FinalState. Backward:
/// Input, Param, OutputGrad, FinalStateGrad -> InputGrad, InitStateGrad, ParamGrad.
enum class Role {
  Input,
  InitState,
  Param,
  Output,
  FinalState,
  OutputGrad,
  FinalStateGrad,
  InputGrad,
  InitStateGrad,
  ParamGrad,
};

/// How a row's memory is laid out.
enum class Layout {
  Sequence, // [T][B][n]
  Batch,    // [B][n]
  Declared, // a param's declared shape ([], [n] or [rows][cols])
};

/// The names a role of a tensor takes outside the cell. A future stacked call adds a layer
/// index and a direction here (W_ih_l1_reverse); one-layer names are these.
struct Names {
  std::string field;       // C field of the generated header: "h_init"
  std::string file;        // `cellc run` file: "h.init.npy"
  std::string label;       // messages: "initial state h"
  std::string description; // clash messages: "the initial value of"
};
Names namesOf(Role role, const std::string &tensor);

/// The roles a tensor of a kind takes across both calls (for the name-clash check).
std::vector<Role> rolesOf(TensorKind kind);

struct Row {
  Role role;
  bool written;       // an output of the call (else read)
  int position;       // in the call's in[] or out[] array
  std::string tensor; // the cell's name: "h"
  Names names;
  Layout layout;
  std::vector<Size> shape; // per sample for Sequence/Batch, else the declared shape
  bool optional;           // may be NULL (initial states, final-state gradients)
  double fill;             // InitState: the value of an omitted initial state
  int64_t copies = 0;      // a stack call's state: [copies][B][n], one per layer and direction
};

enum class Call { Forward, Backward };

struct Signature {
  std::string cell;
  std::vector<std::string> dims; // the free dims: shape = {T, B, dims...}
  DimValues fixedDims;           // dims fixed at compile time (-D)
  std::vector<Row> forward, backward;

  const std::vector<Row> &rows(Call c) const { return c == Call::Forward ? forward : backward; }
  /// The rows of a call that it reads (`written` false) or writes, in position order.
  std::vector<const Row *> select(Call c, bool written) const;
  /// The row of a role of a tensor, if the call has one.
  const Row *find(Call c, Role role, const std::string &tensor) const;
  /// Elements of a row for bound dims (T and B included for sequences and batches).
  std::optional<int64_t> elements(const Row &r, int64_t T, int64_t B, const DimValues &dims) const;
};

Signature signatureOf(const ir::Cell &cell);

/// The signature of a stack call (cellrt/Stack.h) of `layers` layers and `directions`
/// directions: each param row repeated per layer and direction, layer-major (W_ih_l0,
/// W_ih_l0_reverse, W_ih_l1, ...), with the dim that sizes the input rebound per layer to
/// `directions` times the first output's size; states [layers·directions][B][n]; outputs
/// [T][B][directions·n]. One layer in one direction keeps the one-layer names and shapes.
/// Nullopt, with `error`, for a cell that cannot be stacked so.
std::optional<Signature> stacked(const Signature &s, int64_t layers, int64_t directions,
                                 std::string &error);

/// The text form a library exports; parse(serialize(s)) == s.
std::string serialize(const Signature &s);
std::optional<Signature> parse(const std::string &text, std::string &error);

} // namespace cellc::abi
