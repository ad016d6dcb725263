#include "dsl/Lexer.h"

#include <cctype>
#include <cstdlib>
#include <unordered_map>

namespace cellc::dsl {

const char *tokName(Tok t) {
  switch (t) {
#define X(name, text)                                                                              \
  case Tok::name:                                                                                  \
    return text;
    CELLC_TOKEN_KINDS(X)
#undef X
  }
  return "token";
}

static Tok keywordOr(const std::string &s) {
  static const std::unordered_map<std::string, Tok> kw = {
      {"cell", Tok::KwCell},    {"dim", Tok::KwDim},     {"input", Tok::KwInput},
      {"state", Tok::KwState},  {"param", Tok::KwParam}, {"let", Tok::KwLet},
      {"output", Tok::KwOutput}};
  auto it = kw.find(s);
  return it == kw.end() ? Tok::Ident : it->second;
}

static bool isIdentStart(char c) { return std::isalpha((unsigned char)c) || c == '_'; }
static bool isIdentChar(char c) { return std::isalnum((unsigned char)c) || c == '_'; }
static bool isDigit(char c) { return std::isdigit((unsigned char)c); }

namespace {
class Lexer {
public:
  Lexer(const SourceFile &f, DiagnosticEngine &d) : src_(f.text()), diags_(d) {}

  std::vector<Token> run() {
    while (pos_ < src_.size())
      lexOne();
    if (!toks_.empty() && toks_.back().kind != Tok::Newline)
      push(Tok::Newline, uint32_t(src_.size()), uint32_t(src_.size()));
    push(Tok::Eof, uint32_t(src_.size()), uint32_t(src_.size()));
    return std::move(toks_);
  }

private:
  void push(Tok k, uint32_t b, uint32_t e, double num = 0) {
    toks_.push_back({k, {b, e}, std::string(src_.substr(b, e - b)), num});
  }

  void skipLine() {
    while (pos_ < src_.size() && src_[pos_] != '\n')
      ++pos_;
  }

  void lexNumber() {
    uint32_t b = pos_;
    while (pos_ < src_.size() && isDigit(src_[pos_]))
      ++pos_;
    if (pos_ < src_.size() && src_[pos_] == '.') {
      ++pos_;
      while (pos_ < src_.size() && isDigit(src_[pos_]))
        ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      uint32_t save = pos_++;
      if (pos_ < src_.size() && (src_[pos_] == '+' || src_[pos_] == '-'))
        ++pos_;
      if (pos_ < src_.size() && isDigit(src_[pos_])) {
        while (pos_ < src_.size() && isDigit(src_[pos_]))
          ++pos_;
      } else {
        pos_ = save; // "2e" is the number 2 followed by the name e
      }
    }
    std::string text(src_.substr(b, pos_ - b));
    double v = std::strtod(text.c_str(), nullptr);
    push(Tok::Number, b, pos_, v);
  }

  void lexOne() {
    char c = src_[pos_];
    if (c == '\n') {
      if (depth_ == 0 && !toks_.empty() && toks_.back().kind != Tok::Newline)
        push(Tok::Newline, pos_, pos_ + 1);
      ++pos_;
      return;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      ++pos_;
      return;
    }
    if (c == '#' || (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/')) {
      skipLine();
      return;
    }
    if (isIdentStart(c)) {
      uint32_t b = pos_;
      while (pos_ < src_.size() && isIdentChar(src_[pos_]))
        ++pos_;
      push(keywordOr(std::string(src_.substr(b, pos_ - b))), b, pos_);
      return;
    }
    if (isDigit(c) || (c == '.' && pos_ + 1 < src_.size() && isDigit(src_[pos_ + 1]))) {
      lexNumber();
      return;
    }
    Tok k;
    switch (c) {
    case '(':
      k = Tok::LParen;
      ++depth_;
      break;
    case ')':
      k = Tok::RParen;
      if (depth_)
        --depth_;
      break;
    case '[':
      k = Tok::LBracket;
      ++depth_;
      break;
    case ']':
      k = Tok::RBracket;
      if (depth_)
        --depth_;
      break;
    case ',':
      k = Tok::Comma;
      break;
    case ':':
      k = Tok::Colon;
      break;
    case ';':
      k = Tok::Semicolon;
      break;
    case '=':
      k = Tok::Equal;
      break;
    case '+':
      k = Tok::Plus;
      break;
    case '-':
      k = Tok::Minus;
      break;
    case '*':
      k = Tok::Star;
      break;
    case '/':
      k = Tok::Slash;
      break;
    case '@':
      k = Tok::At;
      break;
    case '\'':
      k = Tok::Prime;
      break;
    default: {
      // Report a whole UTF-8 sequence once rather than once per byte, and show it as written;
      // show any other byte by its value.
      auto u = static_cast<unsigned char>(c);
      uint32_t b = pos_++;
      unsigned trail = (u & 0xE0) == 0xC0 ? 1 : (u & 0xF0) == 0xE0 ? 2 : (u & 0xF8) == 0xF0 ? 3 : 0;
      while (pos_ < src_.size() && (static_cast<unsigned char>(src_[pos_]) & 0xC0) == 0x80)
        ++pos_;
      std::string shown;
      if (std::isprint(u) || (trail > 0 && pos_ - b == trail + 1)) {
        shown = "character '" + std::string(src_.substr(b, pos_ - b)) + "'";
      } else {
        static const char *hex = "0123456789abcdef";
        shown = std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
      }
      diags_.error({b, pos_}, "unexpected " + shown + " in a cell file");
      return;
    }
    }
    push(k, pos_, pos_ + 1);
    ++pos_;
  }

  std::string_view src_;
  DiagnosticEngine &diags_;
  std::vector<Token> toks_;
  uint32_t pos_ = 0;
  int depth_ = 0;
};
} // namespace

std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags) {
  return Lexer(file, diags).run();
}

} // namespace cellc::dsl
