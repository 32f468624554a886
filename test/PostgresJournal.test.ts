/**
 * What is PostgreSQL's own in the journal: its migrations (from empty and from each earlier version), the password
 * never shown, the client loaded only when needed, and the CLI end to end (runs, --resume, --key, kill -9 and resume).
 * The backend-neutral journal tests run on both backends in Journal.test.ts and JournalWriter.test.ts; doctor,
 * backfill and ui on PostgreSQL are in PostgresCommands.test.ts. Needs a PostgreSQL server (test/support/postgres.ts):
 * skipped with one line without one, unless CI is set.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Schema from "effect/Schema"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Resume from "../src/internal/Resume.ts"
import * as Dialect from "../src/internal/sql/Dialect.ts"
import * as migrations from "../src/internal/sql/migrations.ts"
import * as pgMigrations from "../src/internal/sql/pgMigrations.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import * as Job from "../src/Job.ts"
import { setEnv } from "./support/env.ts"
import { databases, psql, requirePostgres } from "./support/postgres.ts"
import { type Collected, collectingReporter } from "./support/run.ts"
import { isAlive, runner, runnerAsync, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-pg-")

const request = (dag: string, target: Journal.Target): Journal.BeginRequest => ({
  dag,
  target,
  definitionHash: "h",
  trigger: "test",
  runnerVersion: "test",
  wait: false
})

/** Begins (or resumes) a run of `dag` on the journal in context and executes it, as the CLI does. */
const execute = (
  dag: Dag.Dag,
  target: Journal.Target,
  options: { readonly failureMode?: "no-new" | "continue"; readonly collected?: Collected } = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const plan = yield* Plan.plan(dag)
    const begun = yield* journal.begin(request(dag.name, target))
    if (begun._tag !== "Run") return { begun, result: undefined }
    const decision = begun.resumed
      ? yield* Effect.flatMap(journal.succeeded(begun.runId), (rows) => Resume.decide(plan, Resume.definitionHashes(plan), rows))
      : { restored: new Map<string, Resume.Restored>(), notes: [] }
    const result = yield* Executor.run(plan, {
      runId: begun.runId,
      concurrency: 4,
      failureMode: options.failureMode ?? "no-new",
      restored: decision.restored,
      resumed: begun.resumed
    }).pipe(Effect.provide(Layer.mergeAll(
      NodeServices.layer,
      FetchHttpClient.layer,
      collectingReporter(options.collected ?? { events: [], logs: [] })
    )))
    return { begun, result }
  }))

const resumeDag = (fail: { value: boolean }, ran: Array<string>) => {
  const first = Job.make("first", {
    output: Schema.Struct({ n: Schema.Number }),
    run: () => Effect.sync(() => (ran.push("first"), { n: 1 }))
  })
  const steps = Job.make("steps", {
    needs: { first },
    run: ({ first }) =>
      Effect.forEach([1, 2, 3], (i) =>
        Checkpoint.step(`s${i}`, Effect.suspend(() => {
          if (fail.value && i === 3) return Effect.fail("step 3 broke")
          ran.push(`step${i}`)
          return Effect.succeed(first.n * 10 + i)
        })))
  })
  const last = Job.make("last", { needs: { steps }, run: ({ steps }) => Effect.sync(() => (ran.push("last"), steps)) })
  return Dag.make("resume-test", [last])
}

/** A preload that appends every module specifier naming @effect/sql-pg, as resolved, to $SQL_PG_LOG. */
const loadTracer = (dir: string) => {
  const hook = path.join(dir, "trace-sql-pg.mjs")
  fs.writeFileSync(hook, `import { registerHooks } from "node:module"
import { appendFileSync } from "node:fs"
registerHooks({ resolve(specifier, context, next) {
  if (specifier.includes("@effect/sql-pg")) appendFileSync(process.env.SQL_PG_LOG, specifier + "\\n")
  return next(specifier, context)
} })
`)
  return hook
}

describe("@effect/sql-pg is loaded lazily", () => {
  it("a run on a SQLite journal never loads it", () => {
    const dir = tempDir()
    const log = path.join(dir, "loaded.log")
    const result = runner(["test/fixtures/pg-flaky.ts", "--journal", path.join(dir, "journal.db")], {
      env: { NODE_OPTIONS: `--import ${loadTracer(dir)}`, SQL_PG_LOG: log }
    })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.isFalse(fs.existsSync(log), fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "")
  })

  it.skipIf(pg.skip)("a run on a postgres:// journal loads it (the tracer sees it)", () => {
    const dir = tempDir()
    const log = path.join(dir, "loaded.log")
    const result = runner(["test/fixtures/pg-flaky.ts", "--journal", database().url], {
      env: { NODE_OPTIONS: `--import ${loadTracer(dir)}`, SQL_PG_LOG: log }
    })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(fs.readFileSync(log, "utf8"), "@effect/sql-pg/PgClient")
  })
})

describe.skipIf(pg.skip)("PostgreSQL journal", () => {
  describe("migrations", () => {
    it("have the same ids as SQLite's, so a schema version means the same on both", () => {
      assert.deepStrictEqual(Object.keys(pgMigrations.all), Object.keys(migrations.all))
      assert.strictEqual(pgMigrations.table, migrations.table)
    })

    const migrateTo = (url: string, upTo: number) =>
      pgMigrations.run(upTo).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(url) })),
        Effect.provide(Reactivity.layer)
      )

    const latest = Object.keys(migrations.all).length
    for (let from = 0; from < latest; from++) {
      it.effect(`from ${from === 0 ? "an empty database" : `version ${from}`} to ${latest}, keeping a run`, () =>
        Effect.gen(function*() {
          const { name, url } = database()
          if (from > 0) {
            yield* migrateTo(url, from)
            psql(name, `INSERT INTO runs (id, dag, status, started_at, host, pid, runner_version, definition_hash)
                        VALUES ('old', 'd', 'failed', 1, 'h', 1, 'v', 'x')`)
            assert.strictEqual(psql(name, "SELECT max(migration_id) FROM effect_runner_migrations").trim(), String(from))
          }
          const ran: Array<string> = []
          const { result } = yield* execute(resumeDag({ value: false }, ran), { _tag: "New" }).pipe(
            Effect.provide(SqlJournal.layerPostgres(url))
          )
          assert.strictEqual(result?.status, "succeeded")
          assert.strictEqual(psql(name, "SELECT count(*), max(migration_id) FROM effect_runner_migrations").trim(), `${latest}|${latest}`)
          assert.strictEqual(psql(name, "SELECT count(*) FROM runs WHERE id = 'old'").trim(), from > 0 ? "1" : "0")
        }), 30_000)
    }

    it.effect("two journals opening an empty database at once both migrate it, once", () =>
      Effect.gen(function*() {
        const { name, url } = database()
        yield* Effect.all([1, 2, 3].map(() => Effect.scoped(Layer.build(SqlJournal.layerPostgres(url)))), { concurrency: "unbounded" })
        assert.strictEqual(psql(name, "SELECT count(*) FROM effect_runner_migrations").trim(), String(latest))
      }))
  })

  describe("the password", () => {
    it.effect("is never in an error: the URL is shown with *** for it", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.scoped(Layer.build(SqlJournal.layerPostgres("postgres://postgres:hunter2secret@127.0.0.1:5432/runner_no_such_db")))
        )
        assert.include(error.message, "postgres://postgres:***@127.0.0.1:5432/runner_no_such_db")
        assert.include(error.message, "runner_no_such_db")
        assert.notInclude(error.message, "hunter2secret")
      }))

    it.effect("PGPASSWORD_FILE is read when the URL has no password (a missing file is an error naming it)", () =>
      Effect.gen(function*() {
        const { url } = database()
        const missing = setEnv({ PGPASSWORD_FILE: path.join(tempDir(), "missing") })
        const error = yield* Effect.flip(Effect.scoped(Layer.build(SqlJournal.layerPostgres(url)))).pipe(
          Effect.ensuring(Effect.sync(missing))
        )
        assert.include(error.message, "PGPASSWORD_FILE")
        const file = path.join(tempDir(), "password")
        fs.writeFileSync(file, "from-file\n")
        const fromFile = setEnv({ PGPASSWORD_FILE: file })
        // Trust authentication accepts any password: the journal opens with the file's.
        yield* Effect.scoped(Layer.build(SqlJournal.layerPostgres(url))).pipe(
          Effect.ensuring(Effect.sync(fromFile))
        )
      }))

    it("Dialect.redact hides it; other journals are shown as given", () => {
      assert.strictEqual(Dialect.redact("postgres://u:p%40ss@h:5432/db"), "postgres://u:***@h:5432/db")
      assert.strictEqual(Dialect.redact("postgresql://u@h/db"), "postgresql://u@h/db")
      assert.strictEqual(Dialect.redact("runs/journal.db"), "runs/journal.db")
    })
  })

  describe("the CLI", () => {
    const fixture = "test/fixtures/pg-flaky.ts"
    const secret = "s3cr3t-pw"
    const withPassword = (url: string) => url.replace("postgres://postgres@", `postgres://postgres:${secret}@`)

    it("runs, --resume, --key, history, show, logs and prune; the password is never printed nor journaled", () => {
      const { name, url } = database()
      const journal = withPassword(url)
      const outputs: Array<string> = []
      const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
        const result = runner(args, { env })
        outputs.push(result.stdout, result.stderr)
        return result
      }
      const failed = run([fixture, "--journal", journal], { PG_FLAKY_FAIL: "1" })
      assert.strictEqual(failed.status, 1, failed.stderr)
      assert.deepStrictEqual(psql(name, "SELECT job_id, status FROM jobs ORDER BY rowid").trim().split("\n"), [
        "fetch|succeeded",
        "load|failed"
      ])
      const metrics = path.join(tempDir(), "runner.prom")
      const resumed = run([fixture, "--journal", journal, "--resume", "--metrics-file", metrics])
      assert.strictEqual(resumed.status, 0, resumed.stderr)
      assert.match(resumed.stdout, /fetch\s+restored/)
      assert.match(fs.readFileSync(metrics, "utf8"), /dag="pg-flaky"/, "metrics are written as with SQLite")
      assert.strictEqual(psql(name, "SELECT count(*) FROM runs WHERE status = 'succeeded'").trim(), "1")
      // RUNNER_JOURNAL names it too; --key: once succeeded, the same key does nothing.
      const keyed = run([fixture, "--key", "day-1"], { RUNNER_JOURNAL: journal })
      assert.strictEqual(keyed.status, 0, keyed.stderr)
      const again = run([fixture, "--key", "day-1"], { RUNNER_JOURNAL: journal })
      assert.strictEqual(again.status, 0, again.stderr)
      assert.match(again.stdout, /already succeeded/)
      assert.strictEqual(psql(name, "SELECT count(*) FROM runs").trim(), "2")
      assert.strictEqual(psql(name, "SELECT count(*) FROM checkpoints").trim(), "4")
      // The journal holds no trace of the password either.
      const dump = psql(name, `SELECT string_agg(t::text, E'\\n') FROM (
        SELECT r::text AS t FROM runs r UNION ALL SELECT l::text FROM logs l UNION ALL SELECT j::text FROM jobs j
        UNION ALL SELECT a::text FROM attempts a UNION ALL SELECT c::text FROM checkpoints c) all_rows`)
      assert.include(dump, "pg-flaky")
      assert.notInclude(dump, secret)
      // The operator commands: history, show, logs, prune read it.
      const [keyedRun, firstRun] = psql(name, "SELECT id FROM runs ORDER BY started_at DESC, rowid DESC").trim().split("\n")
      const history = run(["history", "--journal", journal])
      assert.strictEqual(history.status, 0, history.stderr)
      assert.match(history.stdout, new RegExp(`${keyedRun}\\s+pg-flaky\\s+day-1\\s+succeeded`))
      assert.match(history.stdout, new RegExp(`${firstRun}\\s+pg-flaky\\s+-?\\s*succeeded`))
      const historyJson = JSON.parse(run(["history", "--json", "--journal", journal]).stdout)
      assert.strictEqual(historyJson.journal, journal.replace(secret, "***"))
      assert.deepStrictEqual(historyJson.runs.map((r: { runId: string }) => r.runId), [keyedRun, firstRun])
      const show = run(["show", firstRun!, "--json", "--journal", journal])
      assert.strictEqual(show.status, 0, show.stderr)
      const shown = JSON.parse(show.stdout)
      assert.strictEqual(shown.executions.length, 2, "the first start and the resume")
      assert.deepStrictEqual(shown.jobs.map((j: { jobId: string; status: string }) => `${j.jobId}:${j.status}`), [
        "fetch:succeeded",
        "load:succeeded"
      ])
      psql(name, `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES ('${firstRun}', 'load', 2, 1, 'INFO', 'line')`)
      const logs = run(["logs", firstRun!, "--journal", journal])
      assert.strictEqual(logs.status, 0, logs.stderr)
      assert.match(logs.stdout, /load#2\s+INFO\s+line/)
      const missingRun = run(["show", "no-such-run", "--journal", journal])
      assert.strictEqual(missingRun.status, 2)
      assert.include(missingRun.stderr, "postgres://postgres:***@")
      const prune = run(["prune", "--older-than", "1ms", "--journal", journal])
      assert.strictEqual(prune.status, 0, prune.stderr)
      assert.match(prune.stdout, /deleted 2 runs/)
      assert.strictEqual(psql(name, "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM jobs) + (SELECT count(*) FROM logs)").trim(), "0")
      // An unreachable database: an error naming the URL, password hidden.
      const missing = run([fixture, "--journal", journal.replace(name, "runner_no_such_db")])
      assert.notStrictEqual(missing.status, 0)
      assert.include(missing.stderr, "postgres://postgres:***@127.0.0.1:5432/runner_no_such_db")
      for (const output of outputs) assert.notInclude(output, secret)
      // A dozen runner processes one after another: ~40 s alone, more beside the rest of the suite.
    }, 120_000)

    it("up-to-date skipping: the second run reuses the cached jobs; --dry-run, why and cache prune read them", () => {
      const { name, url } = database()
      for (const expected of [/succeeded in/, /2 of 3 jobs cached/]) {
        const result = runner(["test/fixtures/cached.ts", "--journal", url])
        assert.strictEqual(result.status, 0, result.stderr)
        assert.match(result.stdout, expected)
      }
      assert.strictEqual(psql(name, "SELECT string_agg(job_id || ':' || status, ',' ORDER BY rowid) FROM jobs").trim(),
        "build:succeeded,report:succeeded,stamp:succeeded,build:cached,report:cached,stamp:succeeded")
      assert.strictEqual(psql(name, "SELECT count(*) FROM cache_entries").trim(), "2")
      // --dry-run and `runner why` read the cache from it too (and show the URL without its password).
      const journal = withPassword(url)
      const dry = runner(["test/fixtures/cached.ts", "--dry-run", "--journal", journal])
      assert.strictEqual(dry.status, 0, dry.stderr)
      assert.include(dry.stdout, `cache: 2 of 3 jobs would be reused (journal ${journal.replace(secret, "***")})`)
      const why = runner(["why", "test/fixtures/cached.ts", "report", "--journal", journal])
      assert.strictEqual(why.status, 0, why.stderr)
      assert.match(why.stdout, /now: +cached \(from run/)
      for (const output of [dry.stdout, dry.stderr, why.stdout, why.stderr]) assert.notInclude(output, secret)
      const kept = runner(["cache", "prune", "--keep", "1", "--journal", url])
      assert.strictEqual(kept.status, 0, kept.stderr)
      assert.match(kept.stdout, /removed 0 cache entries beyond the newest 1 of their job; kept 2/)
      const pruned = runner(["cache", "prune", "--older-than", "1ms", "--journal", url])
      assert.strictEqual(pruned.status, 0, pruned.stderr)
      assert.match(pruned.stdout, /removed 2 cache entries/)
      assert.strictEqual(psql(name, "SELECT count(*) FROM cache_entries").trim(), "0")
    }, 60_000)

    for (const runtime of ["bun", "deno"] as const) {
      it(`on ${runtime}: a failed run, then --resume, restores the succeeded job`, () => {
        const { name, url } = database()
        const failed = runner([fixture, "--journal", url], { runtime, env: { PG_FLAKY_FAIL: "1" } })
        assert.strictEqual(failed.status, 1, failed.stderr)
        const resumed = runner([fixture, "--journal", url, "--resume"], { runtime })
        assert.strictEqual(resumed.status, 0, resumed.stderr)
        assert.match(resumed.stdout, /fetch\s+restored/)
        assert.strictEqual(psql(name, "SELECT string_agg(status, ',') FROM runs").trim(), "succeeded")
      }, 60_000)
    }

    it("runner schedule fires runs journaled in PostgreSQL, with the last slot kept", async () => {
      const { name, url } = database()
      const ticks = path.join(tempDir(), "ticks")
      const daemon = runnerAsync(["schedule", "test/fixtures/every-second.ts", "--journal", url], { TICKS: ticks })
      const tickCount = () => fs.existsSync(ticks) ? fs.readFileSync(ticks, "utf8").trim().split("\n").length : 0
      await waitUntil(() => tickCount() >= 3 || daemon.process.exitCode !== null, 30_000)
      daemon.process.kill("SIGTERM")
      const stopped = await daemon.done
      assert.strictEqual(stopped.status, 0, stopped.stdout + stopped.stderr)
      const runs = psql(name, "SELECT trigger, status, run_key FROM runs ORDER BY started_at").trim().split("\n")
      assert.isAtLeast(runs.length, 3)
      for (const row of runs) assert.match(row, /^schedule\|succeeded\|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
      const lastKey = runs.at(-1)!.split("|")[2]!
      assert.strictEqual(Number(psql(name, "SELECT last_slot FROM schedules WHERE dag = 'every-second'").trim()), Date.parse(`${lastKey}Z`))
    }, 60_000)

    it("kill -9 mid-run, then resume: no committed job or step runs again, every job succeeds", async () => {
      const { name, url } = database()
      const log = path.join(tempDir(), "crash.log")
      const env = { CRASH_LEVELS: "4", CRASH_WIDTH: "8", CRASH_STEPS: "3", CRASH_SLEEP_MS: "20", CRASH_LOG: log }
      const args = ["test/fixtures/crash-dag.ts", "--key", "crash", "--journal", url]
      const first = runnerAsync(args, env)
      const count = (sql: string) => Number(psql(name, sql).trim() || "0")
      await waitUntil(() => {
        try {
          return count("SELECT count(*) FROM jobs WHERE status = 'succeeded'") >= 6
        } catch {
          return false // the schema is not there yet
        }
      }, 30_000)
      first.process.kill("SIGKILL")
      await first.done
      assert.isFalse(isAlive(first.process.pid!))
      const jobsDone = new Set(psql(name, "SELECT job_id FROM jobs WHERE status = 'succeeded'").trim().split("\n"))
      const stepsDone = new Set(psql(name, "SELECT job_id || ' ' || step FROM checkpoints").trim().split("\n"))
      assert.isBelow(jobsDone.size, 32, "killed before the end")
      const second = runner(args, { env })
      assert.strictEqual(second.status, 0, second.stderr)
      assert.strictEqual(count("SELECT count(*) FROM jobs WHERE status = 'succeeded'"), 32)
      assert.strictEqual(count("SELECT count(*) FROM runs"), 1)
      assert.strictEqual(count("SELECT count(*) FROM locks"), 0)
      const lines = fs.readFileSync(log, "utf8").trim().split("\n").map((line) => line.split(" "))
      const resumedPid = lines.at(-1)!.at(-1)
      assert.notStrictEqual(resumedPid, String(first.process.pid))
      const violations = lines.filter((l) =>
        l.at(-1) === resumedPid && (l[0] === "job" ? jobsDone.has(l[1]!) : l[0] === "step" && stepsDone.has(`${l[1]} ${l[2]}`))
      )
      assert.deepStrictEqual(violations, [])
      assert.isAbove(lines.filter((l) => l.at(-1) === resumedPid && l[0] === "job").length, 0, "the resume ran the rest")
    }, 90_000)
  })
})
