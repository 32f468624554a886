#!/usr/bin/env bash
# SIGTERM / SIGINT parity: run fixtures/sleep.ts (a job running `sleep 30`) on Node, Bun and Deno, send the signal
# once the job runs (after 1 second at the earliest), and check the exit code (130), the summary, and that the `sleep` child is gone.
# Usage: test/runtime/signal.sh [TERM|INT]   (from anywhere; the fixture is copied outside the repository)
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
signal="${1:-TERM}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/test/runtime/fixtures/sleep.ts" "$work/sleep.ts"
failures=0
for runtime in node bun deno; do
  case "$runtime" in
    node) cmd=("$root/node_modules/.bin/node" "$root/src/bin.ts") ;;
    bun) cmd=("$root/node_modules/.bin/bun" "$root/src/bin.ts") ;;
    deno) cmd=("$root/node_modules/.bin/deno" run -A "$root/src/bin.ts") ;;
  esac
  (cd "$work" && exec "${cmd[@]}" sleep.ts --log-format plain >"$work/$runtime.out" 2>&1) &
  pid=$!
  # 1 second, or until the job's `sleep` has started if the runtime is slower than that to get there.
  sleep 1
  child=""
  for _ in $(seq 100); do
    child="$(pgrep -P "$pid" -x sleep || true)"
    if [ -n "$child" ]; then break; fi
    sleep 0.1
  done
  kill -s "$signal" "$pid"
  wait "$pid"
  code=$?
  sleep 0.2
  alive=no
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then alive=yes; fi
  summary="$(grep -c 'interrupted' "$work/$runtime.out")"
  verdict=ok
  if [ "$code" != 130 ] || [ -z "$child" ] || [ "$alive" = yes ] || [ "$summary" = 0 ]; then verdict=FAIL; failures=$((failures + 1)); fi
  echo "$runtime SIG$signal: exit $code, sleep child ${child:-none} alive=$alive, lines mentioning 'interrupted': $summary -> $verdict"
  if [ "$verdict" = FAIL ] || [ -n "${VERBOSE:-}" ]; then sed 's/^/    /' "$work/$runtime.out"; fi
  if [ "$alive" = yes ]; then kill "$child"; fi
done
exit "$failures"
