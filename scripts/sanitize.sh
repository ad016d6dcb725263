#!/usr/bin/env bash
# The sanitizer and fuzzer jobs (scripts/test.sh runs them, so CI does), each build in its own
# directory beside build/:
#   build-asan/  clang 14, AddressSanitizer + UndefinedBehaviorSanitizer (+ libFuzzer coverage):
#                the unit tests, the lit robustness, diagnostics, driver, library and stack
#                suites, three numeric tests, a shorter front-end/.npy robustness fuzz run, and each libFuzzer
#                harness for --fuzz-seconds (default 60) from a corpus seeded with the examples.
#   build-tsan/  g++, ThreadSanitizer: a library called from 8 threads at once
#                (test/concurrency/ConcurrentCalls.cpp), its glue and executor instrumented too
#                and its parallel loops serial (CELLRT_SERIAL: runtime/cellrt/HalideKernels.h).
# usage: scripts/sanitize.sh [--fuzz-seconds N] [--build-only] [--fuzz-only frontend|npy]
# --fuzz-only runs one harness alone, showing libFuzzer's output (scripts/fuzz.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=60 BUILD_ONLY=0 FUZZ_ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
  --fuzz-seconds) FUZZ_SECONDS=$2; shift 2 ;;
  --build-only) BUILD_ONLY=1; shift ;;
  --fuzz-only) FUZZ_ONLY=$2; shift 2 ;;
  *) sed -n '11,12p' "$0" | sed 's/^# //' >&2; exit 2 ;;
  esac
done

scripts/setup.sh clang-14 libclang-rt-14-dev # the main build too: its cellc builds the TSan libs

# A report stops the program (abort_on_error: a signal, which the robustness scripts count as a
# crash). ASan maps terabytes of shadow memory, so the scripts that bound cellc's address space
# to 1 GiB (RLIMIT_AS) bound its allocations to 1 GiB here instead. Leak checking stays on.
export ASAN_OPTIONS=abort_on_error=1:max_allocation_size_mb=1024:allocator_may_return_null=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1

configure() { # DIR CC CXX SANITIZER [CMAKE ARGS...]
  local dir=$1 cc=$2 cxx=$3 sanitizer=$4
  shift 4
  if [ ! -f "$dir/build.ninja" ]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_CXX_COMPILER="$cxx" -DCELLC_SANITIZER="$sanitizer" "$@" >/dev/null
  fi
}
configure build-asan clang-14 clang++-14 address -DCELLC_FUZZERS=ON
ninja -C build-asan --quiet cellc cellc_unit_tests cellc_concurrent_calls cellc_fuzz_frontend \
  cellc_fuzz_npy
configure build-tsan gcc g++ thread
ninja -C build-tsan --quiet cellc_concurrent_calls
[ "$BUILD_ONLY" = 1 ] && exit 0

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
step() { echo "sanitize: $*"; }

# libFuzzer on a persistent corpus under build-asan/fuzz/, seeded from the examples (and a valid
# .npy of every layout plus the robustness suite's broken ones), grown by every run.
seed_corpus() { # TARGET DIR
  [ -n "$(ls -A "$2")" ] && return
  if [ "$1" = frontend ]; then
    cp examples/*.cell "$2/"
    return
  fi
  build/cellc gen examples/lstm.cell --outputs "$OUT/npy" --T 2 --B 3 --dim I=4 --dim H=5 \
    --backward >/dev/null
  cp "$OUT"/npy/*.npy "$2/"
  for f in test/lit/robustness/Inputs/npy_*/*.npy; do
    cp "$f" "$2/$(basename "$(dirname "$f")")_$(basename "$f")"
  done
}
fuzz() { # TARGET SECONDS QUIET
  local corpus=build-asan/fuzz/corpus-$1 crashes=build-asan/fuzz/crashes-$1/
  mkdir -p "$corpus" "$crashes"
  seed_corpus "$1" "$corpus"
  local args=("$corpus" -max_total_time="$2" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10
    -max_len=8192 -artifact_prefix="$crashes" -print_final_stats=1)
  [ "$1" = frontend ] && args+=(-dict=test/fuzz/cell.dict)
  local status=0
  if [ "$3" = quiet ]; then
    build-asan/test/fuzz/cellc_fuzz_$1 "${args[@]}" >"$OUT/fuzz.log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$OUT/fuzz.log" || true
  else
    build-asan/test/fuzz/cellc_fuzz_$1 "${args[@]}" || status=$?
  fi
  echo "corpus: $(ls "$corpus" | wc -l) inputs"
  if [ "$status" != 0 ]; then
    [ "$3" = quiet ] && tail -60 "$OUT/fuzz.log"
    echo "sanitize: libFuzzer $1 failed (exit $status); the input is under $crashes" >&2
    return 1
  fi
}
if [ -n "$FUZZ_ONLY" ]; then
  fuzz "$FUZZ_ONLY" "$FUZZ_SECONDS" verbose
  exit
fi

LIT="/usr/bin/python3 /usr/lib/llvm-14/build/utils/lit/lit.py"
step "ASan+UBSan: unit tests"
build-asan/test/cellc_unit_tests --gtest_brief=1 >/dev/null

step "ASan+UBSan: lit robustness, diagnostics, driver, library, stack and three numeric tests"
$LIT -q build-asan/test/lit/robustness build-asan/test/lit/diagnostics build-asan/test/lit/driver \
  build-asan/test/lit/library build-asan/test/lit/stack \
  build-asan/test/lit/numeric/torch_rnn_lstm_gru.test build-asan/test/lit/numeric/edge_values.test \
  build-asan/test/lit/numeric/torch_stacks.test

step "ASan+UBSan: front-end and .npy robustness fuzzing (2000 + 200 cases)"
/usr/bin/python3 test/numeric/fuzz_frontend.py build-asan/cellc examples 2000 777 --npy-count 200 \
  --memory-limit 0 --timeout 20 --out "$OUT/robustness" | tail -1

for target in frontend npy; do
  step "ASan+UBSan: libFuzzer $target for ${FUZZ_SECONDS}s"
  fuzz "$target" "$FUZZ_SECONDS" quiet
done

step "TSan: 8 threads calling one library at once"
for cell in lstm layernorm_lstm; do
  CELLC_GLUE_CXXFLAGS="-fsanitize=thread -g -DCELLRT_SERIAL" build/cellc compile \
    "examples/$cell.cell" -o "$OUT/tsan/lib$cell.so" >/dev/null
  build-tsan/test/concurrency/cellc_concurrent_calls "$OUT/tsan/lib$cell.so" --callers 8 --rounds 3
done
step "all clean"
