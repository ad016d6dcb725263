#include "compiler/backend/mlir/MlirLibrary.h"

#include "compiler/backend/LibraryGen.h"
#include "compiler/backend/mlir/MlirEmitter.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef CELLC_RUNTIME_INCLUDE_DIR
#define CELLC_RUNTIME_INCLUDE_DIR "runtime"
#endif

namespace cellc::backend::mlir {

namespace fs = std::filesystem;

const std::vector<std::string> &loweringPasses() {
  // --inline first: the step functions return dynamically sized tensors, which bufferization
  // cannot turn into out-params; inlined, only the sequence functions return memrefs, through
  // their C interface. Deallocation frees every buffer of a step; the results stay the caller's.
  static const std::vector<std::string> passes = {
      "--inline",
      "--linalg-bufferize",
      "--scf-bufferize",
      "--tensor-bufferize",
      "--func-bufferize",
      "--arith-bufferize",
      "--finalizing-bufferize",
      "--buffer-deallocation",
      "--convert-bufferization-to-memref",
      "--convert-linalg-to-loops",
      "--lower-affine",
      "--convert-scf-to-std",
      "--convert-math-to-llvm",
      "--convert-math-to-libm",
      "--convert-arith-to-llvm",
      "--convert-memref-to-llvm",
      "--convert-std-to-llvm",
      "--reconcile-unrealized-casts",
  };
  return passes;
}

namespace {

/// An LLVM 14 tool: `name`-14 on PATH, else in LLVM 14's own bin directory.
std::string findTool(const std::string &name) {
  std::string output;
  if (runCommand("command -v " + name + "-14", output))
    return name + "-14";
  std::string inLlvm = "/usr/lib/llvm-14/bin/" + name;
  return fs::exists(inLlvm) ? inLlvm : "";
}

bool writeFile(const fs::path &p, const std::string &text) {
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o << text;
  return bool(o.flush());
}

std::string quoted(const fs::path &p) { return "'" + p.string() + "'"; }

/// Makes every function the module defines hidden: the library exports the glue's entry points
/// only, not `@<cell>_forward` (which would shadow the header's name) or the step functions.
bool hideDefinitions(const fs::path &ll, std::string &error) {
  std::ifstream in(ll);
  std::string line, text;
  const std::string define = "define ";
  while (std::getline(in, line)) {
    if (line.rfind(define, 0) == 0) {
      // A function with a linkage keyword (internal, private, ...) is local already.
      std::string rest = line.substr(define.size());
      bool local = false;
      for (const char *linkage : {"internal ", "private ", "linkonce", "weak", "available_"})
        local = local || rest.rfind(linkage, 0) == 0;
      if (!local)
        line = define + "hidden " + rest;
    }
    text += line + "\n";
  }
  if (!in.eof() || !writeFile(ll, text)) {
    error = "cannot rewrite " + ll.string();
    return false;
  }
  return true;
}

} // namespace

bool compileModule(const ir::Cell &cell, const ir::Gradient &grad, const std::string &dir,
                   std::string &object, std::string &error) {
  std::ostringstream text;
  emitModule(text, cell, grad);
  // A cell whose loops cannot be carried gets a comment in place of the sequence functions.
  const std::string why = "// no sequence functions: ";
  if (size_t at = text.str().find(why); at != std::string::npos) {
    size_t end = text.str().find('\n', at);
    error = "--backend mlir cannot build cell '" + cell.name +
            "': " + text.str().substr(at + why.size(), end - at - why.size()) +
            "; the Halide backend (the default) can";
    return false;
  }
  const std::string opt = findTool("mlir-opt"), translate = findTool("mlir-translate"),
                    llc = findTool("llc");
  if (opt.empty() || translate.empty() || llc.empty()) {
    error = "--backend mlir needs mlir-opt-14 and mlir-translate-14 (Debian package "
            "mlir-14-tools) and llc-14 (llvm-14); scripts/setup.sh installs them";
    return false;
  }
  fs::path d(dir), mlir = d / "module.mlir", llvmDialect = d / "module.llvm.mlir",
                   ll = d / "module.ll", obj = d / "module.o";
  if (!writeFile(mlir, text.str())) {
    error = "cannot write " + mlir.string();
    return false;
  }
  std::string passes;
  for (const std::string &p : loweringPasses())
    passes += " " + p;
  auto run = [&](const std::string &tool, const std::string &command) {
    std::string output;
    if (runCommand(command, output))
      return true;
    error = tool + " failed on the module of cell '" + cell.name + "' (" + mlir.string() +
            "; CELLC_KEEP=1 keeps it):\n" + output;
    return false;
  };
  if (!run(opt, opt + " " + quoted(mlir) + passes + " -o " + quoted(llvmDialect)) ||
      !run(translate,
           translate + " --mlir-to-llvmir " + quoted(llvmDialect) + " -o " + quoted(ll)) ||
      !hideDefinitions(ll, error) ||
      !run(llc,
           llc + " -O2 -filetype=obj -relocation-model=pic " + quoted(ll) + " -o " + quoted(obj)))
    return false;
  object = obj.string();
  return true;
}

LinkInputs linkInputs() { return {{CELLC_RUNTIME_INCLUDE_DIR}, {"m"}, "cellrt/MlirSequence.h"}; }

} // namespace cellc::backend::mlir
