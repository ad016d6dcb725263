#!/usr/bin/env bash
# Long fuzzing runs, beyond what CI runs (scripts/sanitize.sh):
#   scripts/fuzz.sh --cells N [--seed S]        N random cells, each compiled and run forward and
#                                               backward against the interpreter, its gradients
#                                               against finite differences (random_cells.py)
#   scripts/fuzz.sh --target frontend|npy [--seconds N]
#                                               a libFuzzer harness under ASan + UBSan, on the
#                                               corpus under build-asan/fuzz/ (N = 0: until ^C)
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
CELLS="" SEED=1 TARGET="" SECONDS_=0
while [ $# -gt 0 ]; do
  case "$1" in
  --cells) CELLS=$2; shift 2 ;;
  --seed) SEED=$2; shift 2 ;;
  --target) TARGET=$2; shift 2 ;;
  --seconds) SECONDS_=$2; shift 2 ;;
  *) usage ;;
  esac
done
if [ -n "$CELLS" ]; then
  scripts/setup.sh
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
  /usr/bin/python3 test/numeric/random_cells.py build/cellc "$WORK" --cells "$CELLS" \
    --seed "$SEED" --progress 100
  exit
fi
case "$TARGET" in
frontend | npy) ;;
*) usage ;;
esac
exec scripts/sanitize.sh --fuzz-only "$TARGET" --fuzz-seconds "$SECONDS_"
