// `cellc compile FILE.cell -o DIR/lib<name>.so`: kernels, glue, header, link.
#pragma once

#include "compiler/Compiler.h"

#include <ostream>
#include <string>

namespace cellc::cli {

struct LibraryOptions {
  std::string output;             // the .so to write; the header goes beside it as <name>.h
  std::string target = "host";    // Halide target string
  std::string backend = "halide"; // or "mlir" (compiler/backend/mlir/MlirLibrary.h)
  std::string defines;            // "H=512,I=256": embedded, for cellc run's -D message
  bool keepIntermediates = false;
};

int compileLibrary(const CompiledCell &c, const LibraryOptions &opts, std::ostream &out,
                   std::ostream &err);

/// --emit=halide: Halide's lowered statement of every kernel.
int printHalide(const CompiledCell &c, const std::string &target, std::ostream &out,
                std::ostream &err);

/// --emit=header: the C header a library of this cell comes with.
int printHeader(const CompiledCell &c, std::ostream &out);

} // namespace cellc::cli
