#include "compiler/sema/Sema.h"

#include "compiler/ir/DimSolver.h"

#include "compiler/ir/Builder.h"
#include "compiler/sema/GeneratedNames.h"

#include <pthread.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <map>
#include <set>

namespace cellc::sema {

using dsl::Decl;
using dsl::Expr;
using dsl::Range;
using dsl::Stmt;
using ir::Op;
using ir::Type;
using ir::ValueId;

namespace {

/// Thrown to abandon the current definition after an error was reported. It never leaves
/// analyze().
struct Abandon {};

struct FunctionInfo {
  int minArgs, maxArgs; // maxArgs -1: any number
  Op op;                // the IR op for the plain elementwise ones, else unused
};

const std::map<std::string, FunctionInfo> &builtins() {
  static const std::map<std::string, FunctionInfo> table = {
      {"sigmoid", {1, 1, Op::Sigmoid}},
      {"tanh", {1, 1, Op::Tanh}},
      {"relu", {1, 1, Op::Relu}},
      {"exp", {1, 1, Op::Exp}},
      {"log", {1, 1, Op::Log}},
      {"softplus", {1, 1, Op::Softplus}},
      {"hard_sigmoid", {1, 1, Op::HardSigmoid}},
      {"sqrt", {1, 1, Op::Sqrt}},
      {"rsqrt", {1, 1, Op::Rsqrt}},
      {"abs", {1, 1, Op::Abs}},
      {"min", {2, 2, Op::Min}},
      {"max", {2, 2, Op::Max}},
      {"clamp", {3, 3, Op::Min}},
      {"sum", {1, 1, Op::Sum}},
      {"mean", {1, 1, Op::Sum}},
      {"split", {2, 2, Op::Slice}},
      {"concat", {1, -1, Op::Concat}},
  };
  return table;
}

size_t editDistance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

/// The candidate closest to `name` if one is close enough, else "".
std::string closest(const std::string &name, const std::vector<std::string> &candidates) {
  std::string best;
  size_t bestDist = name.size() / 3 + 1;
  for (const std::string &c : candidates) {
    size_t d = editDistance(name, c);
    // A candidate that shares nothing with the name (Q for H) is no suggestion.
    if (d <= bestDist && d < std::max(name.size(), c.size()) && c != name) {
      best = c;
      bestDist = d;
    }
  }
  return best;
}

/// "; did you mean 'x'?" when a candidate is close, else "".
std::string suggest(const std::string &name, const std::vector<std::string> &candidates) {
  std::string best = closest(name, candidates);
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

class Analyzer {
public:
  /// `stackBytes`: the stack there is below the caller's frame (see DepthGuard).
  Analyzer(const dsl::Module &m, dsl::DiagnosticEngine &d, const Options &o, size_t stackBytes)
      : module_(m), diags_(d), opts_(o), b_(cell_.step, {}) {
    // The stack grows down; keep a margin for the frames below the last guarded one.
    auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    size_t usable = stackBytes > kStackMargin ? stackBytes - kStackMargin : 0;
    stackLimit_ = here > usable ? here - usable : 0;
  }

  Outcome run();

private:
  // A name in the cell's single namespace.
  struct Symbol {
    enum class Kind { Dim, Input, State, Param, Let };
    Kind kind;
    Range range;
    Type type;                  // tensors
    ValueId leaf = -1;          // Input/State/Param: the IR leaf
    const Stmt *stmt = nullptr; // Let: the defining statement
    size_t index = 0;           // Let: which target of the statement
    bool used = false;
  };
  // A definition being lowered, for cycle reports.
  struct Frame {
    std::string key;   // identifies the statement
    std::string shown; // the name a user reads in a cycle report
  };

  // Step 1: declarations.
  void declareAll();
  void declareDim(const Decl &d);
  void declareTensor(const Decl &d);
  bool define(const std::string &name, Range r, Symbol s);
  Size sizeExpr(const Expr &e);
  int64_t positiveInteger(const Expr &e, const char *what);

  // Step 2: statements.
  void collectStatements();
  ValueId valueOfLet(Symbol &s, Range useRange);
  ValueId valueOfUpdate(const std::string &state, Range useRange);
  std::vector<ValueId> lowerDefinition(const Stmt &s, const std::string &key,
                                       const std::string &shown, Range useRange);

  // Expressions.
  ValueId expr(const Expr &e);
  std::vector<ValueId> exprTuple(const Expr &e);
  ValueId name(const Expr &e);
  ValueId binaryOp(const Expr &e);
  ValueId call(const Expr &e);
  std::vector<ValueId> split(const Expr &e);
  ValueId slice(const Expr &e);
  ValueId elementwise(Op op, ValueId a, ValueId b, const Expr &where, const char *what);
  ValueId notMatrix(ValueId v, const Expr &e, const char *context);
  std::string describe(ValueId v) const { return b_.type(v).str(); }

  // Step 3: results and checks over the whole cell.
  void buildResults();
  void checkUnused();
  void checkDimsBindable();
  void checkNamesOutside();

  void markNamesUsed(const Expr &e);
  std::string suggestUsed(const std::string &name, const std::vector<std::string> &candidates);
  static const char *kindName(Symbol::Kind k);
  Range cellRange() const;

  [[noreturn]] void fail(Range r, const std::string &msg) {
    diags_.error(r, msg);
    throw Abandon{};
  }

  // expr() and lowerDefinition() recurse through operations and chains of definitions (the
  // parser bounds a statement, not how deep definitions chain): at most kMaxDepth levels, and
  // never closer than kStackMargin to the end of the stack (frames are larger in debug and
  // sanitizer builds), so that a deep cell is an error, not a stack overflow.
  static constexpr int kMaxDepth = 200000;
  static constexpr size_t kStackMargin = size_t(256) << 10;
  struct DepthGuard {
    Analyzer &a;
    DepthGuard(Analyzer &a, Range where) : a(a) {
      ++a.depth_;
      if (a.depth_ > kMaxDepth ||
          reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) < a.stackLimit_) {
        --a.depth_;
        a.fail(where, "definitions and operations nested too deeply (more than " +
                          std::to_string(a.depth_) + " levels); shorten the chain");
      }
    }
    ~DepthGuard() { --a.depth_; }
  };
  std::vector<std::string> namesInScope() const {
    std::vector<std::string> v;
    for (auto &[n, s] : symbols_)
      v.push_back(n);
    return v;
  }

  const dsl::Module &module_;
  dsl::DiagnosticEngine &diags_;
  const Options &opts_;
  ir::Cell cell_;
  ir::Builder b_;

  std::map<std::string, Symbol> symbols_;
  std::vector<std::string> dimOrder_;
  std::set<std::string> usedDims_;
  std::map<std::string, const Stmt *> updates_;        // state name -> its update
  std::map<std::string, ValueId> lowered_;             // "x" or "h'" -> value
  std::map<std::string, std::vector<ValueId>> tuples_; // let statement key -> its values
  std::set<std::string> failed_;                       // definitions that had errors
  bool declFailed_ = false;                            // a declaration had an error
  std::vector<Frame> stack_;                           // definitions being lowered
  std::map<std::string, size_t> onStack_;              // their keys -> index in stack_
  uintptr_t stackLimit_ = 0;                           // see DepthGuard
  int depth_ = 0;
};

// ---------------------------------------------------------------------------------------
// Declarations

bool Analyzer::define(const std::string &name, Range r, Symbol s) {
  auto it = symbols_.find(name);
  if (it != symbols_.end()) {
    diags_.error(r, "redefinition of '" + name + "'");
    diags_.note(it->second.range, "'" + name + "' was first defined here");
    return false;
  }
  symbols_.emplace(name, s);
  return true;
}

/// Whether `v` is a whole number in [lo, hi]; tested before any conversion to an integer,
/// which is undefined for a double out of int64_t's range (1e20, inf, NaN).
static bool wholeNumberIn(double v, double lo, double hi) {
  return v >= lo && v <= hi && v == std::floor(v);
}

int64_t Analyzer::positiveInteger(const Expr &e, const char *what) {
  if (e.kind != Expr::Kind::Number || !wholeNumberIn(e.number, 1, 1e12))
    fail(e.range, std::string(what) + " must be a positive whole number");
  return int64_t(e.number);
}

// size := NUMBER | DIM | size ('+'|'-') size | size '*' size (one side constant)
//       | size '/' NUMBER (exact) | '(' size ')'
Size Analyzer::sizeExpr(const Expr &e) {
  switch (e.kind) {
  case Expr::Kind::Number:
    if (!wholeNumberIn(e.number, 0, 1e12))
      fail(e.range, "a size must be a whole number from 0 to 10^12");
    return Size::constant(int64_t(e.number));
  case Expr::Kind::Name: {
    auto it = symbols_.find(e.name);
    if (it == symbols_.end()) {
      std::string hint = suggestUsed(e.name, dimOrder_);
      fail(e.range, "unknown dimension '" + e.name + "'" +
                        (hint.empty() ? "; declare it with 'dim " + e.name + "'" : hint));
    }
    if (e.primed || it->second.kind != Symbol::Kind::Dim) {
      it->second.used = true; // written here, if wrongly: not also "never used"
      fail(e.range,
           "'" + e.name + (e.primed ? "''" : "'") + " is not a dimension" +
               (e.primed ? "" : std::string(" (it is ") + kindName(it->second.kind) + ")") +
               "; a size is made of numbers, dimensions, +, -, * and /");
    }
    it->second.used = true;
    usedDims_.insert(e.name);
    auto fixed = cell_.fixedDims.find(e.name);
    return fixed != cell_.fixedDims.end() ? Size::constant(fixed->second) : Size::symbol(e.name);
  }
  case Expr::Kind::Unary: {
    auto r = sizeExpr(*e.args[0]).scaled(-1);
    if (!r)
      fail(e.range, "size is too large");
    return *r;
  }
  case Expr::Kind::Binary: {
    Size a = sizeExpr(*e.args[0]), b = sizeExpr(*e.args[1]);
    std::optional<Size> r;
    switch (e.op) {
    case '+':
      r = a.plus(b);
      break;
    case '-':
      r = a.minus(b);
      break;
    case '*':
      if (!a.isConstant() && !b.isConstant())
        fail(e.range, "a size can only multiply a dimension by a number ('" + a.str() + " * " +
                          b.str() + "' multiplies two dimensions)");
      r = a.isConstant() ? b.scaled(a.constantPart()) : a.scaled(b.constantPart());
      break;
    case '/':
      if (!b.isConstant() || b.constantPart() == 0)
        fail(e.range, "a size can only be divided by a nonzero number");
      r = a.dividedBy(b.constantPart());
      if (!r)
        fail(e.range, "'" + a.str() + "' is not divisible by " + std::to_string(b.constantPart()) +
                          " for every value of its dimensions");
      break;
    default:
      fail(e.range, "'@' cannot appear in a size");
    }
    if (!r)
      fail(e.range, "size is too large");
    return *r;
  }
  default:
    fail(e.range, "a size is made of numbers, dimensions, +, -, * and /");
  }
}

void Analyzer::declareDim(const Decl &d) {
  Symbol s{Symbol::Kind::Dim, d.nameRange};
  if (!define(d.name, d.nameRange, s))
    return;
  dimOrder_.push_back(d.name);
  auto def = opts_.defines.find(d.name);
  if (def != opts_.defines.end()) {
    cell_.fixedDims[d.name] = def->second;
  } else if (d.value) {
    try {
      cell_.fixedDims[d.name] = positiveInteger(*d.value, "a fixed dimension");
    } catch (Abandon &) {
    }
  }
}

void Analyzer::declareTensor(const Decl &d) {
  static const Symbol::Kind kinds[] = {Symbol::Kind::Dim, Symbol::Kind::Input, Symbol::Kind::State,
                                       Symbol::Kind::Param};
  static const char *what[] = {"dim", "input", "state", "param"};
  Type t;
  try {
    std::vector<Size> sizes;
    for (const dsl::ExprPtr &e : d.shape) {
      Size s = sizeExpr(*e);
      // Every dim is at least 1, so with positive coefficients the least value is the
      // constant plus the coefficients.
      __int128 least = s.constantPart();
      bool positive = true;
      for (auto &[dim, k] : s.terms()) {
        positive = positive && k > 0;
        least += k;
      }
      if (!positive || least < 1)
        fail(e->range, s.isConstant() ? "a size must be positive, got " + s.str()
                                      : "a size must be positive for every value of its "
                                        "dimensions (each at least 1), got " +
                                            s.str());
      sizes.push_back(s);
    }
    if (sizes.size() > 2)
      fail(d.range, "'" + d.name + "' has " + std::to_string(sizes.size()) +
                        " dimensions; tensors have at most two ([rows, cols])");
    if (d.kind != Decl::Kind::Param && sizes.size() != 1)
      fail(d.range, std::string(d.kind == Decl::Kind::Input ? "an " : "a ") + what[int(d.kind)] +
                        " is a vector per sample: declare it as " + d.name + "[N]");
    if (sizes.size() == 1)
      t = Type::vector(sizes[0]);
    else if (sizes.size() == 2)
      t = Type::matrix(sizes[0], sizes[1]);
  } catch (Abandon &) {
    t = Type::vector(Size::constant(1));
    failed_.insert(d.name);
    declFailed_ = true;
  }
  double init = 0;
  if (d.value) {
    const Expr *v = d.value.get();
    bool negative = v->kind == Expr::Kind::Unary && v->op == '-';
    if (negative)
      v = v->args[0].get();
    if (v->kind != Expr::Kind::Number)
      diags_.error(d.value->range, "a state's initial value must be a number (per-sample "
                                   "initial states come from <state>.init.npy at run time)");
    else
      init = negative ? -v->number : v->number;
  }
  Symbol s{kinds[int(d.kind)], d.nameRange, t};
  Op op = d.kind == Decl::Kind::Input   ? Op::Input
          : d.kind == Decl::Kind::State ? Op::State
                                        : Op::Param;
  if (!define(d.name, d.nameRange, s))
    return;
  symbols_[d.name].leaf = b_.leaf(op, d.name, t, d.nameRange);
  ir::TensorDecl decl{d.name, t, init};
  (d.kind == Decl::Kind::Input   ? cell_.inputs
   : d.kind == Decl::Kind::State ? cell_.states
                                 : cell_.params)
      .push_back(decl);
}

void Analyzer::declareAll() {
  // Dims first, wherever they are written, so that shapes may use them.
  for (const Decl &d : module_.decls)
    if (d.kind == Decl::Kind::Dim)
      declareDim(d);
  for (const Decl &d : module_.decls)
    if (d.kind != Decl::Kind::Dim)
      declareTensor(d);
}

// ---------------------------------------------------------------------------------------
// Statements: every let, update and output is a definition; they may appear in any order
// and are lowered on first use, which is also where cycles are found.

void Analyzer::collectStatements() {
  for (const Stmt &s : module_.stmts) {
    if (s.kind == Stmt::Kind::Let || (s.kind == Stmt::Kind::Output && s.value)) {
      for (size_t i = 0; i < s.targets.size(); ++i) {
        Symbol sym{Symbol::Kind::Let, s.targets[i].range};
        sym.stmt = &s;
        sym.index = i;
        define(s.targets[i].name, s.targets[i].range, sym);
      }
    } else if (s.kind == Stmt::Kind::Update) {
      const Stmt::Target &t = s.targets[0];
      auto it = symbols_.find(t.name);
      if (it == symbols_.end()) {
        std::vector<std::string> states;
        for (const ir::TensorDecl &st : cell_.states)
          states.push_back(st.name);
        std::string hint = suggest(t.name, states);
        diags_.error(t.range,
                     "unknown state '" + t.name + "'" +
                         (hint.empty() ? "; declare it with 'state " + t.name + "[N]'" : hint));
      } else if (it->second.kind != Symbol::Kind::State) {
        diags_.error(t.range, "'" + t.name + "' is not a state; only a state has a next value (" +
                                  t.name + "')");
      } else if (updates_.count(t.name)) {
        diags_.error(t.range, "state '" + t.name + "' is updated twice");
        diags_.note(updates_[t.name]->targets[0].range, "the first update is here");
      } else {
        updates_[t.name] = &s;
      }
    }
  }
}

std::vector<ValueId> Analyzer::lowerDefinition(const Stmt &s, const std::string &key,
                                               const std::string &shown, Range useRange) {
  DepthGuard guard(*this, useRange);
  if (auto cycle = onStack_.find(key); cycle != onStack_.end()) {
    std::string path;
    for (size_t j = cycle->second; j < stack_.size(); ++j)
      path += stack_[j].shown + " -> ";
    failed_.insert(key);
    fail(useRange, "cyclic definition: '" + shown + "' depends on itself (" + path + shown + ")");
  }
  if (failed_.count(key))
    throw Abandon{};
  onStack_[key] = stack_.size();
  stack_.push_back({key, shown});
  std::vector<ValueId> values;
  try {
    // A let of a split binds its parts (one name for split(v, 1)); valueOfLet checks the count.
    bool tuple =
        s.targets.size() > 1 || (s.kind == Stmt::Kind::Let && s.value->kind == Expr::Kind::Call &&
                                 s.value->name == "split");
    values = tuple ? exprTuple(*s.value) : std::vector<ValueId>{expr(*s.value)};
  } catch (Abandon &) {
    onStack_.erase(key);
    stack_.pop_back();
    failed_.insert(key);
    markNamesUsed(*s.value);
    throw;
  }
  onStack_.erase(key);
  stack_.pop_back();
  return values;
}

ValueId Analyzer::valueOfLet(Symbol &sym, Range useRange) {
  const Stmt &s = *sym.stmt;
  std::string key = "let@" + std::to_string(s.range.begin);
  auto it = tuples_.find(key);
  if (it == tuples_.end()) {
    std::vector<ValueId> v = lowerDefinition(s, key, s.targets[sym.index].name, useRange);
    if (v.size() != s.targets.size()) {
      failed_.insert(key);
      fail(s.value->range, "split gives " + std::to_string(v.size()) + " values but 'let' names " +
                               std::to_string(s.targets.size()));
    }
    it = tuples_.emplace(key, v).first;
  }
  return it->second[sym.index];
}

ValueId Analyzer::valueOfUpdate(const std::string &state, Range useRange) {
  auto done = lowered_.find(state + "'");
  if (done != lowered_.end())
    return done->second;
  auto it = updates_.find(state);
  if (it == updates_.end())
    fail(useRange, "state '" + state + "' has no next value: add a line " + state + "' = ...");
  const Stmt &s = *it->second;
  ValueId v = lowerDefinition(s, state + "'", state + "'", useRange)[0];
  const Type &declared = symbols_[state].type;
  if (b_.type(v).rank == 0)
    v = b_.broadcast(v, declared.rows);
  if (b_.type(v) != declared) {
    failed_.insert(state + "'"); // report it once, not again at each use of state'
    fail(s.value->range, "the next value of state '" + state + "' has shape " + describe(v) +
                             " but the state is declared " + declared.str());
  }
  lowered_[state + "'"] = v;
  return v;
}

// ---------------------------------------------------------------------------------------
// Expressions

std::vector<ValueId> Analyzer::exprTuple(const Expr &e) {
  if (e.kind == Expr::Kind::Call && e.name == "split")
    return split(e);
  fail(e.range, "only split(...) gives several values; bind one value per 'let'");
}

ValueId Analyzer::expr(const Expr &e) {
  DepthGuard guard(*this, e.range);
  switch (e.kind) {
  case Expr::Kind::Number:
    return b_.constant(e.number);
  case Expr::Kind::Name:
    return name(e);
  case Expr::Kind::Unary:
    return b_.unary(Op::Neg, notMatrix(expr(*e.args[0]), *e.args[0], "in '-'"), e.range);
  case Expr::Kind::Binary:
    return binaryOp(e);
  case Expr::Kind::Call:
    if (e.name == "split")
      fail(e.range, "split(...) gives several values: bind them with let a, b, ... = split(...)");
    return call(e);
  case Expr::Kind::Slice:
    return slice(e);
  }
  fail(e.range, "unsupported expression");
}

ValueId Analyzer::name(const Expr &e) {
  auto it = symbols_.find(e.name);
  if (it == symbols_.end())
    fail(e.range, "unknown name '" + e.name + "'" + suggestUsed(e.name, namesInScope()));
  Symbol &s = it->second;
  s.used = true;
  if (e.primed) {
    if (s.kind != Symbol::Kind::State)
      fail(e.range, "'" + e.name + "'' is not defined: only a state has a next value, and '" +
                        e.name + "' is " + kindName(s.kind));
    return valueOfUpdate(e.name, e.range);
  }
  switch (s.kind) {
  case Symbol::Kind::Dim: {
    usedDims_.insert(e.name);
    auto fixed = cell_.fixedDims.find(e.name);
    return fixed != cell_.fixedDims.end() ? b_.constant(double(fixed->second))
                                          : b_.dimSize(Size::symbol(e.name));
  }
  case Symbol::Kind::Let:
    return valueOfLet(s, e.range);
  default:
    if (failed_.count(e.name))
      throw Abandon{};
    return s.leaf;
  }
}

ValueId Analyzer::notMatrix(ValueId v, const Expr &e, const char *context) {
  if (b_.type(v).rank == 2)
    fail(e.range,
         "the matrix " + describe(v) + " can only be used on the left of '@' (" + context + ")");
  return v;
}

ValueId Analyzer::elementwise(Op op, ValueId a, ValueId b, const Expr &where, const char *what) {
  const Type &ta = b_.type(a), &tb = b_.type(b);
  if (ta.rank != 0 && tb.rank != 0 && ta != tb)
    fail(where.range, std::string("shape mismatch in ") + what + ": left is " + ta.str() +
                          ", right is " + tb.str());
  return b_.binary(op, a, b, where.range);
}

ValueId Analyzer::binaryOp(const Expr &e) {
  const Expr &l = *e.args[0], &r = *e.args[1];
  if (e.op == '@') {
    ValueId w = expr(l), v = expr(r);
    const Type &tw = b_.type(w), &tv = b_.type(v);
    if (tw.rank != 2)
      fail(l.range, "the left of '@' must be a matrix param, got " + tw.str());
    if (tv.rank != 1)
      fail(r.range, "the right of '@' must be a vector, got " + tv.str());
    if (tv.rows != tw.cols)
      fail(e.range, "shape mismatch in '@': the matrix is " + tw.str() +
                        " so the vector must be [" + tw.cols.str() + "], but it is " + tv.str());
    return b_.matVec(w, v, e.range);
  }
  static const std::map<char, std::pair<Op, const char *>> ops = {{'+', {Op::Add, "'+'"}},
                                                                  {'-', {Op::Sub, "'-'"}},
                                                                  {'*', {Op::Mul, "'*'"}},
                                                                  {'/', {Op::Div, "'/'"}}};
  auto [op, what] = ops.at(e.op);
  ValueId a = notMatrix(expr(l), l, what), b = notMatrix(expr(r), r, what);
  return elementwise(op, a, b, e, what);
}

ValueId Analyzer::call(const Expr &e) {
  auto it = builtins().find(e.name);
  if (it == builtins().end()) {
    std::vector<std::string> names;
    for (auto &[n, info] : builtins())
      names.push_back(n);
    fail(e.range, "unknown function '" + e.name + "'" + suggest(e.name, names));
  }
  const FunctionInfo &info = it->second;
  int n = int(e.args.size());
  if (n < info.minArgs || (info.maxArgs >= 0 && n > info.maxArgs)) {
    std::string want = info.maxArgs < 0 ? "at least " + std::to_string(info.minArgs)
                                        : std::to_string(info.minArgs);
    fail(e.range, "'" + e.name + "' takes " + want + " argument" +
                      (info.minArgs == 1 && info.maxArgs == 1 ? "" : "s") + ", got " +
                      std::to_string(n));
  }
  std::string context = "in " + e.name + "()";
  std::vector<ValueId> args;
  for (const dsl::ExprPtr &a : e.args)
    args.push_back(notMatrix(expr(*a), *a, context.c_str()));
  std::string what = "'" + e.name + "'";
  if (e.name == "clamp") // clamp(x, lo, hi) = min(max(x, lo), hi)
    return elementwise(Op::Min, elementwise(Op::Max, args[0], args[1], e, what.c_str()), args[2], e,
                       what.c_str());
  if (e.name == "min" || e.name == "max")
    return elementwise(info.op, args[0], args[1], e, what.c_str());
  if (e.name == "sum" || e.name == "mean") {
    if (b_.type(args[0]).rank != 1)
      fail(e.args[0]->range, "'" + e.name + "' reduces a vector, got " + describe(args[0]));
    ValueId s = b_.sum(args[0], e.range);
    if (e.name == "sum")
      return s;
    return b_.binary(Op::Div, s, b_.dimSize(b_.type(args[0]).rows), e.range);
  }
  if (e.name == "concat") {
    for (size_t i = 0; i < args.size(); ++i)
      if (b_.type(args[i]).rank != 1)
        fail(e.args[i]->range, "'concat' joins vectors, got " + describe(args[i]));
    return b_.concat(args, e.range);
  }
  return b_.unary(info.op, args[0], e.range);
}

std::vector<ValueId> Analyzer::split(const Expr &e) {
  if (e.args.size() != 2)
    fail(e.range, "'split' takes 2 arguments (a vector and a number of parts), got " +
                      std::to_string(e.args.size()));
  ValueId v = notMatrix(expr(*e.args[0]), *e.args[0], "in split()");
  if (b_.type(v).rank != 1)
    fail(e.args[0]->range, "'split' divides a vector, got " + describe(v));
  int64_t parts = positiveInteger(*e.args[1], "the number of parts of 'split'");
  Size n = b_.type(v).rows;
  std::optional<Size> part = n.dividedBy(parts);
  if (!part)
    fail(e.range, "split of a vector of size " + n.str() + " into " + std::to_string(parts) +
                      " parts: " + n.str() + " is not divisible by " + std::to_string(parts) +
                      (n.isConstant() ? "" : " for every value of its dimensions"));
  std::vector<ValueId> out;
  for (int64_t i = 0; i < parts; ++i)
    out.push_back(b_.slice(v, *part->scaled(i), *part->scaled(i + 1), e.range));
  return out;
}

ValueId Analyzer::slice(const Expr &e) {
  ValueId v = notMatrix(expr(*e.args[0]), *e.args[0], "in a slice");
  if (b_.type(v).rank != 1)
    fail(e.args[0]->range, "only a vector can be sliced, got " + describe(v));
  Size n = b_.type(v).rows;
  Size lo = e.args[1] ? sizeExpr(*e.args[1]) : Size::constant(0);
  Size hi = e.args[2] ? sizeExpr(*e.args[2]) : n;
  std::optional<Size> len = hi.minus(lo), room = n.minus(hi);
  std::optional<Size> lenMinus1 = len ? len->minus(Size::constant(1)) : std::nullopt;
  if (!lenMinus1 || !room || !lo.provablyNonNegative() || !lenMinus1->provablyNonNegative() ||
      !room->provablyNonNegative())
    fail(e.range, "slice [" + lo.str() + ":" + hi.str() +
                      "] is out of range for a vector of size " + n.str() +
                      " (it needs 0 <= start < end <= " + n.str() + ")");
  return b_.slice(v, lo, hi, e.range);
}

// ---------------------------------------------------------------------------------------
// The cell as a whole

void Analyzer::buildResults() {
  for (const ir::TensorDecl &st : cell_.states) {
    if (failed_.count(st.name))
      continue;
    if (!updates_.count(st.name)) {
      diags_.error(symbols_[st.name].range, "state '" + st.name + "' is never updated: add " +
                                                st.name + "' = ... to give its next value");
      continue;
    }
    try {
      ValueId v = valueOfUpdate(st.name, updates_[st.name]->targets[0].range);
      cell_.step.results.push_back({ir::Result::Kind::NewState, st.name, v});
    } catch (Abandon &) {
    }
  }
  std::map<std::string, Range> outputNames;
  for (const Stmt &s : module_.stmts) {
    if (s.kind != Stmt::Kind::Output)
      continue;
    const Stmt::Target &t = s.targets[0];
    auto [first, isNew] = outputNames.emplace(t.name, t.range);
    if (!isNew) {
      diags_.error(t.range, "output '" + t.name + "' is declared twice");
      diags_.note(first->second, "the first is here");
      continue;
    }
    try {
      ValueId v;
      if (s.value) {
        auto it = symbols_.find(t.name);
        if (it == symbols_.end() || it->second.stmt != &s)
          continue; // its name clashed: reported as a redefinition
        v = valueOfLet(it->second, t.range);
      } else {
        if (!symbols_.count(t.name)) {
          std::string hint = suggest(t.name, namesInScope());
          fail(t.range, "output '" + t.name + "' is not defined" +
                            (hint.empty() ? ": define it with 'output " + t.name +
                                                " = ...' or 'let " + t.name + " = ...'"
                                          : hint));
        }
        dsl::Expr ref(Expr::Kind::Name, t.range);
        ref.name = t.name;
        ref.primed = t.primed;
        v = name(ref);
      }
      if (b_.type(v).rank != 1)
        fail(s.range, "output '" + t.name + "' must be a vector, got " + describe(v));
      cell_.step.results.push_back({ir::Result::Kind::Output, t.name, v});
      cell_.outputs.push_back({t.name, b_.type(v)});
    } catch (Abandon &) {
    }
  }
  if (outputNames.empty() && !diags_.hasErrors())
    diags_.error(cellRange(), "the cell has no output: add 'output NAME' (e.g. output h')");
}

void Analyzer::checkUnused() {
  // Lower lets nobody used, so their own errors are reported too.
  for (const Stmt &s : module_.stmts) {
    if (s.kind != Stmt::Kind::Let)
      continue;
    try {
      auto it = symbols_.find(s.targets[0].name);
      if (it != symbols_.end() && it->second.stmt == &s)
        valueOfLet(it->second, s.targets[0].range);
    } catch (Abandon &) {
    }
  }
  for (const Decl &d : module_.decls) {
    auto it = symbols_.find(d.name);
    if (it == symbols_.end() || it->second.used || it->second.range.begin != d.nameRange.begin ||
        failed_.count(d.name))
      continue;
    if (d.kind == Decl::Kind::Param)
      diags_.warning(d.nameRange, "param '" + d.name + "' is never used");
    else if (d.kind == Decl::Kind::Input)
      diags_.warning(d.nameRange, "input '" + d.name + "' is never used");
  }
  for (const Stmt &s : module_.stmts) {
    // A let with an error was reported already; its names are not also "never used".
    if (s.kind != Stmt::Kind::Let || failed_.count("let@" + std::to_string(s.range.begin)))
      continue;
    for (const Stmt::Target &t : s.targets) {
      auto it = symbols_.find(t.name);
      if (it != symbols_.end() && !it->second.used && it->second.stmt == &s && t.name[0] != '_')
        diags_.warning(t.range, "'" + t.name + "' is defined but never used (name it _" + t.name +
                                    " to silence this)");
    }
  }
}

void Analyzer::checkDimsBindable() {
  // At run time every free dim is solved from tensor shapes one unknown at a time; make sure
  // that will succeed.
  DimSolver solver;
  auto collect = [&](const std::vector<ir::TensorDecl> &ts) {
    for (const ir::TensorDecl &t : ts) {
      if (t.type.rank >= 1)
        solver.add(t.type.rows);
      if (t.type.rank == 2)
        solver.add(t.type.cols);
    }
  };
  collect(cell_.inputs);
  collect(cell_.states);
  collect(cell_.params);
  solver.solve();
  for (const std::string &d : dimOrder_) {
    if (cell_.fixedDims.count(d))
      continue;
    if (!usedDims_.count(d)) {
      diags_.warning(symbols_[d].range, "dimension '" + d + "' is never used");
      continue;
    }
    if (!solver.bindable(d)) {
      if (declFailed_)
        continue; // a declaration that failed may have been the one to bind it
      diags_.error(symbols_[d].range, "dimension '" + d +
                                          "' cannot be inferred from the shapes of inputs, states "
                                          "and params; use it alone in a shape (e.g. x[" +
                                          d + "]) or fix it with -D " + d + "=N");
      continue;
    }
    cell_.dims.push_back(d);
  }
}

// The names the header and cellc run give each tensor must be usable and distinct. Checked
// last, on a cell without other errors: after a failed definition, a name may resolve to a
// tensor the user did not mean.
void Analyzer::checkNamesOutside() {
  if (diags_.hasErrors())
    return;
  static const NamedTensor::Kind kinds[] = {NamedTensor::Kind::Dim, NamedTensor::Kind::Input,
                                            NamedTensor::Kind::State, NamedTensor::Kind::Param};
  std::vector<NamedTensor> tensors;
  for (const Decl &d : module_.decls) {
    auto it = symbols_.find(d.name);
    if (it != symbols_.end() && it->second.range.begin == d.nameRange.begin)
      tensors.push_back({kinds[int(d.kind)], d.name, d.nameRange});
  }
  std::set<std::string> outputs;
  for (const Stmt &s : module_.stmts)
    if (s.kind == Stmt::Kind::Output && outputs.insert(s.targets[0].name).second)
      tensors.push_back({NamedTensor::Kind::Output, s.targets[0].name, s.targets[0].range});
  checkGeneratedNames(tensors, diags_);
}

void Analyzer::markNamesUsed(const Expr &root) {
  // Iterative: a definition may be a chain thousands of operations long.
  std::vector<const Expr *> todo{&root};
  while (!todo.empty()) {
    const Expr *e = todo.back();
    todo.pop_back();
    if (e->kind == Expr::Kind::Name) {
      auto it = symbols_.find(e->name);
      if (it != symbols_.end()) {
        it->second.used = true;
        if (it->second.kind == Symbol::Kind::Dim)
          usedDims_.insert(e->name);
      }
    }
    for (const dsl::ExprPtr &a : e->args)
      if (a)
        todo.push_back(a.get());
  }
}

/// suggest(), and the name suggested counts as used: the user meant it, so it is not also
/// reported as never used.
std::string Analyzer::suggestUsed(const std::string &name,
                                  const std::vector<std::string> &candidates) {
  std::string best = closest(name, candidates);
  if (best.empty())
    return "";
  Symbol &s = symbols_.at(best);
  s.used = true;
  if (s.kind == Symbol::Kind::Dim)
    usedDims_.insert(best);
  return "; did you mean '" + best + "'?";
}

const char *Analyzer::kindName(Symbol::Kind k) {
  switch (k) {
  case Symbol::Kind::Dim:
    return "a dimension";
  case Symbol::Kind::Input:
    return "an input";
  case Symbol::Kind::State:
    return "a state";
  case Symbol::Kind::Param:
    return "a param";
  case Symbol::Kind::Let:
    return "a value (defined by let or output)";
  }
  return "a name";
}

/// Where to report what concerns the cell as a whole: its name, else its first line.
Range Analyzer::cellRange() const {
  if (!module_.cellName.empty())
    return module_.cellNameRange;
  if (!module_.decls.empty())
    return module_.decls.front().range;
  if (!module_.stmts.empty())
    return module_.stmts.front().range;
  return Range{};
}

Outcome Analyzer::run() {
  Outcome out;
  for (const auto &define : opts_.defines) {
    const std::string &name = define.first; // not a structured binding: clang 14 cannot capture one
    auto it = std::find_if(module_.decls.begin(), module_.decls.end(), [&](const Decl &d) {
      return d.kind == Decl::Kind::Dim && d.name == name;
    });
    if (it == module_.decls.end())
      out.badDefines.push_back(name);
  }
  cell_.name = module_.cellName.empty() ? opts_.defaultName : module_.cellName;
  declareAll();
  collectStatements();
  if (cell_.inputs.empty() && !declFailed_)
    diags_.error(cellRange(),
                 "the cell has no input: declare one with 'input x[N]' (the sequence's length "
                 "and batch come from the inputs)");
  buildResults();
  checkUnused();
  checkDimsBindable();
  checkNamesOutside();
  if (!diags_.hasErrors() && out.badDefines.empty())
    out.cell = std::move(cell_);
  return out;
}

} // namespace

/// Sema recurses over expression trees and through chains of definitions (a let that reads a
/// let that reads a let ...), and a generated cell can chain many thousands of them: the main
/// thread's 8 MiB overflowed from about 7000 chained lets (some 2 KiB of stack each). So the
/// analysis runs on a thread with this much stack (address space: only what the recursion
/// reaches is touched), enough for the 200000 levels Analyzer::DepthGuard allows. If no such
/// thread can be made (a low RLIMIT_AS) it runs on the caller's stack, and DepthGuard stops
/// it sooner.
static constexpr size_t kStackBytes = size_t(512) << 20;

static void *runFunction(void *f) {
  (*static_cast<std::function<void()> *>(f))();
  return nullptr;
}

Outcome analyze(const dsl::Module &m, dsl::DiagnosticEngine &diags, const Options &opts) {
  Outcome out;
  std::exception_ptr error;
  size_t stackBytes = kStackBytes;
  std::function<void()> work = [&] {
    try {
      out = Analyzer(m, diags, opts, stackBytes).run();
    } catch (...) {
      error = std::current_exception();
    }
  };
  pthread_attr_t attr;
  pthread_t thread;
  bool onThread = pthread_attr_init(&attr) == 0;
  onThread = onThread && pthread_attr_setstacksize(&attr, kStackBytes) == 0 &&
             pthread_create(&thread, &attr, runFunction, &work) == 0;
  pthread_attr_destroy(&attr);
  if (onThread) {
    pthread_join(thread, nullptr);
  } else {
    // The caller's stack: its limit, less what the frames above may have used.
    rlimit limit{};
    stackBytes = size_t(8) << 20;
    if (getrlimit(RLIMIT_STACK, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
      stackBytes = std::min<size_t>(limit.rlim_cur, size_t(64) << 20);
    stackBytes -= std::min(stackBytes, size_t(1) << 20);
    work();
  }
  if (error)
    std::rethrow_exception(error);
  return out;
}

} // namespace cellc::sema
