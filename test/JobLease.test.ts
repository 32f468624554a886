/**
 * Job leases (`Journal.leaseJob`), the fence of cluster mode: two journal instances on one journal stand for two
 * workers handed the same job (the engine redelivered it after the first seemed lost). The second's lease bumps the
 * epoch; from then on none of the first's writes of that job land, whatever they are, and its `lost` fails. On SQLite
 * and PostgreSQL (skipped with one line without a server, unless CI is set), and on the memory journal.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Dag from "../src/Dag.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import * as Job from "../src/Job.ts"
import { databases, psql, requirePostgres } from "./support/postgres.ts"
import { collectingReporter } from "./support/run.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-lease-")

interface Backend {
  readonly layer: () => Layer.Layer<Journal.Journal, Journal.JournalError>
  /** Rows as `|`-joined text. */
  readonly query: (sql: string) => Array<string>
}

const sqlite = (): Backend => {
  const file = path.join(tempDir(), "journal.db")
  return {
    layer: () => SqlJournal.layerSqlite({ filename: file, durability: "normal" }),
    query: (sql) => {
      const db = new DatabaseSync(file)
      try {
        return db.prepare(sql).all().map((row) => Object.values(row).map((v) => v === null ? "" : String(v)).join("|"))
      } finally {
        db.close()
      }
    }
  }
}

const postgres = (): Backend => {
  const { name, url } = database()
  return {
    layer: () => SqlJournal.layerPostgres(url),
    query: (sql) => psql(name, sql).split("\n").filter((line) => line !== "")
  }
}

const backends: ReadonlyArray<readonly [string, () => Backend, boolean]> = [
  ["sqlite", sqlite, false],
  ["postgres", postgres, pg.skip]
]

/** A journal instance of its own (a worker's), open for the test's scope. */
const instance = (backend: Backend) =>
  Effect.map(Layer.build(backend.layer()), (context) => Context.get(context, Journal.Journal))

/** A coordinator begins a run of jobs `a` and `b` (keeping its lock for the test's scope). */
const beginRun = (journal: Journal.Journal["Service"]) =>
  Effect.gen(function*() {
    const begun = yield* journal.begin({
      dag: "leased",
      target: { _tag: "New" },
      definitionHash: "h",
      trigger: "test",
      runnerVersion: "test",
      wait: false
    })
    if (begun._tag !== "Run") return yield* Effect.die("not begun")
    yield* journal.record({
      _tag: "RunStarted", runId: begun.runId, resumed: false, dag: "leased", at: 1, jobIds: ["a", "b"], concurrency: 2, failureMode: "no-new"
    })
    return begun.runId
  })

/** Leases a job in a scope of its own (closed by the caller, or at the test's end). */
const lease = (journal: Journal.Journal["Service"], runId: string, jobId: string, holder: string, placement?: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
    return { ...yield* Scope.provide(journal.leaseJob(runId, jobId, holder, placement), scope), scope }
  })

/** Each job's lease records the placement it was taken with; a takeover's replaces it; another run's are apart. */
const placementsRecorded = (journal: Journal.Journal["Service"]) =>
  Effect.gen(function*() {
    const runId = yield* beginRun(journal)
    const other = yield* beginRun(journal)
    assert.deepStrictEqual([...(yield* journal.placements(runId))], [])
    yield* lease(journal, runId, "a", "worker-1", 1)
    yield* lease(journal, runId, "b", "worker-1")
    yield* lease(journal, other, "a", "worker-1", 7)
    yield* lease(journal, runId, "a", "worker-2", 3)
    assert.deepStrictEqual([...(yield* journal.placements(runId))], [["a", 3]])
    assert.deepStrictEqual([...(yield* journal.placements(other))], [["a", 7]])
  })

const started = (runId: string, jobId: string, attempt: number, at: number) =>
  ({ _tag: "AttemptStarted", runId, jobId, attempt, at } as const)
const succeeded = (runId: string, jobId: string, attempt: number, at: number, json: string) =>
  ({ _tag: "AttemptSucceeded", runId, jobId, attempt, at, output: JSON.parse(json), json } as const)

const isLockLost = (exit: Exit.Exit<unknown, unknown>, takenBy?: string) =>
  Exit.isFailure(exit) && JSON.stringify(exit.cause).includes("LockLost") &&
  (takenBy === undefined || JSON.stringify(exit.cause).includes(takenBy))

describe("job leases", () => {
  for (const [name, open, skip] of backends) {
    describe.skipIf(skip)(`on ${name}`, () => {
      it.effect("a takeover fences the first worker: its later events, logs and checkpoints never land, its lost fails", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const runId = yield* beginRun(yield* instance(backend))
          const one = yield* instance(backend)
          const two = yield* instance(backend)

          const first = yield* lease(one, runId, "a", "worker-1")
          assert.deepStrictEqual([first.epoch, first.attempts], [1, 0])
          yield* one.record(started(runId, "a", 1, 10))
          one.log({ runId, jobId: "a", attempt: 1, at: 11, level: "INFO", message: "one: before" })
          yield* one.saveCheckpoint(runId, "a", "s1", { json: `"one-s1"`, inputHash: undefined }) // durable: all above committed

          const second = yield* lease(two, runId, "a", "worker-2")
          assert.deepStrictEqual([second.epoch, second.attempts], [2, 1])
          assert.deepStrictEqual(backend.query("SELECT attempt, status, error FROM attempts WHERE job_id = 'a' ORDER BY id"), [
            "1|interrupted|its worker was lost; job taken over by worker-2"
          ])
          assert.deepStrictEqual(backend.query("SELECT status, reason FROM jobs WHERE job_id = 'a'"), [
            "interrupted|its worker was lost; job taken over by worker-2"
          ])

          // The first worker goes on as if nothing happened.
          one.log({ runId, jobId: "a", attempt: 1, at: 20, level: "INFO", message: "one: late" })
          yield* one.record({
            _tag: "AttemptFailed", runId, jobId: "a", attempt: 1, at: 21, error: "late failure", cause: Cause.fail("late"), retryInMillis: undefined
          })
          yield* one.processStarted({
            runId, jobId: "a", attempt: 1, pid: 4242, pgid: 4242, host: "h", startTime: undefined, startedAt: 21
          })
          const checkpoint = yield* Effect.exit(one.saveCheckpoint(runId, "a", "s2", { json: `"one-s2"`, inputHash: undefined }))
          assert.isTrue(isLockLost(checkpoint, "worker-2"), String(checkpoint))
          const success = yield* Effect.exit(one.record(succeeded(runId, "a", 1, 22, `"one"`)))
          assert.isTrue(isLockLost(success), String(success))
          const lost = yield* Effect.exit(first.lost)
          assert.isTrue(isLockLost(lost, "worker-2"), String(lost))
          assert.match((yield* Effect.flip(first.lost)).message, /^lost the lease of job a of run \S+: worker-2 took it over/)
          // A job the first worker holds no lease of is not fenced by another's.
          yield* one.record(started(runId, "b", 1, 23))
          yield* one.record(succeeded(runId, "b", 1, 24, `"b"`))

          // The second worker's writes land; the attempts go on counting.
          yield* two.record(started(runId, "a", second.attempts + 1, 30))
          two.log({ runId, jobId: "a", attempt: 2, at: 31, level: "INFO", message: "two: working" })
          yield* two.saveCheckpoint(runId, "a", "s2", { json: `"two-s2"`, inputHash: undefined })
          yield* two.record(succeeded(runId, "a", 2, 32, `"two"`))

          assert.deepStrictEqual(backend.query("SELECT attempt, status FROM attempts WHERE job_id = 'a' ORDER BY id"), [
            "1|interrupted",
            "2|succeeded"
          ])
          assert.deepStrictEqual(backend.query("SELECT job_id, status, output FROM jobs ORDER BY job_id"), [
            `a|succeeded|"two"`,
            `b|succeeded|"b"`
          ])
          assert.deepStrictEqual(backend.query("SELECT step, output FROM checkpoints ORDER BY step"), [`s1|"one-s1"`, `s2|"two-s2"`])
          const logs = backend.query("SELECT message FROM logs WHERE job_id = 'a' ORDER BY id")
          assert.deepStrictEqual(logs.filter((m) => !m.includes("lost the lease")), ["one: before", "two: working"])
          // The first worker says in the job's log that it lost the lease (a line added, nothing overwritten).
          assert.strictEqual(logs.filter((m) => m.includes("lost the lease of job a")).length, 1)
          assert.deepStrictEqual(backend.query("SELECT epoch, holder FROM job_leases"), ["2|worker-2"])
          assert.deepStrictEqual(backend.query("SELECT pid FROM processes"), [], "nor its process records")

          const third = yield* lease(one, runId, "a", "worker-1")
          assert.deepStrictEqual([third.epoch, third.attempts], [3, 2])
          // A success is never closed as interrupted.
          assert.deepStrictEqual(backend.query("SELECT status FROM jobs WHERE job_id = 'a'"), ["succeeded"])
        })), 30_000)

      it.effect("concurrent takeovers each get their own epoch; only the newest holder's writes land", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const runId = yield* beginRun(yield* instance(backend))
          const workers = yield* Effect.forEach([1, 2, 3, 4, 5], () => instance(backend))
          const leases = yield* Effect.forEach(
            workers,
            (journal, i) => lease(journal, runId, "a", `worker-${i}`),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(leases.map((l) => l.epoch).sort(), [1, 2, 3, 4, 5])
          const outcomes = yield* Effect.forEach(
            workers,
            (journal, i) => Effect.exit(journal.saveCheckpoint(runId, "a", `by-${i}`, { json: "1", inputHash: undefined })),
            { concurrency: "unbounded" }
          )
          const newest = leases.findIndex((l) => l.epoch === 5)
          assert.deepStrictEqual(outcomes.map((o) => Exit.isSuccess(o)), workers.map((_, i) => i === newest))
          assert.deepStrictEqual(backend.query("SELECT step FROM checkpoints"), [`by-${newest}`])
          assert.deepStrictEqual(backend.query("SELECT epoch, holder FROM job_leases"), [`5|worker-${newest}`])
        })), 30_000)

      it.live("a worker that writes nothing learns within a heartbeat that its job was taken over", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const runId = yield* beginRun(yield* instance(backend))
          const one = yield* instance(backend)
          const first = yield* lease(one, runId, "b", "worker-1")
          yield* lease(yield* instance(backend), runId, "b", "worker-2")
          const start = Date.now()
          const lost = yield* Effect.exit(first.lost.pipe(Effect.timeout("5 seconds")))
          assert.isTrue(isLockLost(lost, "worker-2"), String(lost))
          assert.isBelow(Date.now() - start, 3_000)
        })), 30_000)

      it.effect("a lease records the cluster placement it was taken with, for a replayed coordinator to join", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          yield* placementsRecorded(yield* instance(backend))
        })), 30_000)

      it.effect("the same process leasing a job again ends its earlier lease at once; other runs are not affected", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const journal = yield* instance(backend)
          const runId = yield* beginRun(journal)
          const first = yield* lease(journal, runId, "a", "worker-1")
          const again = yield* lease(journal, runId, "a", "worker-1")
          assert.strictEqual(again.epoch, 2)
          assert.isTrue(isLockLost(yield* Effect.exit(first.lost)))
          yield* journal.saveCheckpoint(runId, "a", "s", { json: "1", inputHash: undefined })
          yield* Scope.close(again.scope, Exit.void)

          // An ordinary run on the same journal: no lease taken, nothing fenced by one.
          const jobs = [Job.make("x", { run: () => Effect.succeed(1) }), Job.make("y", { run: () => Effect.succeed(2) })]
          const plan = yield* Plan.plan(Dag.make("plain", jobs))
          const result = yield* Effect.scoped(Effect.gen(function*() {
            const begun = yield* journal.begin({
              dag: "plain", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
            })
            if (begun._tag !== "Run") return yield* Effect.die("not begun")
            return yield* Executor.run(plan, { runId: begun.runId, concurrency: 2, failureMode: "no-new", restored: new Map(), resumed: false })
          })).pipe(
            Effect.provideService(Journal.Journal, journal),
            Effect.provide(Layer.mergeAll(NodeServices.layer, FetchHttpClient.layer, collectingReporter({ events: [], logs: [] })))
          )
          assert.strictEqual(result.status, "succeeded")
          assert.deepStrictEqual(backend.query("SELECT run_id, job_id, epoch FROM job_leases"), [`${runId}|a|2`])
          assert.deepStrictEqual(backend.query("SELECT step FROM checkpoints"), ["s"])
        })), 30_000)
    })
  }

  describe("on the memory journal", () => {
    it.effect("counts attempts, bumps the epoch, and a new lease ends the earlier one", () =>
      Effect.scoped(Effect.gen(function*() {
        const journal = Context.get(yield* Layer.build(Journal.layerMemory), Journal.Journal)
        const begun = yield* journal.begin({
          dag: "m", target: { _tag: "New" }, definitionHash: "h", trigger: "test", runnerVersion: "test", wait: false
        })
        if (begun._tag !== "Run") return assert.fail("not begun")
        const first = yield* lease(journal, begun.runId, "a", "worker-1")
        assert.deepStrictEqual([first.epoch, first.attempts], [1, 0])
        yield* journal.record(started(begun.runId, "a", 1, 1))
        yield* journal.record({ _tag: "AttemptFailed", runId: begun.runId, jobId: "a", attempt: 1, at: 2, error: "x", cause: Cause.fail("x"), retryInMillis: 5 })
        yield* journal.record(started(begun.runId, "a", 2, 3))
        const second = yield* lease(journal, begun.runId, "a", "worker-2")
        assert.deepStrictEqual([second.epoch, second.attempts], [2, 2])
        assert.isTrue(isLockLost(yield* Effect.exit(first.lost), "worker-2"))
        const other = yield* lease(journal, begun.runId, "b", "worker-2")
        assert.deepStrictEqual([other.epoch, other.attempts], [1, 0])
      })))

    it.effect("records the placement a lease was taken with", () =>
      Effect.scoped(Effect.gen(function*() {
        const journal = Context.get(yield* Layer.build(Journal.layerMemory), Journal.Journal)
        yield* placementsRecorded(journal)
      })))
  })
})
