// libFuzzer harness for the front end: any bytes as the text of a .cell file, through every
// stage the compile API has (tokens, AST, IR, gradient, plan) and every --emit printer of the
// stages that succeeded. A crash, a sanitizer report or an exception is a bug; a rejected
// input must come with a diagnostic.
//
// Built by scripts/sanitize.sh (clang, -fsanitize=fuzzer,address,undefined); run open-ended
// with scripts/fuzz.sh --target frontend.
#include "compiler/Compiler.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  cellc::Compiler compiler("fuzz.cell", std::move(text));
  compiler.runTo(cellc::Stage::Plan);
  std::ostringstream sink;
  for (cellc::Stage s : {cellc::Stage::Tokens, cellc::Stage::AST, cellc::Stage::IR,
                         cellc::Stage::Grad, cellc::Stage::Plan})
    if (compiler.has(s))
      compiler.print(s, sink);
  if (compiler.failed()) {
    compiler.printDiagnostics(sink);
    if (sink.str().find("error") == std::string::npos) {
      std::fprintf(stderr, "rejected without an error message\n");
      std::abort();
    }
  } else {
    // The text a library would export, and what `cellc run LIB.so` reads back.
    std::string error;
    if (!cellc::abi::parse(cellc::abi::serialize(compiler.signature()), error)) {
      std::fprintf(stderr, "exported signature does not parse: %s\n", error.c_str());
      std::abort();
    }
  }
  return 0;
}
