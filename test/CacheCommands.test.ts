/**
 * The commands of up-to-date skipping, through the real CLI on a task file in a temporary folder: `--dry-run` says
 * per job "run (why)" or "cached (from run R, age)" without writing, `runner why` sets a job's kept manifest beside
 * today's and names each difference, `runner cache prune` trims kept successes and never the runs.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { withDb } from "./support/db.ts"
import { root, runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-cache-cli-")

/**
 * build (cache: input.txt and MODE; its code imports src/helper.ts, which imports src/util.ts) -> report (cache:
 * true, needs build); plain has no cache.
 */
const project = (): string => {
  const dir = tempDir()
  const files: Record<string, string> = {
    "tasks.ts": [
      `import * as fs from "node:fs"`,
      `import * as Effect from "effect/Effect"`,
      `import * as Schema from "effect/Schema"`,
      `import { Dag, Job } from ${JSON.stringify(path.join(root, "src/index.ts"))}`,
      `import { label } from "./src/helper.ts"`,
      ``,
      `export const build = Job.make("build", {`,
      `  cache: { files: ["input.txt"], env: ["MODE"] },`,
      `  output: Schema.String,`,
      `  run: () => Effect.sync(() => label(fs.readFileSync("input.txt", "utf8").trim()))`,
      `})`,
      `export const report = Job.make("report", { needs: { build }, cache: true, run: ({ build }) => Effect.log("report " + build) })`,
      `export const plain = Job.make("plain", { run: () => Effect.void })`,
      `export default Dag.make("demo", [report, plain])`,
      ``
    ].join("\n"),
    "src/helper.ts": `import { base } from "./util.ts"\nexport const label = (s: string) => base + ":" + s\n`,
    "src/util.ts": `export const base = "v1"\n`,
    "unrelated.ts": `export const nothing = 0\n`,
    "input.txt": "hello\n"
  }
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
    fs.writeFileSync(path.join(dir, name), text)
  }
  return dir
}

const cli = (dir: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  runner(args, { cwd: dir, env: { MODE: "", ...env } })

/** Runs the DAG (or the named jobs); returns the run id. */
const run = (dir: string, args: ReadonlyArray<string> = [], env: Record<string, string> = {}): string => {
  const result = cli(dir, ["tasks.ts", ...args, "--log-format", "plain"], env)
  assert.strictEqual(result.status, 0, result.stderr + result.stdout)
  return /run (\S+) succeeded/.exec(result.stdout)![1]!
}

/** The `→ ...` line --dry-run prints under each job. */
const previewOf = (stdout: string, job: string): string => {
  const match = new RegExp(`^  ${job}\\n(?:      .*\\n)*?      → (.*)$`, "m").exec(stdout)
  assert.isNotNull(match, `no preview of ${job} in:\n${stdout}`)
  return match![1]!
}

const dryRun = (dir: string, env: Record<string, string> = {}, args: ReadonlyArray<string> = []) => {
  const result = cli(dir, ["tasks.ts", "--dry-run", ...args], env)
  assert.strictEqual(result.status, 0, result.stderr + result.stdout)
  return result.stdout
}

const journal = (dir: string) => path.join(dir, ".runner/journal.db")

const entries = (dir: string) =>
  withDb(journal(dir), (db) =>
    db.prepare(`SELECT job_id, run_id, created_at FROM cache_entries ORDER BY created_at`).all() as Array<
      { job_id: string; run_id: string; created_at: number }
    >)

describe("--dry-run with cache", () => {
  it("with no journal: every cached job runs for want of an earlier success; no journal file is created", () => {
    const dir = project()
    const stdout = dryRun(dir)
    assert.match(stdout, /^cache: 0 of 3 jobs would be reused \(no journal at \.runner\/journal\.db yet\)$/m)
    assert.strictEqual(previewOf(stdout, "build"), "run (no earlier success is kept for it)")
    assert.strictEqual(
      previewOf(stdout, "report"),
      "run (needs build, which runs; it is skipped after all if build's output comes out unchanged)"
    )
    assert.strictEqual(previewOf(stdout, "plain"), "run (no cache)")
    assert.isFalse(fs.existsSync(path.join(dir, ".runner")))
    const named = path.join(dir, "elsewhere.db")
    const again = cli(dir, ["tasks.ts", "--dry-run", "--journal", named])
    assert.strictEqual(again.status, 0, again.stderr)
    assert.isFalse(fs.existsSync(named))
  })

  it("after a run: cached from that run; after a file change: the file is named and dependents wait for its output", () => {
    const dir = project()
    const runId = run(dir)
    const hashesBefore = withDb(journal(dir), (db) => db.prepare(`SELECT count(*) AS n FROM file_hashes`).get())
    const stdout = dryRun(dir)
    assert.match(stdout, /^cache: 2 of 3 jobs would be reused \(journal \.runner\/journal\.db\)$/m)
    assert.match(previewOf(stdout, "build"), new RegExp(`^cached \\(from run ${runId}, \\d+s ago\\)$`))
    assert.match(previewOf(stdout, "report"), new RegExp(`^cached \\(from run ${runId}, \\d+s ago\\)$`))
    assert.strictEqual(previewOf(stdout, "plain"), "run (no cache)")

    fs.writeFileSync(path.join(dir, "input.txt"), "changed\n")
    const changed = dryRun(dir)
    assert.strictEqual(previewOf(changed, "build"), "run (file input.txt changed)")
    assert.match(previewOf(changed, "report"), /^run \(needs build, which runs;/)
    // --force is previewed as the run would take it.
    assert.strictEqual(previewOf(dryRun(dir, {}, ["--force"]), "build"), "run (--force: nothing is reused)")
    // Nothing was written: the run's journal holds what the run left.
    assert.lengthOf(entries(dir), 2)
    assert.deepStrictEqual(withDb(journal(dir), (db) => db.prepare(`SELECT count(*) AS n FROM file_hashes`).get()), hashesBefore)
  })

  it("a plan without cache prints as before (no cache lines)", () => {
    const dir = project()
    fs.writeFileSync(
      path.join(dir, "plain.ts"),
      `import * as Effect from "effect/Effect"\nimport { Dag, Job } from ${JSON.stringify(path.join(root, "src/index.ts"))}\n` +
        `export default Dag.make("p", [Job.make("only", { run: () => Effect.void })])\n`
    )
    const result = cli(dir, ["plain.ts", "--dry-run"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.notInclude(result.stdout, "cache")
    assert.notInclude(result.stdout, "→")
  })
})

describe("runner why", () => {
  // One run, asked about three times: as it is, with another env value, and after a helper module changed.
  it("up to date: the next run reuses the run's success, the table shows then and now with short digests; env differs: named, its value never shown; a helper module two imports deep changed: code of src/util.ts changed", () => {
    const dir = project()
    const runId = run(dir)
    const result = cli(dir, ["why", "tasks.ts", "build"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, `up to date: the next run reuses run ${runId}'s success`)
    assert.match(result.stdout, /^kind\s+name\s+then\s+now$/m)
    assert.match(result.stdout, /^module\s+src\/util\.ts\s+([0-9a-f]{12})\s+\1$/m)
    assert.match(result.stdout, /^file\s+input\.txt\s+[0-9a-f]{12}\s+[0-9a-f]{12}$/m)
    assert.notMatch(result.stdout, /[0-9a-f]{13}/, "digests are shortened to 12 characters")
    assert.notInclude(result.stdout, "unrelated.ts")

    // env differs: named, its value never shown.
    const json = cli(dir, ["why", "tasks.ts", "build", "--json"], { MODE: "hunter2-secret" })
    assert.strictEqual(json.status, 0, json.stderr)
    const doc = JSON.parse(json.stdout)
    assert.deepStrictEqual(doc.differences, ["env MODE differs"])
    assert.strictEqual(doc.upToDate, false)
    assert.strictEqual(doc.now.status, "run")
    const env = doc.parts.find((p: { kind: string }) => p.kind === "env")
    assert.strictEqual(env.name, "MODE")
    assert.notStrictEqual(env.then, env.now)
    assert.notInclude(json.stdout, "hunter2")
    const text = cli(dir, ["why", "tasks.ts", "build"], { MODE: "hunter2-secret" })
    assert.include(text.stdout, "env MODE differs")
    assert.notInclude(text.stdout, "hunter2")

    // A helper module two imports deep changed.
    fs.writeFileSync(path.join(dir, "src/util.ts"), `export const base = "v2"\n`)
    const util = cli(dir, ["why", "tasks.ts", "build"])
    assert.strictEqual(util.status, 0, util.stderr)
    assert.match(util.stdout, /^now: {2}run \(code of src\/util\.ts changed\)$/m)
    assert.match(util.stdout, /^differences:\n {2}code of src\/util\.ts changed$/m)
    // report: build would run, so its output is taken from build's newest kept success, and said so.
    const report = cli(dir, ["why", "tasks.ts", "report"])
    assert.strictEqual(report.status, 0, report.stderr)
    assert.match(report.stdout, /need build \(job build\) would run: its output is assumed to be that of its newest kept success/)
    assert.include(report.stdout, "code of src/util.ts changed")
  })

  it("needed output changed: build re-ran alone with another input, report's kept success had the old output", () => {
    const dir = project()
    run(dir)
    fs.writeFileSync(path.join(dir, "input.txt"), "bye\n")
    const second = run(dir, ["build"])
    const result = cli(dir, ["why", "tasks.ts", "report"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^differences:\n {2}needed output of build changed$/m)
    assert.match(result.stdout, /^need\s+build\s+([0-9a-f]{12})\s+(?!\1)[0-9a-f]{12}$/m)
    const stdout = dryRun(dir)
    assert.match(previewOf(stdout, "build"), new RegExp(`^cached \\(from run ${second},`))
    assert.strictEqual(previewOf(stdout, "report"), "run (needed output of build changed)")
  })

  it("a kept success whose manifest is corrupt: said so, today's parts still shown, exit 0", () => {
    const dir = project()
    run(dir)
    withDb(journal(dir), (db) => db.prepare(`UPDATE cache_entries SET manifest = '{' WHERE job_id = 'build'`).run())
    fs.writeFileSync(path.join(dir, "input.txt"), "changed\n")
    const result = cli(dir, ["why", "tasks.ts", "build"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "the kept success's manifest is unreadable: its parts cannot be shown")
    assert.match(result.stdout, /^file\s+input\.txt\s+-\s+[0-9a-f]{12}$/m)
    assert.include(result.stdout, "it runs: its kept success's manifest is unreadable")
  })

  it("an unknown job exits 2 naming the file and the jobs; a job without cache is said so, exit 0", () => {
    const dir = project()
    const unknown = cli(dir, ["why", "tasks.ts", "nope"])
    assert.strictEqual(unknown.status, 2)
    assert.include(unknown.stderr, `tasks.ts: unknown job "nope"; the DAG has: build, report, plain`)
    const plain = cli(dir, ["why", "tasks.ts", "plain"])
    assert.strictEqual(plain.status, 0, plain.stderr)
    assert.include(plain.stdout, "job plain of dag demo (tasks.ts) has no cache")
    // No journal yet: nothing kept, nothing created.
    const none = cli(dir, ["why", "tasks.ts", "build"])
    assert.strictEqual(none.status, 0, none.stderr)
    assert.include(none.stdout, "then: no success of build is kept (no journal at .runner/journal.db)")
    assert.include(none.stdout, "run (no earlier success is kept for it)")
    assert.isFalse(fs.existsSync(path.join(dir, ".runner")))
  })
})

describe("runner cache prune", () => {
  /** Three runs, each with another input: three entries per cached job. */
  const threeRuns = () => {
    const dir = project()
    const runIds = ["one", "two", "three"].map((input) => {
      fs.writeFileSync(path.join(dir, "input.txt"), `${input}\n`)
      return run(dir)
    })
    assert.lengthOf(entries(dir), 6)
    return { dir, runIds }
  }

  it("--keep N keeps the newest N per job; runs are kept", () => {
    const { dir, runIds } = threeRuns()
    const result = cli(dir, ["cache", "prune", "--keep", "1"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "removed 4 cache entries beyond the newest 1 of their job; kept 2")
    const left = entries(dir)
    assert.deepStrictEqual(left.map((e) => [e.job_id, e.run_id]).sort(), [["build", runIds[2]], ["report", runIds[2]]])
    const history = cli(dir, ["history", "--json"])
    assert.strictEqual(history.status, 0, history.stderr)
    assert.sameMembers(JSON.parse(history.stdout).runs.map((r: { runId: string }) => r.runId), runIds)
    // The kept entry is still reused.
    assert.match(previewOf(dryRun(dir), "build"), new RegExp(`^cached \\(from run ${runIds[2]},`))
  })

  it("--older-than (default 30d) removes older entries and the hashes of files that are gone", () => {
    const { dir, runIds } = threeRuns()
    const day = 86_400_000
    withDb(journal(dir), (db) => {
      db.prepare(`UPDATE cache_entries SET created_at = created_at - ? WHERE run_id = ?`).run(40 * day, runIds[0]!)
      db.prepare(`UPDATE cache_entries SET created_at = created_at - ? WHERE run_id = ?`).run(10 * day, runIds[1]!)
      const insert = db.prepare(`INSERT INTO file_hashes (path, size, mtime_ns, ino, sha256) VALUES (?, 1, '1', '1', 'x')`)
      insert.run(path.join(dir, "gone.txt"))
      insert.run(path.join(dir, "tasks.ts"))
    })
    const byDefault = cli(dir, ["cache", "prune", "--json"])
    assert.strictEqual(byDefault.status, 0, byDefault.stderr)
    const doc = JSON.parse(byDefault.stdout)
    assert.strictEqual(doc.olderThan, "30d")
    assert.strictEqual(doc.removed, 2)
    assert.strictEqual(doc.kept, 4)
    assert.strictEqual(doc.fileHashesRemoved, 1)
    assert.notInclude(entries(dir).map((e) => e.run_id), runIds[0])
    // The hashes of files still there are kept (input.txt's is there or not: a file is memoized only once it was
    // modified more than two seconds before a run hashed it, which depends on how fast the runs went).
    const paths = withDb(journal(dir), (db) => db.prepare(`SELECT path FROM file_hashes`).all() as Array<{ path: string }>)
      .map((p) => p.path)
    assert.include(paths, path.join(dir, "tasks.ts"))
    assert.notInclude(paths, path.join(dir, "gone.txt"))
    for (const file of paths) assert.isTrue(fs.existsSync(file), file)

    const week = cli(dir, ["cache", "prune", "--older-than", "7d"])
    assert.strictEqual(week.status, 0, week.stderr)
    assert.match(week.stdout, /^removed 2 cache entries created more than 7d ago \(before .+\); kept 2$/m)
    assert.deepStrictEqual([...new Set(entries(dir).map((e) => e.run_id))], [runIds[2]])
    const history = JSON.parse(cli(dir, ["history", "--json"]).stdout)
    assert.lengthOf(history.runs, 3)
  })

  it("bad options and a missing journal exit 2; nothing is created", () => {
    const dir = project()
    const bad = cli(dir, ["cache", "prune", "--older-than", "soon"])
    assert.strictEqual(bad.status, 2)
    assert.include(bad.stderr, `--older-than: invalid duration "soon"`)
    const negative = cli(dir, ["cache", "prune", "--keep", "-1"])
    assert.strictEqual(negative.status, 2)
    const missing = cli(dir, ["cache", "prune"])
    assert.strictEqual(missing.status, 2)
    assert.include(missing.stderr, "no journal at .runner/journal.db")
    assert.isFalse(fs.existsSync(path.join(dir, ".runner")))
  })
})
