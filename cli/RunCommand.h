// `cellc run` and `cellc gen`: the .npy file contract of DESIGN.md §6, spelled by the cell's
// signature, around a compiled library or the reference interpreter.
#pragma once

#include "cli/SequenceRunner.h"
#include "compiler/abi/Signature.h"

#include <cstdint>
#include <ostream>
#include <string>

namespace cellc::cli {

struct RunOptions {
  std::string inputDir, outputDir;
  bool backward = false;
  int repeat = 1;       // library runs: calls to time (median printed)
  bool float64 = false; // write float64 files (the interpreter computes in float64)
  // A stack call (also when DIR/lengths.npy exists): layers, both directions, dropout.
  int64_t layers = 1;
  bool bidirectional = false;
  double dropout = 0;
  uint64_t seed = 0;
};

/// Reads the files of the signature's rows (DIR/<input>.npy [T, B, n], optional
/// <state>.init.npy [B, n], <param>.npy, ...), binds the dims from their shapes, runs the
/// sequence (and BPTT with --backward) with `runner`, and writes the rows the calls write
/// (<output>.npy, <state>.final.npy and the gradients). Returns the process exit code.
int runCell(const abi::Signature &sig, SequenceRunner &runner, const RunOptions &opts,
            std::ostream &out, std::ostream &err);

struct GenOptions {
  std::string outputDir;
  int64_t T = 8, B = 2;
  DimValues dims;
  uint64_t seed = 1;
  bool backward = false; // also write grad_<output>.npy and grad_<state>.final.npy
  int64_t layers = 1;    // files of a stack (abi::stacked)
  bool bidirectional = false;
  bool ragged = false; // also write lengths.npy, uniform in 1..T
};

/// Writes random inputs, initial states and params for a cell (the `run` contract's inputs),
/// so a cell can be tried without any other tool.
int generateData(const abi::Signature &sig, const GenOptions &opts, std::ostream &out,
                 std::ostream &err);

} // namespace cellc::cli
