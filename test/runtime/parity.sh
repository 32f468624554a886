#!/usr/bin/env bash
# Output and exit-code parity of the CLI on Node, Bun and Deno. Each case runs on Node first; Bun's and Deno's output
# (stdout and stderr) and exit code must equal Node's, with clock times, run ids and durations masked, and two things
# that come from the JavaScript engine and parser, not the runner: the column of an error location (JavaScriptCore
# and V8 point at different tokens of `throw new Error(...)`) and the parser's wording after "syntax error:".
# Usage: test/runtime/parity.sh [task files...]
#   Without arguments: the fixtures in test/runtime/fixtures, in place, copied to a temporary folder outside the
#   repository, and copied into a temporary project that has an `effect` of its own (the fixture fails to load unless
#   `effect` and `effect-runner` are the runner's own modules), /tmp/scratch/t1.ts when it exists, and error cases.
#   VERBOSE=1 prints every output.
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
mask() {
  sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z/TIMESTAMP/g; s/[0-9]{2}:[0-9]{2}:[0-9]{2}/HH:MM:SS/g;
    s/[0-9]{8}-[0-9]{6}-[0-9a-f]{4}/RUN-ID/g; s/[0-9]+(\.[0-9]+)?(ms|s)\b/D/g; s/"durationMillis":[0-9]+/"durationMillis":D/g;
    s/(\.[cm]?[jt]sx?:[0-9]+):[0-9]+/\1/g; s/(syntax error:).*/\1 .../; s/  +/ /g'
}

cases=()
if [ $# -gt 0 ]; then
  for file in "$@"; do cases+=("$file --dry-run" "graph $file" "graph $file --format dot" "list $file" "$file --log-format plain"); done
else
  mkdir -p "$work/outside"
  cp "$root/test/runtime/fixtures/identity.ts" "$root/test/runtime/fixtures/identity-helper.ts" "$work/outside/"
  printf 'export const x = Job.make("x", {\n  run: () => 1\n  export const y = 2\n' >"$work/outside/syntax.ts"
  printf 'export const a = 1\n' >"$work/outside/nothing.ts"
  printf 'export const a = 1\nthrow new TypeError("no config")\n' >"$work/outside/throws.ts"
  printf 'import { Job } from "effect-runner"\nexport const a = Job.make("a", { timeout: "soon", run: () => undefined as any })\n' >"$work/outside/bad-option.ts"
  # A project of its own with its own (fake) `effect`: the task must still get the runner's copy.
  mkdir -p "$work/project/node_modules/effect"
  cp "$work/outside/identity.ts" "$work/outside/identity-helper.ts" "$work/project/"
  printf '{ "name": "project", "type": "module", "dependencies": { "effect": "4.1.0" } }\n' >"$work/project/package.json"
  printf '{ "name": "effect", "version": "4.1.0", "type": "module", "exports": { ".": "./index.js", "./*": "./%s.js" } }\n' '*' \
    >"$work/project/node_modules/effect/package.json"
  printf 'export const succeed = () => "fake"\n' >"$work/project/node_modules/effect/Effect.js"
  printf 'export * as Effect from "./Effect.js"\nexport const Schema = {}\n' >"$work/project/node_modules/effect/index.js"
  for file in "$root/test/runtime/fixtures/identity.ts" "$work/outside/identity.ts" /tmp/scratch/t1.ts; do
    [ -f "$file" ] || continue
    cases+=("$file --dry-run" "graph $file" "graph $file --format dot" "list $file" "$file --log-format plain" "$file probe --log-format json")
  done
  cases+=("list $work/project/identity.ts" "$work/project/identity.ts --log-format plain")
  cases+=("$work/outside/identity.ts nope" "$work/outside/missing.ts" "$work/outside/nothing.ts" "$work/outside/bad-option.ts"
    "list $work/outside/throws.ts" "list $work/outside/syntax.ts" "--version" "--help" "graph" "--bogus")
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
