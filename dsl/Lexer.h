// The lexer turns a .cell file into tokens. Newlines are tokens (statements end at a line
// break) except inside brackets, where a formula may continue over several lines.
#pragma once

#include "dsl/Diagnostics.h"

#include <string>
#include <vector>

namespace cellc::dsl {

#define CELLC_TOKEN_KINDS(X)                                                                       \
  X(Ident, "identifier")                                                                           \
  X(Number, "number")                                                                              \
  X(KwCell, "'cell'")                                                                              \
  X(KwDim, "'dim'")                                                                                \
  X(KwInput, "'input'")                                                                            \
  X(KwState, "'state'")                                                                            \
  X(KwParam, "'param'")                                                                            \
  X(KwLet, "'let'")                                                                                \
  X(KwOutput, "'output'")                                                                          \
  X(LParen, "'('")                                                                                 \
  X(RParen, "')'")                                                                                 \
  X(LBracket, "'['")                                                                               \
  X(RBracket, "']'")                                                                               \
  X(Comma, "','")                                                                                  \
  X(Colon, "':'")                                                                                  \
  X(Semicolon, "';'")                                                                              \
  X(Equal, "'='")                                                                                  \
  X(Plus, "'+'")                                                                                   \
  X(Minus, "'-'")                                                                                  \
  X(Star, "'*'")                                                                                   \
  X(Slash, "'/'")                                                                                  \
  X(At, "'@'")                                                                                     \
  X(Prime, "'''")                                                                                  \
  X(Newline, "end of line")                                                                        \
  X(Eof, "end of file")

enum class Tok {
#define X(name, text) name,
  CELLC_TOKEN_KINDS(X)
#undef X
};

const char *tokName(Tok t);

struct Token {
  Tok kind;
  Range range;
  std::string text;  // the spelling (identifiers, numbers)
  double number = 0; // value of a Number
};

/// Lexes the whole file. Bad characters are reported and skipped, so the parser still sees
/// the rest of the file.
std::vector<Token> lex(const SourceFile &file, DiagnosticEngine &diags);

} // namespace cellc::dsl
