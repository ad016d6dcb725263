// Calls one compiled library from several threads at once, each caller with its own shape,
// and checks every result bit for bit against the same call made alone beforehand: the ABI
// promises reentrant calls (per-call data in the caller's workspace and reserve, the kernels'
// scratch cache behind a mutex). Run on the example cells by lit
// (test/lit/library/concurrent_calls.test) and under ThreadSanitizer by scripts/sanitize.sh.
//
// usage: cellc_concurrent_calls LIB.so [--callers N] [--rounds R]
#include "cli/LibraryRunner.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>

using namespace cellc;
using cli::Tensors;

namespace {

/// One call: a shape, its inputs, and the outputs of the call made alone.
struct Job {
  std::vector<int64_t> shape;
  Tensors fwdIn, bwdIn, fwdExpected, bwdExpected;
};

/// Job k's sizes: T in 1..4, B in 1..7, each dim in 1..19 (sizes off the vector width), every
/// other job omitting the optional tensors. Values are float32-exact, so that the library's
/// float copies of them are the values themselves.
Job makeJob(const abi::Signature &sig, int k) {
  Job job;
  int64_t T = 1 + k % 4, B = 1 + (3 * k) % 7;
  DimValues dims = sig.fixedDims;
  job.shape = {T, B};
  for (size_t j = 0; j < sig.dims.size(); ++j) {
    int64_t d = 1 + (7 * k + 5 * int64_t(j)) % 19;
    dims[sig.dims[j]] = d;
    job.shape.push_back(d);
  }
  std::mt19937 rng(k);
  std::uniform_real_distribution<float> value(-1, 1);
  auto tensors = [&](abi::Call call, bool written) {
    Tensors t;
    for (const abi::Row *r : sig.select(call, written)) {
      std::vector<double> v(size_t(*sig.elements(*r, T, B, dims)));
      if (!written && r->optional && k % 2)
        v.clear(); // NULL: the default initial state, a zero gradient
      for (double &x : v)
        x = value(rng);
      t.push_back(std::move(v));
    }
    return t;
  };
  job.fwdIn = tensors(abi::Call::Forward, false);
  job.bwdIn = tensors(abi::Call::Backward, false);
  job.fwdExpected = tensors(abi::Call::Forward, true);
  job.bwdExpected = tensors(abi::Call::Backward, true);
  return job;
}

/// Runs a job's forward and backward into `fwd` and `bwd` (sized like the expected outputs).
bool run(cli::CellLibrary &lib, const Job &job, Tensors &fwd, Tensors &bwd, std::string &error) {
  fwd = job.fwdExpected;
  bwd = job.bwdExpected;
  cli::Timing timing;
  return lib.run(job.shape, job.fwdIn, fwd, &job.bwdIn, &bwd, 1, timing, error);
}

bool identical(const Tensors &a, const Tensors &b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() ||
        std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(double)) != 0)
      return false;
  return true;
}

int intOption(int argc, char **argv, const char *name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0)
      return std::atoi(argv[i + 1]);
  return fallback;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LIB.so [--callers N] [--rounds R]\n", argv[0]);
    return 2;
  }
  int callers = intOption(argc, argv, "--callers", 8),
      rounds = intOption(argc, argv, "--rounds", 3);
  std::string error;
  std::unique_ptr<cli::CellLibrary> lib = cli::CellLibrary::open(argv[1], error);
  if (!lib) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  // Alone first: the expected results.
  std::vector<Job> jobs;
  for (int k = 0; k < callers; ++k) {
    jobs.push_back(makeJob(lib->signature(), k));
    Job &job = jobs.back();
    if (!run(*lib, job, job.fwdExpected, job.bwdExpected, error)) {
      std::fprintf(stderr, "error: call %d alone: %s\n", k, error.c_str());
      return 1;
    }
  }
  // Then all at once, `rounds` times each.
  std::vector<int> mismatches(callers, 0), failures(callers, 0);
  std::vector<std::thread> running;
  for (int k = 0; k < callers; ++k)
    running.emplace_back([&, k] {
      for (int r = 0; r < rounds; ++r) {
        Tensors fwd, bwd;
        std::string why;
        if (!run(*lib, jobs[k], fwd, bwd, why))
          ++failures[k];
        else if (!identical(fwd, jobs[k].fwdExpected) || !identical(bwd, jobs[k].bwdExpected))
          ++mismatches[k];
      }
    });
  for (std::thread &t : running)
    t.join();
  int bad = 0;
  for (int k = 0; k < callers; ++k) {
    if (failures[k] || mismatches[k])
      std::printf("thread %d (shape T=%lld B=%lld): %d failed calls, %d results differ\n", k,
                  (long long)jobs[k].shape[0], (long long)jobs[k].shape[1], failures[k],
                  mismatches[k]);
    bad += failures[k] + mismatches[k];
  }
  std::printf("concurrent calls: %d callers x %d rounds of forward + backward, %d shapes: %s\n",
              callers, rounds, callers,
              bad ? "MISMATCH" : "every result bit-identical to the call made alone");
  return bad ? 1 : 0;
}
