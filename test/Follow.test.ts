/**
 * Following a run from its journal (src/internal/cluster/Follow.ts), as the submitter of a cluster run does: the real
 * runner executes a task file (written here with the public API) in another process with `--log-format json`; this
 * process follows it through the journal with the json reporter, and what it shows is compared with what the run
 * printed itself — events in order per job, every log line (a job prints 200,000), the summary. On SQLite and on
 * PostgreSQL (its own database; skipped with one line without a server, unless CI is set). The 200,000 lines are
 * followed on PostgreSQL, the cluster's journal; on SQLite the big job prints 20,000 (four pages of the follower's
 * log reads, as 200,000 are forty). A finished run is replayed whole, and following never writes: the journal's rows
 * are the same after, and on PostgreSQL the follower connects as a role that may only SELECT.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import { spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll } from "vitest"
import * as Follow from "../src/internal/cluster/Follow.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { base, databases, psql, requirePostgres } from "./support/postgres.ts"
import { runner, runnerAsync, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-follow-")

const ODD = `odd name/ü ✓ "q" 'x'`
/** The lines the big job prints on PostgreSQL (the journal of a cluster, whose submitter follows its runs). */
const LINES = 200_000

/**
 * odd (an odd name) logs and succeeds; gated waits until the test opens its gate (after the follower showed odd's
 * success: the follower is live); flaky fails twice, then succeeds; big prints `lines` lines (200,000 on PostgreSQL);
 * broken (critical) fails once they all succeeded, so after (which needs it) is skipped and the run fails; optional
 * (not critical) fails.
 */
const taskFile = (lines: number) => `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"

let tries = 0
export const odd = Job.make(${JSON.stringify(ODD)}, {
  run: () => Effect.log("hello from the odd one").pipe(Effect.as({ n: 1, s: "ü" }))
})
export const gated = Job.make("gated", {
  needs: { odd },
  run: () => Effect.gen(function*() {
    while (!fs.existsSync(process.env.FOLLOW_GATE ?? "")) yield* Effect.sleep("20 millis")
    yield* Effect.logWarning("the gate opened")
  })
})
export const flaky = Job.make("flaky-1", {
  retry: { times: 2, delay: "30 millis" },
  run: () => Effect.suspend(() => ++tries < 3 ? Effect.fail("try " + tries + " broke") : Effect.succeed(tries))
})
export const big = Job.command("big", ["seq", "1", "${lines}"])
export const broken = Job.make("broken", { needs: { big, flaky, gated }, run: () => Effect.fail("disk full") })
export const after = Job.make("after", { needs: { broken }, run: () => Effect.void })
export const optional = Job.make("optional", { critical: false, run: () => Effect.fail("not needed anyway") })
export default Dag.make("follow-test", [odd, gated, flaky, big, broken, after, optional])
`

/** A journal to follow runs in: its --journal argument, a reading client, and its rows (to see nothing changed). */
interface Backend {
  readonly journal: string
  readonly client: Layer.Layer<SqlClient.SqlClient, unknown>
  readonly runIds: () => Array<string>
  readonly dump: () => string
}

const TABLES = ["runs", "jobs", "attempts", "logs", "waits", "checkpoints", "locks"]

const sqliteBackend = (): Backend => {
  const file = path.join(tempDir(), "journal.db")
  const query = (text: string): Array<Record<string, unknown>> => {
    if (!fs.existsSync(file)) return []
    const db = new DatabaseSync(file, { readOnly: true })
    try {
      return db.prepare(text).all() as Array<Record<string, unknown>>
    } catch {
      return []
    } finally {
      db.close()
    }
  }
  return {
    journal: file,
    client: SqliteClient.layer({ filename: file, durability: "full", readOnly: true }),
    runIds: () => query("SELECT id FROM runs ORDER BY started_at").map((r) => String(r["id"])),
    dump: () =>
      TABLES.map((t) => crypto.createHash("sha256").update(JSON.stringify(query(`SELECT * FROM ${t} ORDER BY rowid`))).digest("hex"))
        .join(",")
  }
}

const roles: Array<string> = []
afterAll(() => {
  for (const role of roles) {
    try {
      for (const db of psql("postgres", `SELECT datname FROM pg_database WHERE datname LIKE 'runner_test_%'`).split("\n")) {
        if (db !== "") psql(db, `DROP OWNED BY ${role}`)
      }
      psql("postgres", `DROP ROLE IF EXISTS ${role}`)
    } catch {
      // the server went away: nothing to drop
    }
  }
})

const postgresBackend = (): Backend => {
  const { name, url } = database()
  // The follower's own login: it may read the journal's tables and nothing else.
  const role = `runner_follow_${crypto.randomBytes(4).toString("hex")}`
  roles.push(role)
  psql("postgres", `CREATE ROLE ${role} LOGIN`)
  const server = new URL(base)
  const readerUrl = `postgres://${role}@${server.host}/${name}`
  let granted = false
  const query = (text: string) => psql(name, text)
  return {
    journal: url,
    client: Layer.effect(SqlClient.SqlClient)(Effect.gen(function*() {
      if (!granted) {
        // After the run migrated the schema: the tables exist now.
        psql(name, `GRANT USAGE ON SCHEMA public TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`)
        granted = true
      }
      return yield* SqlJournal.postgresClient(readerUrl)
    })).pipe(Layer.provide(Reactivity.layer)),
    runIds: () => {
      try {
        return query("SELECT id FROM runs ORDER BY started_at").split("\n").filter((l) => l !== "")
      } catch {
        return []
      }
    },
    dump: () =>
      TABLES.map((t) => query(`SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.rowid), '')) FROM ${t} t`).trim()).join(",")
  }
}

type Line = Record<string, unknown>

const parseLines = (text: string): Array<Line> =>
  text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Line)

/** A line as the follower must reproduce it: the retry delay it can only estimate is left out (only that one comes). */
const shape = (line: Line): string => {
  switch (line["event"]) {
    case "Log":
      return ["Log", line["jobId"], line["attempt"], line["level"], line["message"]].join("|")
    case "AttemptFailed":
      return ["AttemptFailed", line["jobId"], line["attempt"], line["level"], line["error"], line["retryInMillis"] !== undefined].join("|")
    default:
      return [line["event"], line["jobId"], line["attempt"], line["level"], line["message"], line["reason"]].join("|")
  }
}

/** The lines of each job (and the run's own, under "-"), in order. */
const byJob = (lines: ReadonlyArray<Line>): Record<string, Array<string>> => {
  const out: Record<string, Array<string>> = {}
  for (const line of lines) {
    if (line["event"] === "RunFinished") continue
    const job = typeof line["jobId"] === "string" ? line["jobId"] : "-"
    ;(out[job] ??= []).push(shape(line))
  }
  return out
}

/** Follows `runId` with the json reporter until `until`; returns the lines it printed and the RunFinished. */
const followRun = (
  backend: Backend,
  runId: string,
  until: Effect.Effect<void>,
  onWrite: (text: string) => void = () => {},
  nonCritical: ReadonlyArray<string> = []
) => {
  const chunks: Array<string> = []
  const output = { write: (text: string) => (chunks.push(text), onWrite(text)) }
  return Effect.runPromise(
    Follow.follow(runId, { until, pollMillis: 50, nonCritical }).pipe(
      Effect.provide(Layer.mergeAll(Reporter.layer({ format: "json", output }), backend.client)),
      Effect.map((finished) => ({ finished, lines: parseLines(chunks.join("")) })),
      Effect.scoped
    )
  )
}

/** The followed lines say what the run's own said: per job in order, every log line, the same summary. */
const assertSame = (runLines: ReadonlyArray<Line>, followed: ReadonlyArray<Line>, runId: string) => {
  const own = runLines.filter((l) => l["runId"] === runId)
  assert.strictEqual(followed[0]?.["event"], "RunStarted")
  assert.strictEqual(followed[followed.length - 1]?.["event"], "RunFinished")
  const expected = byJob(own)
  const actual = byJob(followed)
  assert.deepStrictEqual(Object.keys(actual).sort(), Object.keys(expected).sort())
  for (const job of Object.keys(expected)) {
    const e = expected[job]!
    const a = actual[job]!
    assert.strictEqual(a.length, e.length, `${job}: ${a.length} lines followed, ${e.length} printed by the run`)
    // Compared whole only when small: 200,000 lines in a diff help nobody.
    if (e.length < 100) assert.deepStrictEqual(a, e, job)
    else assert.isTrue(a.every((line, i) => line === e[i]), `${job}: the followed lines differ from the run's`)
  }
  const ranFinished = own.find((l) => l["event"] === "RunFinished")!
  const followedFinished = followed[followed.length - 1]!
  assert.strictEqual(followedFinished["status"], ranFinished["status"])
  assert.strictEqual(followedFinished["message"] !== undefined, true)
  assert.approximately(followedFinished["durationMillis"] as number, ranFinished["durationMillis"] as number, 500)
  type J = { jobId: string; status: string; attempts: number; critical: boolean; detail?: string; durationMillis: number; waitedMillis?: number }
  const ranJobs = ranFinished["jobs"] as Array<J>
  const followedJobs = followedFinished["jobs"] as Array<J>
  assert.deepStrictEqual(
    followedJobs.map((j) => [j.jobId, j.status, j.attempts, j.critical, j.detail, j.waitedMillis ?? 0]),
    ranJobs.map((j) => [j.jobId, j.status, j.attempts, j.critical, j.detail, j.waitedMillis ?? 0])
  )
  for (const [i, job] of ranJobs.entries()) {
    assert.approximately(followedJobs[i]!.durationMillis, job.durationMillis, 500, job.jobId)
  }
}

const backends: ReadonlyArray<readonly [string, boolean, () => Backend, number]> = [
  ["sqlite", false, sqliteBackend, 20_000],
  ["postgres", pg.skip, postgresBackend, LINES]
]

describe.each(backends)("following a run on %s", (_name, skip, open, lines) => {
  it.skipIf(skip)(
    "a run executed by another process is shown live as it reported itself; once finished it is replayed whole, writing nothing",
    async () => {
      const backend = open()
      const dir = tempDir()
      const file = path.join(dir, "follow.ts")
      fs.writeFileSync(file, taskFile(lines))
      const gate = path.join(dir, "gate")
      const child = runnerAsync([file, "--journal", backend.journal, "--log-format", "json"], { FOLLOW_GATE: gate })
      await waitUntil(() => backend.runIds().length === 1, 30_000)
      const runId = backend.runIds()[0]!
      let sawOdd = false
      // The run waits (gated) until the follower showed the odd job's success: a follower that is not live never does.
      const live = await followRun(backend, runId, Effect.promise(() => child.done).pipe(Effect.asVoid), (text) => {
        if (!sawOdd && text.includes(`"event":"AttemptSucceeded"`) && text.includes(JSON.stringify(ODD).slice(1, -1))) {
          sawOdd = true
          fs.writeFileSync(gate, "")
        }
      }, ["optional"])
      const ran = await child.done
      assert.strictEqual(ran.status, 1, ran.stderr)
      assert.isTrue(sawOdd)
      const runLines = parseLines(ran.stdout)
      assert.strictEqual(runLines.filter((l) => l["jobId"] === "big" && l["event"] === "Log").length, lines)
      assert.isDefined(live.finished)
      assert.strictEqual(live.finished?.status, "failed")
      assertSame(runLines, live.lines, runId)
      const after = live.lines.find((l) => l["jobId"] === "after")
      assert.strictEqual(after?.["event"], "JobSkipped")
      assert.strictEqual(live.lines.filter((l) => l["jobId"] === "flaky-1" && l["event"] === "AttemptFailed").length, 2)

      const before = backend.dump()
      const replay = await followRun(backend, runId, Effect.void, undefined, ["optional"])
      assertSame(runLines, replay.lines, runId)
      assert.strictEqual(backend.dump(), before, "following wrote to the journal")
      const optional = (replay.lines.at(-1)?.["jobs"] as Array<{ jobId: string; status: string; critical: boolean }>).find((j) => j.jobId === "optional")
      assert.deepInclude(optional, { status: "failed", critical: false })
    },
    180_000
  )

  it.skipIf(skip)("a resumed run is followed as its latest execution showed it: jobs restored, the rest run", async () => {
    const backend = open()
    const dir = tempDir()
    const file = path.join(dir, "resumed.ts")
    fs.writeFileSync(file, `import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"
export const first = Job.make("first", { run: () => Effect.log("first ran").pipe(Effect.as(1)) })
export const second = Job.make("second", {
  needs: { first },
  run: ({ first }) => process.env.FOLLOW_FAIL ? Effect.fail("second broke") : Effect.log("second ran").pipe(Effect.as(first + 1))
})
export default Dag.make("resumed", [first, second])
`)
    const args = [file, "--journal", backend.journal, "--log-format", "json", "--key", "k"]
    const failed = runner(args, { env: { FOLLOW_FAIL: "1" } })
    assert.strictEqual(failed.status, 1, failed.stderr)
    const resumed = runner(args)
    assert.strictEqual(resumed.status, 0, resumed.stderr)
    const runId = backend.runIds()[0]!
    const replay = await followRun(backend, runId, Effect.void)
    assertSame(parseLines(resumed.stdout), replay.lines, runId)
    assert.deepInclude(replay.lines[0], { event: "RunStarted" })
    assert.match(String(replay.lines[0]?.["message"]), /^resuming run/)
    assert.deepStrictEqual(replay.lines.filter((l) => l["jobId"] === "first").map((l) => l["event"]), ["JobRestored"])
  }, 60_000)

  it.skipIf(skip)("a run that does not exist, or has not started, ends with nothing shown and no summary", async () => {
    const backend = open()
    // Make the journal (and its schema) with a run of another DAG first.
    const dir = tempDir()
    const file = path.join(dir, "one.ts")
    fs.writeFileSync(file, `import * as Effect from "effect/Effect"\nimport { Dag, Job } from "effect-runner"\n` +
      `export default Dag.make("one", [Job.make("a", { run: () => Effect.succeed(1) })])\n`)
    const done = runner([file, "--journal", backend.journal, "--log-format", "json"])
    assert.strictEqual(done.status, 0, done.stderr)
    const result = await followRun(backend, "no-such-run", Effect.void)
    assert.isUndefined(result.finished)
    assert.deepStrictEqual(result.lines, [])
  }, 60_000)
})

describe.skipIf(pg.skip)("following a run on postgres, with concurrent writers", () => {
  it(
    "on PostgreSQL, a line committed after a later one (two writers' transactions) is shown, once",
    async () => {
      const backend = postgresBackend()
      const dir = tempDir()
      const file = path.join(dir, "one.ts")
      fs.writeFileSync(file, `import * as Effect from "effect/Effect"\nimport { Dag, Job } from "effect-runner"\n` +
        `export default Dag.make("one", [Job.make("a", { run: () => Effect.succeed(1) })])\n`)
      const done = runner([file, "--journal", backend.journal, "--log-format", "json"])
      assert.strictEqual(done.status, 0, done.stderr)
      const runId = backend.runIds()[0]!
      const name = new URL(backend.journal).pathname.slice(1)
      const insert = (message: string) =>
        `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES ('${runId}', 'a', 1, ${Date.now()}, 'info', '${message}')`
      // The first writer takes its id, then holds its transaction open while the second commits a higher id.
      const server = new URL(base)
      const connection = ["-h", server.hostname, "-p", server.port || "5432", "-U", decodeURIComponent(server.username || "postgres")]
      const slow = spawn("psql", [...connection, "-d", name, "-v", "ON_ERROR_STOP=1", "-qc",
        `BEGIN; ${insert("taken first, committed last")}; SELECT pg_sleep(1.2); COMMIT;`])
      const slowDone = new Promise<number | null>((resolve) => slow.on("close", resolve))
      await new Promise((resolve) => setTimeout(resolve, 300))
      psql(name, insert("taken second, committed first"))
      const followed = await followRun(
        backend,
        runId,
        Effect.promise(() => slowDone).pipe(Effect.andThen(Effect.sleep(300)), Effect.asVoid)
      )
      const messages = followed.lines.filter((l) => l["event"] === "Log").map((l) => l["message"])
      assert.deepStrictEqual(messages.filter((m) => String(m).startsWith("taken")).sort(), [
        "taken first, committed last",
        "taken second, committed first"
      ])
    },
    60_000
  )
})
