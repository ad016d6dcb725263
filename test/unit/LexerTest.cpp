#include "dsl/Lexer.h"

#include <gtest/gtest.h>

using namespace cellc::dsl;

namespace {

std::vector<Token> lexText(const std::string &text, unsigned *errors = nullptr) {
  static std::vector<std::unique_ptr<SourceFile>> keep; // tokens point into the file
  keep.push_back(std::make_unique<SourceFile>("t.cell", text));
  DiagnosticEngine diags(*keep.back());
  std::vector<Token> toks = lex(*keep.back(), diags);
  if (errors)
    *errors = diags.errorCount();
  return toks;
}

std::vector<Tok> kinds(const std::vector<Token> &toks) {
  std::vector<Tok> k;
  for (const Token &t : toks)
    k.push_back(t.kind);
  return k;
}

TEST(Lexer, PrimedStateUpdate) {
  auto toks = lexText("h' = tanh(W @ x)\n");
  std::vector<Tok> want = {Tok::Ident,  Tok::Prime,   Tok::Equal, Tok::Ident,
                           Tok::LParen, Tok::Ident,   Tok::At,    Tok::Ident,
                           Tok::RParen, Tok::Newline, Tok::Eof};
  EXPECT_EQ(kinds(toks), want);
  EXPECT_EQ(toks[3].text, "tanh");
}

TEST(Lexer, KeywordsAndNumbers) {
  auto toks = lexText("dim H = 512\nlet a = 1.5e-3 * .5");
  EXPECT_EQ(toks[0].kind, Tok::KwDim);
  EXPECT_EQ(toks[3].kind, Tok::Number);
  EXPECT_DOUBLE_EQ(toks[3].number, 512);
  EXPECT_EQ(toks[5].kind, Tok::KwLet);
  EXPECT_DOUBLE_EQ(toks[8].number, 1.5e-3);
  EXPECT_DOUBLE_EQ(toks[10].number, 0.5);
}

TEST(Lexer, CommentsAreSkipped) {
  auto toks = lexText("# a comment\ninput x[I] // trailing\n");
  EXPECT_EQ(toks[0].kind, Tok::KwInput);
  EXPECT_EQ(toks.size(), 7u); // input x [ I ] NEWLINE EOF
}

TEST(Lexer, NewlinesInsideBracketsContinueTheLine) {
  auto toks = lexText("let a = (b +\n  c)\n");
  int newlines = 0;
  for (const Token &t : toks)
    newlines += t.kind == Tok::Newline;
  EXPECT_EQ(newlines, 1);
}

TEST(Lexer, BadCharacterIsReportedAndSkipped) {
  unsigned errors = 0;
  auto toks = lexText("let a = b $ c\n", &errors);
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(toks[3].text, "b");
  EXPECT_EQ(toks[4].text, "c");
}

TEST(Lexer, ExponentWithoutDigitsIsANameAfterANumber) {
  auto toks = lexText("2e");
  EXPECT_EQ(toks[0].kind, Tok::Number);
  EXPECT_EQ(toks[1].kind, Tok::Ident);
}

} // namespace
