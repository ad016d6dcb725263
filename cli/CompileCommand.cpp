#include "cli/CompileCommand.h"

#include "compiler/backend/Backend.h"
#include "compiler/backend/LibraryGen.h"
#include "compiler/backend/mlir/MlirLibrary.h"

#include <filesystem>
#include <fstream>

namespace cellc::cli {

namespace fs = std::filesystem;

static bool writeText(const fs::path &p, const std::string &text) {
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o << text;
  return bool(o.flush());
}

namespace {

/// What a backend contributes to a library: its objects, the glue's text and what the glue is
/// compiled and linked with.
struct LibraryParts {
  std::vector<std::string> objects;
  std::string glue;
  backend::LinkInputs link;
  std::string summary; // "6 kernels, target host"
};

bool halideParts(const CompiledCell &c, const LibraryOptions &opts, const fs::path &work,
                 LibraryParts &parts, std::string &error) {
  std::unique_ptr<backend::Backend> target = backend::makeBackend(opts.target, error);
  if (!target)
    return false;
  plan::Plan plan = target->layout(c.plan);
  backend::CompiledKernels kernels;
  if (!target->compile(c.cell, c.grad, plan, work.string(), kernels, error))
    return false;
  parts.objects = kernels.objects;
  parts.link = target->linkInputs();
  parts.glue =
      backend::generateGlue(plan, abi::signatureOf(c.cell), opts.defines, parts.link.kernelsHeader);
  parts.summary = std::to_string(c.plan.kernels.size()) + " kernels, target " + opts.target;
  return true;
}

bool mlirParts(const CompiledCell &c, const LibraryOptions &opts, const fs::path &work,
               LibraryParts &parts, std::string &error) {
  if (opts.target != "host") {
    error = "--backend mlir builds for the host only; drop --target " + opts.target;
    return false;
  }
  std::string object;
  if (!backend::mlir::compileModule(c.cell, c.grad, work.string(), object, error))
    return false;
  parts.objects = {object};
  parts.link = backend::mlir::linkInputs();
  parts.glue = backend::mlir::generateGlue(c.cell, c.grad, abi::signatureOf(c.cell), opts.defines);
  parts.summary = "MLIR 14, target host";
  return true;
}

} // namespace

int compileLibrary(const CompiledCell &c, const LibraryOptions &opts, std::ostream &out,
                   std::ostream &err) {
  fs::path lib = fs::absolute(opts.output);
  std::error_code ec;
  fs::create_directories(lib.parent_path(), ec);
  if (ec) {
    err << "cellc compile: error: cannot create '" << lib.parent_path().string()
        << "': " << ec.message() << "\n";
    return 1;
  }
  // Intermediates go to a private directory beside the library, removed afterwards.
  fs::path work = lib.parent_path() / ("." + lib.filename().string() + ".build");
  fs::remove_all(work, ec);
  fs::create_directories(work, ec);

  std::string error;
  LibraryParts parts;
  bool made = opts.backend == "mlir" ? mlirParts(c, opts, work, parts, error)
                                     : halideParts(c, opts, work, parts, error);
  if (!made) {
    err << "cellc compile: error: " << error << "\n";
    return 1;
  }
  fs::path glue = work / (c.cell.name + "_glue.cpp");
  fs::path header = lib.parent_path() / (c.cell.name + ".h");
  fs::path tmpLib = work / lib.filename();
  if (!writeText(glue, parts.glue)) {
    err << "cellc compile: error: cannot write " << glue.string() << "\n";
    return 1;
  }
  backend::LinkRequest link{glue.string(), parts.objects, tmpLib.string(), parts.link.includeDirs,
                            parts.link.libraries};
  if (!backend::linkLibrary(link, error)) {
    err << "cellc compile: error: " << error << "\n";
    return 1;
  }
  // Only a complete build replaces the outputs.
  abi::Signature sig = abi::signatureOf(c.cell);
  if (!writeText(work / header.filename(), backend::generateHeader(sig))) {
    err << "cellc compile: error: cannot write " << header.string() << "\n";
    return 1;
  }
  fs::rename(tmpLib, lib, ec);
  if (!ec)
    fs::rename(work / header.filename(), header, ec);
  if (ec) {
    err << "cellc compile: error: cannot write " << lib.string() << ": " << ec.message() << "\n";
    return 1;
  }
  if (!opts.keepIntermediates && !getenv("CELLC_KEEP"))
    fs::remove_all(work, ec);
  out << "cell " << c.cell.name << ": wrote " << lib.string() << " and " << header.string() << " ("
      << parts.summary << ")\n";
  return 0;
}

int printHalide(const CompiledCell &c, const std::string &target, std::ostream &out,
                std::ostream &err) {
  std::string stmt, error;
  std::unique_ptr<backend::Backend> backend = backend::makeBackend(target, error);
  if (!backend || !backend->lowered(c.cell, c.grad, backend->layout(c.plan), stmt, error)) {
    err << "cellc compile: error: " << error << "\n";
    return 1;
  }
  out << stmt;
  return 0;
}

int printHeader(const CompiledCell &c, std::ostream &out) {
  out << backend::generateHeader(abi::signatureOf(c.cell));
  return 0;
}

} // namespace cellc::cli
