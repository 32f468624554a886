#!/usr/bin/env bash
# Output and exit-code parity of the CLI on Node, Bun and Deno. Each case runs on Node first; Bun's and Deno's output
# (stdout and stderr, with clock times, run ids and durations masked) and exit code must equal Node's.
# Usage: test/runtime/parity.sh [task files...]
#   Without arguments: the fixtures in test/runtime/fixtures, both in place and copied to a temporary folder outside the
#   repository, /tmp/scratch/t1.ts when it exists, and error cases. VERBOSE=1 prints every output.
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
export RUNNER_ROOT="$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() { # runtime, args...
  local runtime=$1; shift
  case "$runtime" in
    node) "$root/node_modules/.bin/node" "$root/src/bin.ts" "$@" ;;
    bun) "$root/node_modules/.bin/bun" "$root/src/bin.ts" "$@" ;;
    deno) "$root/node_modules/.bin/deno" run -A "$root/src/bin.ts" "$@" ;;
  esac
}
mask() { sed -E 's/[0-9]{2}:[0-9]{2}:[0-9]{2}/HH:MM:SS/g; s/[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/RUN-ID/g; s/[0-9]+(\.[0-9]+)?(ms|s)\b/D/g; s/  +/ /g'; }

cases=()
if [ $# -gt 0 ]; then
  for file in "$@"; do cases+=("$file --dry-run" "graph $file" "graph $file --format dot" "list $file" "$file --log-format plain"); done
else
  mkdir -p "$work/outside"
  cp "$root/test/runtime/fixtures/identity.ts" "$root/test/runtime/fixtures/identity-helper.ts" "$work/outside/"
  printf 'export const x = Job.make("x", {\n  run: () => 1\n  export const y = 2\n' >"$work/outside/syntax.ts"
  printf 'export const a = 1\n' >"$work/outside/nothing.ts"
  printf 'import { Job } from "effect-runner"\nexport const a = Job.make("a", { timeout: "soon", run: () => undefined as any })\n' >"$work/outside/bad-option.ts"
  for file in "$root/test/runtime/fixtures/identity.ts" "$work/outside/identity.ts" /tmp/scratch/t1.ts; do
    [ -f "$file" ] || continue
    cases+=("$file --dry-run" "graph $file" "graph $file --format dot" "list $file" "$file --log-format plain" "$file probe --log-format json")
  done
  cases+=("$work/outside/identity.ts nope" "$work/outside/missing.ts" "$work/outside/nothing.ts" "$work/outside/bad-option.ts"
    "list $work/outside/syntax.ts" "--version" "--help" "graph" "--bogus")
fi

failures=0
for args in "${cases[@]}"; do
  # shellcheck disable=SC2086
  (cd "$work" && run node $args) >"$work/node.out" 2>&1
  expected=$?
  for runtime in bun deno; do
    # shellcheck disable=SC2086
    (cd "$work" && run "$runtime" $args) >"$work/$runtime.out" 2>&1
    code=$?
    if [ "$code" = "$expected" ] && diff <(mask <"$work/node.out") <(mask <"$work/$runtime.out") >"$work/diff"; then
      verdict=same
    else
      verdict=DIFFERENT
      failures=$((failures + 1))
    fi
    echo "$runtime: $args -> exit $code (node $expected) $verdict"
    if [ "$verdict" != same ]; then sed 's/^/    /' "$work/diff"; fi
  done
  if [ -n "${VERBOSE:-}" ]; then sed 's/^/    | /' "$work/node.out"; fi
done
echo "$failures difference(s)"
exit "$failures"
