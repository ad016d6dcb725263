// The cellc command line: compile (print any stage, or build a library), run (the .npy
// contract, on a .cell file or a compiled library) and gen (random data for a cell).
#include "cli/CompileCommand.h"
#include "cli/LibraryRunner.h"
#include "cli/RunCommand.h"
#include "compiler/Compiler.h"
#include "compiler/backend/mlir/MlirEmitter.h"

#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

#include <iostream>
#include <memory>

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

std::string joinDefines(const std::vector<std::string> &raw) {
  std::string s;
  for (const std::string &d : raw)
    s += (s.empty() ? "" : ",") + d;
  return s;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"cellc: a compiler for recurrent-network cells"};
  app.set_version_flag("--version", std::string("cellc ") + CELLC_VERSION);
  app.require_subcommand(1);

  std::string file;
  std::vector<std::string> defines;
  auto addCommon = [&](CLI::App *cmd, const char *what) {
    cmd->add_option("file", file, what)->required();
    cmd->add_option("-D,--define", defines, "fix a dimension at compile time: -D H=512");
  };

  CLI::App *compile =
      app.add_subcommand("compile", "check a cell, print a stage or build a library");
  addCommon(compile, "the .cell file");
  std::string emit, output, target = "host", backendName = "halide";
  bool noOpt = false;
  compile
      ->add_option("--emit", emit,
                   "what to print: tokens, ast, ir, grad, plan, halide, header, mlir")
      ->check(CLI::IsMember({"tokens", "ast", "ir", "grad", "plan", "halide", "header", "mlir"}));
  compile->add_flag("--no-opt", noOpt, "print the IR as lowered, before canonicalize and CSE");
  compile->add_option("-o,--output", output,
                      "write the shared library to this path (name it DIR/lib<name>.so; "
                      "the header <name>.h goes beside it)");
  compile->add_option("--target", target, "Halide target string (default: host)");
  compile
      ->add_option("--backend", backendName,
                   "what lowers the library: halide (default; fast, parallel) or mlir (MLIR 14's "
                   "passes and tools, serial: a second code path that cross-checks halide)")
      ->check(CLI::IsMember({"halide", "mlir"}));

  CLI::App *run = app.add_subcommand("run", "run a cell (.cell or compiled .so) on .npy files");
  addCommon(run, "the .cell file or a library built by cellc compile -o");
  cli::RunOptions runOpts;
  int threads = 0;
  run->add_option("--inputs", runOpts.inputDir, "directory with the input .npy files")->required();
  run->add_option("--outputs", runOpts.outputDir, "directory for the output .npy files")
      ->required();
  run->add_flag("--backward", runOpts.backward, "also run BPTT and write the gradients");
  run->add_option("--threads", threads, "threads for a compiled library (default: all cores)")
      ->check(CLI::Range(1, 1024));
  run->add_option("--repeat", runOpts.repeat, "calls of a compiled library to time (median)")
      ->check(CLI::Range(1, 100000));
  bool packed = false;
  run->add_flag("--packed", packed,
                "a compiled library packs its params once, before the timed forward calls "
                "(<cell>_pack_params), instead of at every call");
  run->add_flag("--float64", runOpts.float64,
                "write float64 .npy files (the reference interpreter's full precision)");
  auto stackOptions = [](CLI::App *cmd, int64_t &layers, bool &bidirectional) {
    cmd->add_option("--layers", layers,
                    "a stack of this many layers (W_ih_l0.npy, W_ih_l1.npy, "
                    "...; states [layers*directions, B, n])")
        ->check(CLI::Range(1, 1024));
    cmd->add_flag("--bidirectional", bidirectional,
                  "both directions (W_ih_l0_reverse.npy, ...; outputs [T, B, 2*n])");
  };
  stackOptions(run, runOpts.layers, runOpts.bidirectional);
  run->add_option("--dropout", runOpts.dropout,
                  "dropout on the input of layers 1.. in a training run (--backward)")
      ->check(CLI::Range(0.0, 0.999999));
  run->add_option("--seed", runOpts.seed, "the dropout masks' seed");

  CLI::App *gen = app.add_subcommand("gen", "write random .npy inputs for a cell");
  addCommon(gen, "the .cell file");
  cli::GenOptions genOpts;
  std::vector<std::string> genDims;
  gen->add_option("--outputs", genOpts.outputDir, "directory to write to")->required();
  gen->add_option("--T", genOpts.T, "sequence length")->check(CLI::Range(1, 1 << 20));
  gen->add_option("--B", genOpts.B, "batch size")->check(CLI::Range(1, 1 << 20));
  gen->add_option("--dim", genDims, "a dimension's size: --dim H=64");
  gen->add_option("--seed", genOpts.seed, "random seed");
  gen->add_flag("--backward", genOpts.backward, "also write output and final-state gradients");
  stackOptions(gen, genOpts.layers, genOpts.bidirectional);
  gen->add_flag("--ragged", genOpts.ragged, "also write lengths.npy, lengths uniform in 1..T");

  auto isCommand = [&](const char *name) {
    return !app.get_subcommands([&](CLI::App *c) { return c->check_name(name); }).empty();
  };
  if (argc > 1 && argv[1][0] != '-' && !isCommand(argv[1])) {
    std::cerr << "cellc: error: unknown command '" << argv[1]
              << "'; the commands are compile, run and gen (see cellc --help)\n";
    return 1;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    // --help and --version arrive here with code 0. A usage error exits 1, as every other
    // error does (CLI11's own codes, 105-109, would tell a script nothing more), and says
    // "error:" like our diagnostics.
    if (e.get_exit_code() == 0)
      return app.exit(e);
    auto used = app.get_subcommands();
    std::cerr << "cellc: error: " << e.what() << "\nRun 'cellc "
              << (used.empty() ? "" : used[0]->get_name() + " ") << "--help' for the options.\n";
    return 1;
  }

  CompileOptions opts;
  std::unique_ptr<cli::CellLibrary> library;
  if (run->parsed() && endsWith(file, ".so")) {
    std::string error;
    library = cli::CellLibrary::open(file, error);
    if (!library) {
      std::cerr << "cellc run: error: " << error << "\n";
      return 1;
    }
    // A library's dims were fixed when it was compiled; -D cannot change them.
    if (!defines.empty()) {
      std::cerr << "cellc run: error: -D applies when compiling; " << file << " was compiled with "
                << (library->defines().empty() ? std::string("no -D") : library->defines())
                << " (recompile it with cellc compile -D ... -o)\n";
      return 1;
    }
  }
  if (!parseDefines(defines, opts.defines, "-D"))
    return 1;
  std::unique_ptr<tbb::global_control> threadLimit;
  if (threads > 0)
    threadLimit = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, size_t(threads));

  // A library is bound through the signature it exports; it needs no front end.
  if (library) {
    library->usePackedParams(packed);
    return cli::runCell(library->signature(), *library, runOpts, std::cout, std::cerr);
  }
  if (packed) {
    std::cerr << "cellc run: error: --packed is for a compiled library; '" << file
              << "' runs on the reference interpreter\n";
    return 1;
  }

  opts.optimize = !(compile->parsed() && noOpt);
  std::string error;
  std::unique_ptr<Compiler> compiler = Compiler::open(file, opts, error);
  if (!compiler) {
    std::cerr << "cellc: error: " << error << "\n";
    return 1;
  }
  if (compile->parsed()) {
    static const std::map<std::string, Stage> stages = {
        {"tokens", Stage::Tokens}, {"ast", Stage::AST},   {"ir", Stage::IR},
        {"grad", Stage::Grad},     {"plan", Stage::Plan}, {"halide", Stage::Plan},
        {"header", Stage::IR},     {"mlir", Stage::Grad}};
    if (emit.empty() && output.empty())
      emit = "ir";
    if (!output.empty() && !emit.empty() && stages.at(emit) < Stage::IR) {
      std::cerr << "cellc compile: error: -o needs the whole pipeline; drop --emit=" << emit
                << "\n";
      return 1;
    }
    Stage stop = emit.empty() || !output.empty() ? Stage::Plan : stages.at(emit);
    // Tokens print even when the source has errors: they show what the lexer saw.
    if (stop == Stage::Tokens) {
      compiler->runTo(Stage::AST);
      compiler->print(Stage::Tokens, std::cout);
    }
    bool ok = compiler->runTo(stop) && !compiler->diagnostics().hasErrors();
    compiler->printDiagnostics(std::cerr);
    if (!ok)
      return 1;
    if (emit == "halide")
      return cli::printHalide(compiler->compiled(), target, std::cout, std::cerr);
    if (emit == "header")
      return cli::printHeader(compiler->compiled(), std::cout);
    if (emit == "mlir") {
      backend::mlir::emitModule(std::cout, compiler->cell(), compiler->grad());
      return 0;
    }
    if (!emit.empty() && stop != Stage::Tokens)
      compiler->print(stages.at(emit), std::cout);
    if (output.empty())
      return 0;
    return cli::compileLibrary(compiler->compiled(),
                               {output, target, backendName, joinDefines(defines)}, std::cout,
                               std::cerr);
  }
  // run and gen: through the gradient, for the interpreter's backward.
  bool ok = compiler->runTo(Stage::Grad);
  compiler->printDiagnostics(std::cerr);
  if (!ok)
    return 1;
  abi::Signature sig = compiler->signature();
  if (run->parsed()) {
    cli::InterpreterRunner interpreter(compiler->cell(), compiler->grad());
    return cli::runCell(sig, interpreter, runOpts, std::cout, std::cerr);
  }
  if (!parseDefines(genDims, genOpts.dims, "--dim"))
    return 1;
  for (auto &[d, v] : genOpts.dims) {
    const auto &dims = compiler->cell().dims;
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) {
      std::cerr << "cellc gen: error: --dim " << d << ": the cell has no free dimension named '"
                << d << "'\n";
      return 1;
    }
  }
  return cli::generateData(sig, genOpts, std::cout, std::cerr);
}
