#!/usr/bin/env bash
# Sets everything up, then runs every test: GoogleTest units, the lit suites (which include
# the numeric comparisons against PyTorch and the robustness fuzzer) and the C++ example, then
# the sanitizer and fuzzer jobs (scripts/sanitize.sh; CELLC_SKIP_SANITIZERS=1 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD=${CELLC_BUILD_DIR:-build}
ninja -C "$BUILD" --quiet cellc_unit_tests
(cd "$BUILD" && ctest --output-on-failure)
if [ "${CELLC_SKIP_SANITIZERS:-0}" != 1 ]; then
  scripts/sanitize.sh
fi
