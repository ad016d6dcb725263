// The cellc command line: compile (print any stage), run (the .npy contract) and gen (random
// data for a cell).
#include "compiler/Frontend.h"
#include "compiler/driver/RunCommand.h"

#include <CLI/CLI.hpp>

#include <iostream>

#ifndef CELLC_VERSION
#define CELLC_VERSION "0.0.0"
#endif

using namespace cellc;

namespace {

/// Parses "-D H=512" values into dims; returns false with a message on a malformed one.
bool parseDefines(const std::vector<std::string> &raw, DimValues &out, const char *flag) {
  for (const std::string &d : raw) {
    size_t eq = d.find('=');
    std::string name = d.substr(0, eq), value = eq == std::string::npos ? "" : d.substr(eq + 1);
    char *end = nullptr;
    long long v = value.empty() ? 0 : std::strtoll(value.c_str(), &end, 10);
    if (name.empty() || value.empty() || *end != '\0' || v < 1 || v > (1LL << 40)) {
      std::cerr << "cellc: error: " << flag << " " << d
                << ": expected NAME=VALUE with a positive whole VALUE (e.g. " << flag
                << " H=512)\n";
      return false;
    }
    out[name] = v;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"cellc: a compiler for recurrent-network cells"};
  app.set_version_flag("--version", std::string("cellc ") + CELLC_VERSION);
  app.require_subcommand(1);

  std::string file;
  std::vector<std::string> defines;
  auto addCommon = [&](CLI::App *cmd) {
    cmd->add_option("file", file, "the .cell file")->required();
    cmd->add_option("-D,--define", defines, "fix a dimension at compile time: -D H=512");
  };

  CLI::App *compile = app.add_subcommand("compile", "check a cell and print a stage");
  addCommon(compile);
  std::string emit = "ir";
  bool noOpt = false;
  compile->add_option("--emit", emit, "what to print: tokens, ast, ir, grad")
      ->check(CLI::IsMember({"tokens", "ast", "ir", "grad"}));
  compile->add_flag("--no-opt", noOpt, "print the IR as lowered, before canonicalize and CSE");

  CLI::App *run = app.add_subcommand("run", "run a cell on .npy files");
  addCommon(run);
  driver::RunOptions runOpts;
  run->add_option("--inputs", runOpts.inputDir, "directory with the input .npy files")->required();
  run->add_option("--outputs", runOpts.outputDir, "directory for the output .npy files")
      ->required();
  run->add_flag("--backward", runOpts.backward, "also run BPTT and write the gradients");

  CLI::App *gen = app.add_subcommand("gen", "write random .npy inputs for a cell");
  addCommon(gen);
  driver::GenOptions genOpts;
  std::vector<std::string> genDims;
  gen->add_option("--outputs", genOpts.outputDir, "directory to write to")->required();
  gen->add_option("--T", genOpts.T, "sequence length")->check(CLI::Range(1, 1 << 20));
  gen->add_option("--B", genOpts.B, "batch size")->check(CLI::Range(1, 1 << 20));
  gen->add_option("--dim", genDims, "a dimension's size: --dim H=64");
  gen->add_option("--seed", genOpts.seed, "random seed");
  gen->add_flag("--backward", genOpts.backward, "also write output and final-state gradients");

  CLI11_PARSE(app, argc, argv);

  FrontendOptions opts;
  if (!parseDefines(defines, opts.defines, "-D"))
    return 1;
  if (compile->parsed()) {
    static const std::map<std::string, Stage> stages = {
        {"tokens", Stage::Tokens}, {"ast", Stage::AST}, {"ir", Stage::IR}, {"grad", Stage::Grad}};
    opts.optimize = !noOpt;
    FrontendResult r = runFrontend(file, opts, stages.at(emit), true, std::cout, std::cerr);
    return r.ok ? 0 : 1;
  }
  FrontendResult r = runFrontend(file, opts, Stage::Grad, false, std::cout, std::cerr);
  if (!r.ok)
    return 1;
  if (run->parsed())
    return driver::runCell(*r.compiled, runOpts, std::cout, std::cerr);
  if (!parseDefines(genDims, genOpts.dims, "--dim"))
    return 1;
  for (auto &[d, v] : genOpts.dims) {
    const auto &dims = r.compiled->cell.dims;
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) {
      std::cerr << "cellc gen: error: --dim " << d << ": the cell has no free dimension named '"
                << d << "'\n";
      return 1;
    }
  }
  return driver::generateData(*r.compiled, genOpts, std::cout, std::cerr);
}
