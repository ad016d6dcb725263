// fma_peak: the machine's measured float32 FMA peak, printed beside every benchmark so that its
// figures read as a fraction of what the cores can do (and a peer figure above it shows a
// harness that times the wrong thing). Each thread runs independent chains of vector FMAs,
// enough of them to cover the FMA latency on every pipe; built with -march=native so the widest
// vectors of this machine are used.
//
// usage: fma_peak [THREADS...]   (default: 1 and every core). Prints, per thread count,
//   fma peak: N threads, G GFLOP/s (W-lane vectors)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
constexpr int kChains =
    24; // of 32 registers: 2 pipes x 4 cycles latency needs >= 8, more hides jitter
#elif defined(__AVX2__) || defined(__FMA__)
constexpr int kLanes = 8;
constexpr int kChains = 12; // of 16 registers
#else
constexpr int kLanes = 4;
constexpr int kChains = 8;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));

/// Runs `iterations` steps of kChains independent FMA chains; returns a value that depends on
/// all of them, so that none is optimised away.
float chains(long iterations) {
  Vec acc[kChains];
  Vec a, b;
  for (int l = 0; l < kLanes; ++l)
    a[l] = 0.999999f, b[l] = 1e-7f;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      acc[c][l] = float(c + l);
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 32 // every chain in its own register
    for (int c = 0; c < kChains; ++c)
      acc[c] = acc[c] * a + b; // one FMA (-ffp-contract=fast, GCC's default for C++)
    // a and b stay in registers: GCC otherwise reads `a` from the stack in every FMA, and on
    // the Xeon of 2026-12-08 FMAs with a memory operand ran at 139 GFLOP/s where register ones
    // ran at 227 (and dnnl_sgemm at 157), so the "peak" was below what oneDNN reached.
    asm volatile("" : "+v"(a), "+v"(b));
  }
  float sum = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      sum += acc[c][l];
  return sum;
}

/// GFLOP/s of `threads` threads running the chains at once: each thread times its own chains
/// and the round's figure is the sum of their rates; the best of 10 rounds of ~0.2 s. (Timed
/// from outside, one thread descheduled by the VM's host for part of a round halved the
/// 2-thread figure of a whole benchmark run: 215 GFLOP/s in one run, 447-460 in others.)
double peak(int threads) {
  const long iterations = 20'000'000;
  const double flopsPerThread = 2.0 * kLanes * kChains * double(iterations);
  double best = 0;
  for (int round = 0; round < 10; ++round) {
    std::vector<std::thread> pool;
    std::vector<float> sink(threads);
    std::vector<double> seconds(threads);
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        auto t0 = std::chrono::steady_clock::now();
        sink[t] = chains(iterations);
        seconds[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    for (std::thread &t : pool)
      t.join();
    if (sink[0] == 12345.0f)
      std::puts(""); // keeps the sums alive
    double rate = 0;
    for (double s : seconds)
      rate += flopsPerThread / s / 1e9;
    best = std::max(best, rate);
  }
  return best;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i)
    counts.push_back(std::atoi(argv[i]));
  if (counts.empty())
    counts = {1, int(std::thread::hardware_concurrency())};
  for (int threads : counts)
    std::printf("fma peak: %d threads, %.1f GFLOP/s (%d-lane vectors)\n", threads, peak(threads),
                kLanes);
}
