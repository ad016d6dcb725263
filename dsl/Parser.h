// The parser: syntax only. Names, shapes and meaning are checked by compiler/sema/Sema.
#pragma once

#include "dsl/AST.h"
#include "dsl/Diagnostics.h"
#include "dsl/Lexer.h"

namespace cellc::dsl {

/// Parses a token stream. On a syntax error it reports, skips to the end of the statement
/// and goes on, so one run shows every independent error.
Module parse(const std::vector<Token> &tokens, DiagnosticEngine &diags);

} // namespace cellc::dsl
