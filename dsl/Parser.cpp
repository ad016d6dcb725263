#include "dsl/Parser.h"

namespace cellc::dsl {

namespace {

/// Thrown inside one statement to unwind to the statement loop, which then skips to the next
/// line. It never leaves parse().
struct SyntaxError {};

class Parser {
public:
  Parser(const std::vector<Token> &t, DiagnosticEngine &d) : toks_(t), diags_(d) {
    // The lexer has reported its bad characters already (and skipped them).
    for (const Diagnostic &diag : d.diagnostics())
      if (diag.severity == Severity::Error)
        badChars_.push_back(diag.range);
  }

  // module := sep* (item sep+)* EOF        sep := NEWLINE | ';'
  Module parseModule() {
    Module m;
    while (!at(Tok::Eof)) {
      if (atSeparator()) {
        ++pos_;
        continue;
      }
      stmtBegin_ = cur().range.begin;
      links_ = 0;
      try {
        parseItem(m);
        if (!atSeparator() && !at(Tok::Eof))
          fail(std::string("expected the end of the statement, found ") + describe(cur()));
      } catch (SyntaxError &) {
        while (!atSeparator() && !at(Tok::Eof))
          ++pos_;
      }
    }
    return m;
  }

private:
  const Token &cur() const { return toks_[pos_]; }
  const Token &peek(int n = 1) const {
    size_t i = pos_ + n;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  bool at(Tok k) const { return cur().kind == k; }
  bool atSeparator() const { return at(Tok::Newline) || at(Tok::Semicolon); }

  /// The lexer ends the file with a line break of no width when the last line has none.
  static bool atEndOfFile(const Token &t) {
    return t.kind == Tok::Eof || (t.kind == Tok::Newline && t.range.begin == t.range.end);
  }

  static std::string describe(const Token &t) {
    if (t.kind == Tok::Ident || t.kind == Tok::Number)
      return "'" + t.text + "'";
    return atEndOfFile(t) ? tokName(Tok::Eof) : tokName(t.kind);
  }

  /// An error about the current token; one at the end of the file points just after the last
  /// token, on the last line that has text.
  [[noreturn]] void fail(const std::string &msg) {
    Range r = cur().range;
    if (atEndOfFile(cur()) && pos_ > 0)
      r = Range{toks_[pos_ - 1].range.end, toks_[pos_ - 1].range.end};
    failAt(r, msg);
  }
  [[noreturn]] void failAt(Range r, const std::string &msg) {
    // A bad character earlier in the statement was skipped by the lexer, which reported it;
    // what the statement then looks like is not worth a second error.
    for (Range bad : badChars_)
      if (bad.begin >= stmtBegin_ && bad.begin <= r.begin)
        throw SyntaxError{};
    diags_.error(r, msg);
    throw SyntaxError{};
  }

  static bool isBinaryOperator(Tok k) {
    return k == Tok::Plus || k == Tok::Minus || k == Tok::Star || k == Tok::Slash || k == Tok::At;
  }

  /// The hint for a statement cut short at a line break, or one that starts with an operator.
  static const char *continuationHint() {
    return "; a statement continues on the next line only inside ( ) or [ ]";
  }

  const Token &expect(Tok k, const char *context) {
    if (!at(k))
      fail(std::string("expected ") + tokName(k) + " " + context + ", found " + describe(cur()));
    return toks_[pos_++];
  }

  /// Expects the bracket `k` that closes `open`; if it is missing, a note points at `open`.
  const Token &expectClosing(Tok k, const Token &open, const char *context) {
    if (!at(k)) {
      unsigned reported = diags_.errorCount();
      try {
        expect(k, context);
      } catch (SyntaxError &) {
        if (diags_.errorCount() != reported)
          diags_.note(open.range, std::string("to match this ") + tokName(open.kind));
        throw;
      }
    }
    return toks_[pos_++];
  }

  // item := 'cell' IDENT | 'dim' dimItem (',' dimItem)* | declKw declItem (',' declItem)*
  //       | 'let' targets '=' expr | 'output' IDENT '\''? ('=' expr)? | IDENT '\'' '=' expr
  void parseItem(Module &m) {
    switch (cur().kind) {
    case Tok::KwCell: {
      ++pos_;
      const Token &name = expect(Tok::Ident, "after 'cell' (the cell's name)");
      if (!m.cellName.empty())
        failAt(name.range, "the cell is already named '" + m.cellName + "'");
      m.cellName = name.text;
      m.cellNameRange = name.range;
      return;
    }
    case Tok::KwDim:
      ++pos_;
      do
        m.decls.push_back(parseDimItem());
      while (accept(Tok::Comma));
      return;
    case Tok::KwInput:
    case Tok::KwState:
    case Tok::KwParam: {
      Decl::Kind k = at(Tok::KwInput)   ? Decl::Kind::Input
                     : at(Tok::KwState) ? Decl::Kind::State
                                        : Decl::Kind::Param;
      ++pos_;
      do
        m.decls.push_back(parseDeclItem(k));
      while (accept(Tok::Comma));
      return;
    }
    case Tok::KwLet:
      m.stmts.push_back(parseLet());
      return;
    case Tok::KwOutput:
      m.stmts.push_back(parseOutput());
      return;
    case Tok::Ident:
      m.stmts.push_back(parseUpdate());
      return;
    default:
      fail("expected a declaration (dim, input, state, param), 'let', 'output' or a state "
           "update like h' = ..., found " +
           describe(cur()) + (isBinaryOperator(cur().kind) ? continuationHint() : ""));
    }
  }

  bool accept(Tok k) {
    if (!at(k))
      return false;
    ++pos_;
    return true;
  }

  // dimItem := IDENT ('=' expr)?
  Decl parseDimItem() {
    const Token &name = expect(Tok::Ident, "in 'dim' (a dimension name such as H)");
    Decl d{Decl::Kind::Dim, name.range, name.text, name.range, {}, nullptr};
    if (accept(Tok::Equal))
      d.value = parseExpr();
    if (d.value)
      d.range = Range::join(d.range, d.value->range);
    return d;
  }

  // declItem := IDENT ('[' expr (',' expr)* ']')? ('=' expr)?
  Decl parseDeclItem(Decl::Kind k) {
    const Token &name = expect(Tok::Ident, "in a declaration (the tensor's name)");
    Decl d{k, name.range, name.text, name.range, {}, nullptr};
    if (at(Tok::LBracket)) {
      const Token &open = toks_[pos_++];
      do
        d.shape.push_back(parseExpr());
      while (accept(Tok::Comma));
      d.range =
          Range::join(d.range, expectClosing(Tok::RBracket, open, "to close the shape").range);
    }
    if (at(Tok::Equal)) {
      if (k != Decl::Kind::State)
        fail("only a state can have an initial value");
      ++pos_;
      d.value = parseExpr();
      d.range = Range::join(d.range, d.value->range);
    }
    return d;
  }

  Stmt::Target parseTarget(const char *context) {
    const Token &name = expect(Tok::Ident, context);
    Stmt::Target t{name.text, name.range, false};
    if (at(Tok::Prime)) {
      t.primed = true;
      t.range = Range::join(t.range, cur().range);
      ++pos_;
    }
    return t;
  }

  // let := 'let' IDENT (',' IDENT)* '=' expr
  Stmt parseLet() {
    Range start = cur().range;
    ++pos_;
    Stmt s{Stmt::Kind::Let, start, {}, nullptr};
    do {
      Stmt::Target t = parseTarget("after 'let' (the name being defined)");
      if (t.primed)
        failAt(t.range, "'let' defines a new name; to update state '" + t.name + "' write " +
                            t.name + "' = ... without 'let'");
      s.targets.push_back(t);
    } while (accept(Tok::Comma));
    expect(Tok::Equal, "after the names in 'let'");
    s.value = parseExpr();
    s.range = Range::join(start, s.value->range);
    return s;
  }

  // output := 'output' IDENT '\''? ('=' expr)?
  Stmt parseOutput() {
    Range start = cur().range;
    ++pos_;
    Stmt s{Stmt::Kind::Output, start, {}, nullptr};
    s.targets.push_back(parseTarget("after 'output' (the output's name)"));
    s.range = Range::join(start, s.targets[0].range);
    if (accept(Tok::Equal)) {
      if (s.targets[0].primed)
        failAt(s.targets[0].range, "an output cannot be primed; write 'output " +
                                       s.targets[0].name + "'' to output the new state");
      s.value = parseExpr();
      s.range = Range::join(start, s.value->range);
    }
    return s;
  }

  // update := IDENT '\'' '=' expr
  Stmt parseUpdate() {
    Stmt::Target t = parseTarget("");
    if (!t.primed) {
      if (at(Tok::Equal))
        failAt(t.range, "'" + t.name + " = ...' needs 'let' to define a value, or a prime (" +
                            t.name + "' = ...) to give state '" + t.name + "' its next value");
      failAt(t.range, "expected a statement, found the name '" + t.name + "'");
    }
    Stmt s{Stmt::Kind::Update, t.range, {t}, nullptr};
    expect(Tok::Equal, "after the updated state");
    s.value = parseExpr();
    s.range = Range::join(t.range, s.value->range);
    return s;
  }

  ExprPtr make(Expr::Kind k, Range r) { return std::make_unique<Expr>(k, r); }

  ExprPtr binary(char op, ExprPtr lhs, ExprPtr rhs) {
    auto e = make(Expr::Kind::Binary, Range::join(lhs->range, rhs->range));
    e->op = op;
    e->args.push_back(std::move(lhs));
    e->args.push_back(std::move(rhs));
    return e;
  }

  // Deeply nested input must not overflow the stack. One level per parenthesis, call argument,
  // slice bound or size (each parseExpr), per unary minus and per right operand of '@'.
  struct DepthGuard {
    Parser &p;
    explicit DepthGuard(Parser &p) : p(p) {
      if (++p.depth_ > 200) {
        --p.depth_;
        p.fail("expression nested too deeply (more than 200 levels)");
      }
    }
    ~DepthGuard() { --p.depth_; }
  };

  // Left-associative operators and slices are parsed by loops, which the depth guard does not
  // see, yet they chain into a tree as deep as they are many, which every later stage walks
  // recursively. So a statement holds at most this many of them.
  static constexpr int kMaxChain = 10000;
  void chainLink() {
    if (++links_ > kMaxChain)
      fail("statement too long (more than " + std::to_string(kMaxChain) +
           " operators and slices); split it with 'let'");
  }

  // expr := mul (('+' | '-') mul)*
  ExprPtr parseExpr() {
    DepthGuard g(*this);
    ExprPtr lhs = parseMul();
    while (at(Tok::Plus) || at(Tok::Minus)) {
      char op = at(Tok::Plus) ? '+' : '-';
      chainLink();
      ++pos_;
      lhs = binary(op, std::move(lhs), parseMul());
    }
    return lhs;
  }

  // mul := unary (('*' | '/') unary)*
  ExprPtr parseMul() {
    ExprPtr lhs = parseUnary();
    while (at(Tok::Star) || at(Tok::Slash)) {
      char op = at(Tok::Star) ? '*' : '/';
      chainLink();
      ++pos_;
      lhs = binary(op, std::move(lhs), parseUnary());
    }
    return lhs;
  }

  // unary := '-' unary | matmul
  ExprPtr parseUnary() {
    if (at(Tok::Minus)) {
      Range r = cur().range;
      ++pos_;
      DepthGuard g(*this);
      ExprPtr operand = parseUnary();
      auto e = make(Expr::Kind::Unary, Range::join(r, operand->range));
      e->op = '-';
      e->args.push_back(std::move(operand));
      return e;
    }
    return parseMatmul();
  }

  // matmul := postfix ('@' matmul)?      (binds tighter than * and /, groups to the right)
  ExprPtr parseMatmul() {
    ExprPtr lhs = parsePostfix();
    if (accept(Tok::At)) {
      DepthGuard g(*this);
      return binary('@', std::move(lhs), parseMatmul());
    }
    return lhs;
  }

  // postfix := primary ('[' expr? ':' expr? ']')*
  ExprPtr parsePostfix() {
    ExprPtr e = parsePrimary();
    while (at(Tok::LBracket)) {
      chainLink();
      const Token &open = toks_[pos_++];
      auto s = make(Expr::Kind::Slice, e->range);
      s->args.push_back(std::move(e));
      s->args.push_back(at(Tok::Colon) ? nullptr : parseExpr());
      expect(Tok::Colon, "in a slice (write v[lo:hi])");
      s->args.push_back(at(Tok::RBracket) ? nullptr : parseExpr());
      s->range =
          Range::join(s->range, expectClosing(Tok::RBracket, open, "to close the slice").range);
      e = std::move(s);
    }
    return e;
  }

  // primary := NUMBER | IDENT '\''? | IDENT '(' (expr (',' expr)*)? ')' | '(' expr ')'
  ExprPtr parsePrimary() {
    const Token &t = cur();
    if (t.kind == Tok::Number) {
      ++pos_;
      auto e = make(Expr::Kind::Number, t.range);
      e->number = t.number;
      return e;
    }
    if (t.kind == Tok::LParen) {
      ++pos_;
      ExprPtr e = parseExpr();
      Range close = expectClosing(Tok::RParen, t, "to close '('").range;
      e->range = Range::join(t.range, close);
      return e;
    }
    if (t.kind != Tok::Ident)
      fail("expected an expression, found " + describe(t) +
           (t.kind == Tok::Newline && pos_ > 0 && isBinaryOperator(toks_[pos_ - 1].kind)
                ? continuationHint()
                : ""));
    ++pos_;
    if (at(Tok::LParen)) {
      const Token &open = toks_[pos_++];
      auto e = make(Expr::Kind::Call, t.range);
      e->name = t.text;
      if (!at(Tok::RParen)) {
        do
          e->args.push_back(parseExpr());
        while (accept(Tok::Comma));
      }
      e->range = Range::join(t.range, expectClosing(Tok::RParen, open, "to close the call").range);
      return e;
    }
    auto e = make(Expr::Kind::Name, t.range);
    e->name = t.text;
    if (at(Tok::Prime)) {
      e->primed = true;
      e->range = Range::join(e->range, cur().range);
      ++pos_;
    }
    return e;
  }

  const std::vector<Token> &toks_;
  DiagnosticEngine &diags_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<Range> badChars_; // the lexer's errors
  uint32_t stmtBegin_ = 0;      // where the statement being parsed starts
  int links_ = 0;               // chainLink()s in the statement
};

} // namespace

Module parse(const std::vector<Token> &tokens, DiagnosticEngine &diags) {
  return Parser(tokens, diags).parseModule();
}

} // namespace cellc::dsl
