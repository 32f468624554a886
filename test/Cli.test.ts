/** The real `runner` spawned as a user would: exit codes, messages, output formats and signals. */
import { assert, describe, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { runnerInProcess } from "./support/inProcess.ts"
import { isAlive, runner, runnerAsync, waitUntil } from "./support/spawn.ts"

const fixture = (name: string) => `test/fixtures/${name}.ts`

describe("runner CLI: bad input exits 2 with a message naming the file, before any job runs", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
    ["a missing file", ["tasks/does-not-exist.ts"], /^runner: tasks\/does-not-exist\.ts: no such task file$/m],
    ["a syntax error, with file:line", [fixture("syntax-error")], /^runner: test\/fixtures\/syntax-error\.ts:4: syntax error: /m],
    ["a module that throws while loading", [fixture("module-throws")], /^runner: test\/fixtures\/module-throws\.ts:1:\d+: failed to load: SyntaxError/m],
    ["an import that does not resolve", [fixture("missing-import")], /^runner: test\/fixtures\/missing-import\.ts: failed to load: Error: Cannot find module .*nowhere/m],
    ["a file exporting no Dag and no jobs", [fixture("no-exports")], /^runner: test\/fixtures\/no-exports\.ts: exports no Dag .* and no jobs/m],
    [
      "duplicate job ids, with both places",
      [fixture("duplicate")],
      /^runner: test\/fixtures\/duplicate\.ts: job id "load" is defined twice: at test\/fixtures\/duplicate\.ts:4:\d+ and at test\/fixtures\/duplicate\.ts:5:\d+$/m
    ],
    [
      "duplicate job ids made by one helper, told apart by their callers",
      [fixture("dup-helper")],
      /defined twice: at test\/fixtures\/dup-helper\.ts:2:\d+ via test\/fixtures\/dup-helper\.ts:3:(\d+) and at test\/fixtures\/dup-helper\.ts:2:\d+ via test\/fixtures\/dup-helper\.ts:3:(?!\1)\d+$/m
    ],
    ["a cycle, with its path", [fixture("cycle")], /^runner: test\/fixtures\/cycle\.ts: jobs depend on each other in a cycle: b -> a -> b$/m],
    ["needs that are not a job of the DAG", [fixture("missing-need")], /^runner: test\/fixtures\/missing-need\.ts: job "transform" needs "extract", which is not a job \(found undefined\)/m],
    ["an unknown job on the command line", [fixture("ok"), "nope"], /^runner: test\/fixtures\/ok\.ts: unknown job "nope"; the DAG has: a, b, c$/m],
    ["a bad duration in a job", [fixture("bad-duration")], /^runner: test\/fixtures\/bad-duration\.ts:4:\d+: job "slow" timeout: invalid duration "5 bananas"/m],
    ["--concurrency abc", [fixture("ok"), "--concurrency", "abc"], /Invalid value for flag --concurrency: "abc"/]
  ]
  it.each(cases)("%s", (_, args, message) => {
    const result = runner(args)
    assert.strictEqual(result.status, 2, result.stderr + result.stdout)
    assert.match(result.stderr, message)
    assert.notMatch(result.stdout, /started/, "no job ran")
  })

  // The other bad flag values through the CLI's `main` in this process: the same parsing, messages and exit code, a
  // runtime's start-up less per case (--concurrency abc above is the spawned one).
  const flags: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
    ["--concurrency 0", [fixture("ok"), "--concurrency", "0"], /--concurrency: must be a whole number >= 1, got 0/],
    ["--concurrency -3", [fixture("ok"), "--concurrency", "-3"], /--concurrency: must be a whole number >= 1, got -3/],
    ["an unknown --failure-mode", [fixture("ok"), "--failure-mode", "maybe"], /Invalid value for flag --failure-mode: "maybe"/],
    ["an unknown --log-format", [fixture("ok"), "--log-format", "xml"], /Invalid value for flag --log-format: "xml"/]
  ]
  it.each(flags)("%s (in process)", async (_, args, message) => {
    const result = await runnerInProcess(args)
    assert.strictEqual(result.status, 2, result.stderr + result.stdout)
    assert.match(result.stderr, message)
    assert.notMatch(result.stdout, /started/, "no job ran")
  })
})

describe("runner CLI: where a duplicate job was defined, on each runtime", () => {
  // A hand-written file names both places; a generated DAG past the first 1,000 jobs defined at once, where call sites
  // are no longer recorded, names the recorded one and says the other was not.
  const generated = [
    `import * as Effect from "effect/Effect"`,
    `import { Dag, Job } from "effect-runner"`,
    ``,
    `const parts = Array.from({ length: 1500 }, (_, i) => Job.make(\`part \${i} — ☃\`, { run: () => Effect.void }))`,
    `const again = Job.make("part 7 — ☃", { run: () => Effect.void })`,
    `export default Dag.make("generated", [...parts, again])`
  ].join("\n")
  it.each(["node", "bun", "deno"] as const)("%s", (runtime) => {
    const dup = runner([fixture("duplicate")], { runtime })
    assert.strictEqual(dup.status, 2, dup.stderr)
    assert.match(dup.stderr, /^runner: test\/fixtures\/duplicate\.ts: job id "load" is defined twice: at test\/fixtures\/duplicate\.ts:4:\d+ and at test\/fixtures\/duplicate\.ts:5:\d+$/m)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-dup-"))
    try {
      fs.writeFileSync(path.join(dir, "tasks.ts"), generated)
      const result = runner(["tasks.ts", "--journal", "journal.db"], { runtime, cwd: dir })
      assert.strictEqual(result.status, 2, result.stderr)
      assert.match(
        result.stderr,
        /^runner: tasks\.ts: job id "part 7 — ☃" is defined twice: at tasks\.ts:4:\d+ and at a place not recorded \(only the first 1000 jobs defined at once record theirs\)$/m
      )
      assert.notMatch(result.stdout, /started/, "no job ran")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("runner CLI: runs", () => {
  it("exits 0 when every critical job succeeds; plain output has no escape codes", () => {
    const result = runner([fixture("ok"), "--log-format", "plain"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /\[b\] b got 1/)
    assert.match(result.stdout, /^a\s+succeeded\s+1\s+\S+\s+-$/m)
    assert.match(result.stdout, /run \S+ succeeded in/)
    assert.notInclude(result.stdout, "\x1b[")
  })

  it("plain is the default when stdout is not a terminal", () => {
    const result = runner([fixture("ok")])
    assert.strictEqual(result.status, 0)
    assert.notInclude(result.stdout, "\x1b[")
  })

  it("a file without a default Dag runs its exported jobs as a Dag named after the file", () => {
    const result = runner([fixture("jobs-only"), "--dry-run"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^dag jobs-only: 2 jobs in 2 levels/m)
  })

  it("exits 1 when a critical job fails, and the summary says which and why", () => {
    const result = runner([fixture("fails")])
    assert.strictEqual(result.status, 1, result.stderr)
    assert.match(result.stdout, /run \S+ failed in \S+: critical job "broken" failed/)
    assert.match(result.stdout, /broken: ShellExitError: sh -c .* exited with code 4/)
    assert.match(result.stdout, /disk full/)
    assert.match(result.stdout, /downstream\s+skipped\s+0\s+\S+\s+-\s+needs "optional", which failed/)
  })

  it("exits 0 when only a non-critical job failed; its dependents are skipped with the reason", () => {
    const result = runner([fixture("optional-fails")])
    assert.strictEqual(result.status, 0, result.stdout)
    assert.match(result.stdout, /downstream \S+ skipped: needs "optional", which failed/)
  })

  it("a job's thrown exception is a defect reported with its stack, not a crash of the runner", () => {
    const result = runner([fixture("throws")])
    assert.strictEqual(result.status, 1)
    assert.match(result.stdout, /Error: unexpected token in record 17\n\s+at parseRecord \(.*test\/fixtures\/throws\.ts:5:\d+\)/)
    assert.match(result.stdout, /after\s+skipped/)
  })

  it("runs only the named jobs and what they need", () => {
    const result = runner([fixture("ok"), "b", "--log-format", "plain"])
    assert.strictEqual(result.status, 0)
    assert.match(result.stdout, /^b\s+succeeded/m)
    assert.notMatch(result.stdout, /^c\s+/m)
  })

  it("--log-format json writes one JSON object per line with the documented fields", () => {
    const result = runner([fixture("ok"), "--log-format", "json"])
    assert.strictEqual(result.status, 0)
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line))
    for (const line of lines) {
      for (const key of ["ts", "level", "dag", "runId", "event", "message"]) assert.property(line, key)
      assert.strictEqual(line.dag, "ok")
    }
    const log = lines.find((l) => l.event === "Log")
    assert.deepInclude(log, { jobId: "b", attempt: 1, message: "b got 1", level: "info" })
    assert.strictEqual(lines.at(-1).event, "RunFinished")
    assert.strictEqual(lines.at(-1).status, "succeeded")
  })

  it("--log-level hides job logs below the level", () => {
    assert.match(runner([fixture("ok"), "--log-level", "info"]).stdout, /\[b\] b got 1/)
    const quiet = runner([fixture("ok"), "--log-level", "warn"])
    assert.strictEqual(quiet.status, 0)
    assert.notMatch(quiet.stdout, /b got 1/)
    assert.match(quiet.stdout, /run \S+ succeeded/)
  })

  it("--dry-run prints levels, order, retries, timeouts and resources, and runs nothing", () => {
    const result = runner([fixture("ok"), "--dry-run", "--concurrency", "3"])
    assert.strictEqual(result.status, 0)
    assert.strictEqual(
      result.stdout,
      [
        "dag ok: 3 jobs in 2 levels, concurrency 3, failure mode no-new",
        "level 0:",
        "  a — first",
        "      no retry",
        "level 1:",
        "  b",
        "      needs a; no retry",
        "  c",
        "      needs a; 2 retries, backoff 1s x2; timeout 30s per attempt",
        ""
      ].join("\n")
    )
  })

  it("graph prints mermaid by default and dot on request; list shows descriptions and needs", () => {
    const mermaid = runner(["graph", fixture("ok")])
    assert.strictEqual(mermaid.stdout, 'flowchart LR\n  j0["a"]\n  j1["b"]\n  j2["c"]\n  j0 --> j1\n  j0 --> j2\n')
    const dot = runner(["graph", fixture("ok"), "--format", "dot"])
    assert.match(dot.stdout, /^digraph "ok" \{\n  rankdir=LR;\n  j0 \[label="a"\];/)
    assert.include(dot.stdout, "  j0 -> j2;\n}")
    const list = runner(["list", fixture("ok")])
    assert.strictEqual(list.stdout, "ok: 3 jobs\na  first\nb  (needs a)\nc  (needs a)\n")
    assert.strictEqual(runner(["graph", "missing.ts"]).status, 2)
  })

  it("--version and --help", () => {
    const version = runner(["--version"])
    assert.strictEqual(version.status, 0)
    assert.match(version.stdout, /^runner v\d+\.\d+\.\d+/)
    const help = runner(["run", "--help"])
    assert.strictEqual(help.status, 0)
    for (const flag of ["--concurrency", "--failure-mode", "--dry-run", "--log-format", "--log-level"]) {
      assert.include(help.stdout, flag)
    }
  })
})

describe("runner CLI: signals", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} interrupts running jobs, kills their processes, prints the summary and exits 130`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-signal-"))
      const pids = path.join(dir, "pids")
      const child = runnerAsync([fixture("sleeper")], { PIDS_FILE: pids })
      await waitUntil(() => fs.existsSync(pids) && fs.readFileSync(pids, "utf8").trim().split("\n").length === 6)
      const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number)
      child.process.kill(signal)
      const { status, stdout } = await child.done
      assert.strictEqual(status, 130, stdout)
      assert.match(stdout, /run \S+ was interrupted after/)
      assert.match(stdout, /sleeper1\s+interrupted/)
      await waitUntil(() => started.every((pid) => !isAlive(pid)))
    })
  }
})

