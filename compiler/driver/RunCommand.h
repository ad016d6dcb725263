// `cellc run` and `cellc gen`: the .npy file contract of DESIGN.md §6 around the reference
// interpreter.
#pragma once

#include "compiler/Frontend.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace cellc::driver {

class CellLibrary;

struct RunOptions {
  std::string inputDir, outputDir;
  bool backward = false;
  const CellLibrary *library = nullptr; // run this compiled library, else the interpreter
  int repeat = 1;                       // library runs: calls to time (median printed)
};

/// Reads DIR/<input>.npy [T, B, n], optional <state>.init.npy [B, n] and <param>.npy, binds
/// the dims from their shapes, runs the cell (and BPTT with --backward), and writes
/// <output>.npy, <state>.final.npy (and the gradients). Returns the process exit code.
int runCell(const CompiledCell &c, const RunOptions &opts, std::ostream &out, std::ostream &err);

struct GenOptions {
  std::string outputDir;
  int64_t T = 8, B = 2;
  DimValues dims;
  uint64_t seed = 1;
  bool backward = false; // also write grad_<output>.npy and grad_<state>.final.npy
};

/// Writes random inputs, initial states and params for a cell (the `run` contract's inputs),
/// so a cell can be tried without any other tool.
int generateData(const CompiledCell &c, const GenOptions &opts, std::ostream &out,
                 std::ostream &err);

} // namespace cellc::driver
