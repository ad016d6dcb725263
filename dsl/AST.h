// The syntax tree of a .cell file, exactly as written: no names resolved, no shapes. Every
// node keeps the source Range it came from so that later stages can point at it.
#pragma once

#include "dsl/Source.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace cellc::dsl {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Number, // 1.5
    Name,   // x, h, h' (primed)
    Unary,  // -e
    Binary, // a + b, a - b, a * b, a / b, W @ v
    Call,   // f(a, b, ...)
    Slice,  // v[lo:hi]  (lo or hi may be missing)
  };

  Kind kind;
  Range range;
  double number = 0;         // Number
  std::string name;          // Name (without the prime), Call: the callee
  bool primed = false;       // Name: h'
  char op = 0;               // Unary/Binary: one of + - * / @
  std::vector<ExprPtr> args; // Unary: 1, Binary: 2, Call: n, Slice: base, lo?, hi?

  Expr(Kind k, Range r) : kind(k), range(r) {}
};

/// dim I, H = 512     input x[I]     state h[H] = 0     param W[4*H, I]
struct Decl {
  enum class Kind { Dim, Input, State, Param };
  Kind kind;
  Range range; // the whole declaration item
  std::string name;
  Range nameRange;
  std::vector<ExprPtr> shape; // Input/State/Param: the sizes, empty for a scalar
  ExprPtr value;              // Dim: fixed size; State: initial value (null if none)
};

/// let a = e     let i, f, g, o = split(e, 4)     h' = e     output y = e     output h'
struct Stmt {
  enum class Kind { Let, Update, Output };
  struct Target {
    std::string name;
    Range range;
    bool primed = false;
  };
  Kind kind;
  Range range;
  std::vector<Target> targets; // Let: one or more, Update/Output: one
  ExprPtr value;               // null for `output NAME` that names an existing value
};

struct Module {
  std::string cellName; // from `cell NAME`, empty if absent
  Range cellNameRange;
  std::vector<Decl> decls;
  std::vector<Stmt> stmts;
};

/// Prints the tree in a stable indented form with line:col of every node (--emit=ast).
void printAST(std::ostream &os, const Module &m, const SourceFile &file);

} // namespace cellc::dsl
