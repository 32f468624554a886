/**
 * The journal: resuming, what is committed when, run locks. The tests of the durable journal run on every backend
 * (test/support/backends.ts: a SQLite file, and PostgreSQL when a server is reachable), with the same bodies; the
 * in-memory journal and the pure decisions are tested once. PostgreSQL's own cases are in PostgresJournal.test.ts.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import * as os from "node:os"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Encoding from "../src/internal/Encoding.ts"
import * as Resume from "../src/internal/Resume.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { journalBackends } from "./support/backends.ts"
import { type Collected, collectingReporter } from "./support/run.ts"

const backends = journalBackends()

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
  collected: Collected = { events: [], logs: [] },
  failureMode: "no-new" | "continue" = "no-new"
) =>
  Effect.scoped(Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const plan = yield* Plan.plan(dag)
    const begun = yield* journal.begin(request(dag.name, target))
    if (begun._tag !== "Run") return { begun, result: undefined, notes: [] as ReadonlyArray<string> }
    const decision = begun.resumed
      ? yield* Effect.flatMap(journal.succeeded(begun.runId), (rows) => Resume.decide(plan, Resume.definitionHashes(plan), rows))
      : { restored: new Map<string, Resume.Restored>(), notes: [] }
    const result = yield* Executor.run(plan, {
      runId: begun.runId,
      concurrency: 4,
      failureMode,
      restored: decision.restored,
      resumed: begun.resumed
    }).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, FetchHttpClient.layer, collectingReporter(collected))))
    return { begun, result, notes: decision.notes }
  }))

/** first -> steps (3 checkpointed steps, the third failing while `failStep.value`) -> last. */
  const makeDag = (failStep: { value: boolean }, ran: Array<string>, version = 1) => {
    const first = Job.make("first", {
      output: Schema.Struct({ n: Schema.Number }),
      run: () => Effect.sync(() => (ran.push("first"), { n: version }))
    })
    const steps = Job.make("steps", {
      needs: { first },
      run: ({ first }) =>
        Effect.forEach([1, 2, 3], (i) =>
          Checkpoint.step(`s${i}`, Effect.suspend(() => {
            if (failStep.value && i === 3) return Effect.fail("step 3 broke")
            ran.push(`step${i}`)
            return Effect.succeed(first.n * 10 + i)
          })))
    })
    const last = Job.make("last", { needs: { steps }, run: ({ steps }) => Effect.sync(() => (ran.push("last"), steps)) })
    return Dag.make("resume-test", [last])
  }

describe("Journal", () => {
  describe("resume", () => {

    it.effect("a resumed run restores succeeded jobs and finished checkpoints and runs the rest", () =>
      Effect.gen(function*() {
        const ran: Array<string> = []
        const fail = { value: true }
        const dag = makeDag(fail, ran)
        const first = yield* execute(dag, { _tag: "New" })
        assert.strictEqual(first.result?.status, "failed")
        assert.deepStrictEqual(ran, ["first", "step1", "step2"])
        fail.value = false
        const collected: Collected = { events: [], logs: [] }
        const second = yield* execute(dag, { _tag: "Resume", runId: undefined }, collected)
        assert.strictEqual(second.begun._tag === "Run" && second.begun.runId, first.begun._tag === "Run" && first.begun.runId)
        assert.strictEqual(second.result?.status, "succeeded")
        assert.deepStrictEqual(ran, ["first", "step1", "step2", "step3", "last"])
        const done = collected.events.find((e) => e._tag === "AttemptSucceeded" && e.jobId === "last")
        assert.deepStrictEqual(done?._tag === "AttemptSucceeded" && done.output, [11, 12, 13])
        assert.deepStrictEqual(second.result?.jobs.map((j) => j.status), ["restored", "succeeded", "succeeded"])
      }).pipe(Effect.provide(Journal.layerMemory)))
    it.effect("a job whose definition changed, and what needs it, run again, with the reason", () =>
      Effect.gen(function*() {
        const ran: Array<string> = []
        const fail = { value: true }
        yield* execute(makeDag(fail, ran, 1), { _tag: "New" })
        fail.value = false
        // A different `first` (a new body) in the same DAG.
        const first = Job.make("first", {
          output: Schema.Struct({ n: Schema.Number }),
          run: () => Effect.sync(() => (ran.push("first v2"), { n: 2 }))
        })
        const steps = Job.make("steps", { needs: { first }, run: ({ first }) => Effect.succeed([first.n]) })
        const second = yield* execute(Dag.make("resume-test", [steps]), { _tag: "Resume", runId: undefined })
        assert.strictEqual(second.result?.status, "succeeded")
        assert.include(ran, "first v2")
        assert.deepStrictEqual(second.notes, [`"first" runs again: its definition changed since it succeeded`])
      }).pipe(Effect.provide(Journal.layerMemory)))

    it.effect("an output that no longer decodes with the job's schema makes the job run again", () =>
      Effect.gen(function*() {
        const plan = yield* Plan.plan(Dag.make("d", [Job.make("a", { output: Schema.Struct({ n: Schema.Number }), run: () => Effect.succeed({ n: 1 }) })]))
        const hashes = Resume.definitionHashes(plan)
        const decision = yield* Resume.decide(plan, hashes, [
          { jobId: "a", json: `{"m":1}`, definitionHash: hashes.of(0) }
        ])
        assert.strictEqual(decision.restored.size, 0)
        // The schema's own message, whole: never cut mid-way with unbalanced brackets.
        assert.deepStrictEqual(decision.notes, [
          `"a" runs again: its journaled output no longer matches its output schema (Missing key at ["n"])`
        ])
        const ok = yield* Resume.decide(plan, hashes, [{ jobId: "a", json: `{"n":1}`, definitionHash: hashes.of(0) }])
        assert.deepStrictEqual(ok.restored.get("a"), { output: { n: 1 }, json: `{"n":1}` })
        // Journals written before 0.2 marked a secret without saying more.
        const secret = yield* Resume.decide(plan, hashes, [
          { jobId: "a", json: `{"~effect-runner/unrestorable":"the output holds a Redacted value"}`, definitionHash: hashes.of(0) }
        ])
        assert.strictEqual(secret.restored.size, 0)
        assert.deepStrictEqual(secret.notes, [
          `"a" runs again: its output was not journaled exactly (it holds a secret (Redacted), which the journal never stores)`
        ])
      }))
  })

  it.effect("an output holding a Redacted value is journaled as a marker, never in clear", () =>
    Effect.gen(function*() {
      const plain = yield* Encoding.encode(undefined, { s: "x" })
      assert.deepStrictEqual(plain, { _tag: "Restorable", json: `{"s":"x"}` })
      for (const schema of [undefined, Schema.Struct({ token: Schema.Redacted(Schema.String) })]) {
        const secret = yield* Encoding.encode(schema, { token: Redacted.make("hunter2") })
        assert.strictEqual(secret._tag, "Unrestorable")
        assert.notInclude(secret.json ?? "", "hunter2")
      }
    }))
  describe.each(backends)("on %s", (_name, open) => {
    it.effect("--key across journal instances (as across processes): a failed run is resumed with its jobs and checkpoints restored; then AlreadySucceeded; --force starts another run", () =>
      Effect.gen(function*() {
        const backend = open()
        const ran: Array<string> = []
        const fail = { value: true }
        const dag = makeDag(fail, ran)
        const key = { _tag: "Key", key: "k", force: false } as const
        const first = yield* execute(dag, key).pipe(Effect.provide(backend.layer()))
        assert.strictEqual(first.result?.status, "failed")
        fail.value = false
        const collected: Collected = { events: [], logs: [] }
        const second = yield* execute(dag, key, collected).pipe(Effect.provide(backend.layer()))
        assert.strictEqual(second.begun._tag === "Run" && second.begun.runId, first.begun._tag === "Run" && first.begun.runId)
        assert.strictEqual(second.result?.status, "succeeded")
        assert.deepStrictEqual(ran, ["first", "step1", "step2", "step3", "last"])
        const done = collected.events.find((e) => e._tag === "AttemptSucceeded" && e.jobId === "last")
        assert.deepStrictEqual(done?._tag === "AttemptSucceeded" && done.output, [11, 12, 13])
        assert.deepStrictEqual(second.result?.jobs.map((j) => j.status), ["restored", "succeeded", "succeeded"])
        const third = yield* execute(dag, key).pipe(Effect.provide(backend.layer()))
        assert.strictEqual(third.begun._tag, "AlreadySucceeded")
        const forced = yield* execute(dag, { ...key, force: true }).pipe(Effect.provide(backend.layer()))
        assert.strictEqual(forced.result?.status, "succeeded")
        assert.notStrictEqual(forced.begun._tag === "Run" && forced.begun.runId, second.begun._tag === "Run" && second.begun.runId)
        assert.deepStrictEqual(backend.query("SELECT status, run_key FROM runs ORDER BY started_at, rowid"), [
          "succeeded|k",
          "succeeded|k"
        ])
        assert.deepStrictEqual(backend.query("SELECT job_id, status FROM jobs ORDER BY run_id, rowid").slice(0, 3), [
          "first|succeeded",
          "steps|succeeded",
          "last|succeeded"
        ])
        assert.strictEqual(backend.query("SELECT count(*) FROM checkpoints")[0], "6")
        assert.deepStrictEqual(backend.query("SELECT count(*) FROM locks"), ["0"], "every lock released")
        const executions = backend.query("SELECT executions FROM runs ORDER BY started_at, rowid")[0]!
        assert.strictEqual(JSON.parse(executions).length, 0, "no audit was given")
        if (backend.name === "sqlite") assert.deepStrictEqual(backend.query("PRAGMA integrity_check"), ["ok"])
      }))

    it.live("a resume by run id restores; retries, failures, skips and the jobs' needs are journaled", () =>
      Effect.gen(function*() {
        const backend = open()
        let tries = 0
        const flaky = Job.make("flaky", {
          retry: { times: 2, delay: "1 millis" },
          run: () => Effect.suspend(() => ++tries < 2 ? Effect.fail("not yet") : Effect.succeed("ok"))
        })
        const broken = Job.make("broken", { needs: { flaky }, run: () => Effect.fail("broken") })
        const after = Job.make("after", { needs: { broken }, run: () => Effect.void })
        const { result } = yield* execute(Dag.make("events", [after]), { _tag: "New" }, undefined, "continue").pipe(
          Effect.provide(backend.layer())
        )
        assert.strictEqual(result?.status, "failed")
        assert.deepStrictEqual(backend.query("SELECT job_id, status, attempts FROM jobs ORDER BY rowid"), [
          "flaky|succeeded|2",
          "broken|failed|1",
          "after|skipped|0"
        ])
        assert.deepStrictEqual(backend.query("SELECT job_id, attempt, status FROM attempts ORDER BY id"), [
          "flaky|1|failed",
          "flaky|2|succeeded",
          "broken|1|failed"
        ])
        assert.deepStrictEqual(backend.query("SELECT needs FROM jobs ORDER BY rowid"), [`[]`, `["flaky"]`, `["broken"]`])
        // Resumed by its id: flaky is restored, broken runs again.
        const runId = backend.query("SELECT id FROM runs")[0]!
        const again = yield* execute(Dag.make("events", [after]), { _tag: "Resume", runId }, undefined, "continue")
          .pipe(Effect.provide(backend.layer()))
        assert.strictEqual(again.begun._tag === "Run" && again.begun.resumed, true)
        assert.deepStrictEqual(again.result?.jobs.map((j) => j.status), ["restored", "failed", "skipped"])
        assert.strictEqual(tries, 2, "flaky was not run again")
      }))

    it.live("a resumed run adds the rows of jobs its DAG gained, with their needs, and leaves the others as they are", () =>
      Effect.gen(function*() {
        const backend = open()
        const first = Job.make("first", { run: () => Effect.succeed(1) })
        const broken = Job.make("broken", { needs: { first }, run: () => Effect.fail("broken") })
        const { result } = yield* execute(Dag.make("grows", [broken]), { _tag: "Key", key: "k", force: false })
          .pipe(Effect.provide(backend.layer()))
        assert.strictEqual(result?.status, "failed")
        // The same key, the DAG edited: broken fixed (its definition changed: it runs again), and a job added.
        const fixed = Job.make("broken", { needs: { first }, run: () => Effect.succeed(2) })
        const added = Job.make("added", { needs: { first, fixed }, run: () => Effect.void })
        const again = yield* execute(Dag.make("grows", [fixed, added]), { _tag: "Key", key: "k", force: false })
          .pipe(Effect.provide(backend.layer()))
        assert.strictEqual(again.begun._tag === "Run" && again.begun.resumed, true)
        assert.deepStrictEqual(again.result?.jobs.map((j) => `${j.jobId}:${j.status}`), ["first:restored", "broken:succeeded", "added:succeeded"])
        assert.deepStrictEqual(backend.query("SELECT job_id, status, attempts, needs FROM jobs ORDER BY rowid"), [
          `first|succeeded|1|[]`,
          `broken|succeeded|2|["first"]`,
          `added|succeeded|1|["first","broken"]`
        ])
        // Resumed once more with nothing left to add: the key's run has succeeded, nothing is written.
        const third = yield* execute(Dag.make("grows", [fixed, added]), { _tag: "Key", key: "k", force: false })
          .pipe(Effect.provide(backend.layer()))
        assert.strictEqual(third.begun._tag, "AlreadySucceeded")
      }))

    it.live("a resumed run whose rows are all there keeps them as they were", () =>
      Effect.gen(function*() {
        const backend = open()
        let fail = true
        const first = Job.make("first", { run: () => Effect.succeed(1) })
        const second = Job.make("second", { needs: { first }, run: () => fail ? Effect.fail("not yet") : Effect.succeed(2) })
        yield* execute(Dag.make("same", [second]), { _tag: "Key", key: "k", force: false }).pipe(Effect.provide(backend.layer()))
        const before = backend.query("SELECT job_id, status, needs FROM jobs ORDER BY rowid")
        assert.deepStrictEqual(before, [`first|succeeded|[]`, `second|failed|["first"]`])
        fail = false
        const again = yield* execute(Dag.make("same", [second]), { _tag: "Key", key: "k", force: false })
          .pipe(Effect.provide(backend.layer()))
        assert.deepStrictEqual(again.result?.jobs.map((j) => `${j.jobId}:${j.status}`), ["first:restored", "second:succeeded"])
        assert.deepStrictEqual(backend.query("SELECT job_id, status, needs FROM jobs ORDER BY rowid"), [
          `first|succeeded|[]`,
          `second|succeeded|["first"]`
        ])
      }))

    it.live("a resume reads back each succeeded job's output text exactly, whatever its characters and size", () =>
      Effect.gen(function*() {
        const backend = open()
        const texts = [
          `quotes " and \\ backslashes, \\" both`,
          "control \u0001\u001f\t\r\n and U+2028 \u2028 and DEL \u007f",
          "astral 𝄞 ☃ 日本語, ".repeat(3),
          "x".repeat(1_000_000),
          "",
          "null"
        ]
        const made = texts.map((text, i) => Job.make(`out ${i} "☃"`, { output: Schema.String, run: () => Effect.succeed(text) }))
        const none = Job.make("no output", { run: () => Effect.void })
        // Ids that read as numbers come back as the same strings.
        const numeric = Job.make("007", { run: () => Effect.void })
        let fail = true
        const last = Job.make("last", {
          needs: Object.fromEntries([...made, none, numeric].map((job) => [job.id, job])),
          run: () => fail ? Effect.fail("not yet") : Effect.void
        })
        const dag = Dag.make("texts", [last])
        const key = { _tag: "Key", key: "k", force: false } as const
        yield* execute(dag, key).pipe(Effect.provide(backend.layer()))
        const runId = backend.query("SELECT id FROM runs")[0]!
        const rows = yield* Effect.flatMap(Journal.Journal, (journal) => journal.succeeded(runId)).pipe(
          Effect.provide(backend.layer())
        )
        const byId = new Map(rows.map((row) => [row.jobId, row]))
        assert.deepStrictEqual([...byId.keys()].sort(), [...made.map((job) => job.id), "no output", "007"].sort())
        texts.forEach((text, i) => assert.strictEqual(byId.get(made[i]!.id)!.json, JSON.stringify(text), `output ${i}`))
        assert.strictEqual(byId.get("no output")!.json, undefined)
        for (const row of rows) assert.match(row.definitionHash ?? "", /^[0-9a-f]{16}\|/)
        fail = false
        const collected: Collected = { events: [], logs: [] }
        const again = yield* execute(dag, key, collected).pipe(Effect.provide(backend.layer()))
        assert.deepStrictEqual(again.result?.jobs.map((j) => j.status), [...texts.map(() => "restored"), "restored", "restored", "succeeded"])
      }))

    it.effect("schedules, processes, checkpoints and log lines round-trip through the service", () =>
      Effect.scoped(Effect.gen(function*() {
        const backend = open()
        const journal = Context.get(yield* Layer.build(backend.layer()), Journal.Journal)
        assert.strictEqual((yield* journal.lastSlot("d"))._tag, "None")
        yield* journal.saveSlot("d", 2_000_000_000_000)
        yield* journal.saveSlot("d", 1_000)
        const slot = yield* journal.lastSlot("d")
        assert.strictEqual(slot._tag === "Some" && slot.value, 2_000_000_000_000, "the later slot is kept")
        const run = yield* journal.begin(request("d", { _tag: "New" }))
        assert.strictEqual(run._tag, "Run")
        const runId = run._tag === "Run" ? run.runId : ""
        const record = { runId, jobId: "j", attempt: 1, pid: 4242, pgid: 4242, host: os.hostname(), startTime: undefined, startedAt: 5 }
        yield* journal.processStarted(record)
        yield* journal.processStarted({ ...record, pid: 4343, pgid: 4343 })
        journal.log({ runId, jobId: "j", attempt: 1, at: 7, level: "INFO", message: "hello" })
        yield* journal.saveCheckpoint(runId, "j", "s", { json: `{"a":1}`, inputHash: "ih" })
        const processes = yield* journal.processes(runId)
        assert.deepStrictEqual(processes.map((p) => p.pid), [4242, 4343])
        yield* journal.processEnded(runId, 4242)
        yield* journal.saveCheckpoint(runId, "j", "s", { json: `{"a":2}`, inputHash: "ih" })
        assert.deepStrictEqual((yield* journal.processes(runId)).map((p) => p.pid), [4343])
        const checkpoint = yield* journal.checkpoint(runId, "j", "s")
        assert.deepStrictEqual(checkpoint._tag === "Some" && checkpoint.value, { json: `{"a":2}`, inputHash: "ih" })
        assert.deepStrictEqual(backend.query("SELECT level, message FROM logs"), ["INFO|hello"])
      })))

    it.effect("a job's success and output are committed before any dependent starts", () =>
      Effect.gen(function*() {
        const backend = open()
        const upstream = Job.make("upstream", { run: () => Effect.succeed({ rows: 42 }) })
        const seen: Array<unknown> = []
        const downstream = Job.make("downstream", {
          needs: { upstream },
          // Another connection (another process for PostgreSQL), as another runner would see the journal.
          run: () => Effect.sync(() => seen.push(...backend.query("SELECT status, output FROM jobs WHERE job_id = 'upstream'")))
        })
        const { result } = yield* execute(Dag.make("commit-order", [downstream]), { _tag: "New" }).pipe(
          Effect.provide(backend.layer())
        )
        assert.strictEqual(result?.status, "succeeded")
        assert.deepStrictEqual(seen, [`succeeded|{"rows":42}`])
      }))

    describe("run lock", () => {
      const begin = (ctx: Context.Context<Journal.Journal>, key: string) =>
        Context.get(ctx, Journal.Journal).begin(request("locked", { _tag: "Key", key, force: false }))

      it.effect("a second begin on the same DAG and key fails naming the holder; after release it succeeds", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const one = yield* Layer.build(backend.layer())
          const two = yield* Layer.build(backend.layer())
          const held = yield* Scope.make()
          const first = yield* Scope.provide(begin(one, "k"), held)
          assert.strictEqual(first._tag, "Run")
          const refused = yield* Effect.flip(Effect.scoped(begin(two, "k")))
          assert.strictEqual(refused._tag, "RunLocked")
          assert.match(refused.message, new RegExp(`^run \\S+ of "locked" \\(key k\\) is being executed by pid ${process.pid} on \\S+ since `))
          const other = yield* Effect.scoped(begin(two, "other-key"))
          assert.strictEqual(other._tag, "Run", "another key is not locked")
          yield* Scope.close(held, Exit.void)
          const after = yield* Effect.scoped(begin(two, "k"))
          assert.strictEqual(after._tag, "Run")
        })))

      it.effect("begins racing for one key: exactly one takes the lock", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const journals = yield* Effect.forEach([1, 2, 3, 4], () => Layer.build(backend.layer()))
          const held = yield* Scope.make()
          const outcomes = yield* Effect.forEach(
            journals,
            (journal) => Effect.result(Scope.provide(begin(journal, "race"), held)),
            { concurrency: "unbounded" }
          )
          assert.strictEqual(outcomes.filter((o) => o._tag === "Success" && o.success._tag === "Run").length, 1)
          assert.strictEqual(outcomes.filter((o) => o._tag === "Failure" && o.failure._tag === "RunLocked").length, 3)
          yield* Scope.close(held, Exit.void)
        })))

      it.effect("a lock not renewed for the staleness window is taken over; the first runner's writes are refused", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const journalAt = (at: number) =>
            Effect.gen(function*() {
              const clock = yield* TestClock.make()
              yield* clock.setTime(at)
              const journal = Context.get(yield* Layer.build(backend.layer()), Journal.Journal)
              return {
                journal,
                begin: (key: string) =>
                  journal.begin(request("locked", { _tag: "Key", key, force: false })).pipe(Effect.provideService(Clock.Clock, clock))
              }
            })
          // The first runner begins at t=0 and its clock never moves again: its heartbeat never runs.
          const first = yield* journalAt(0)
          const begun = yield* first.begin("k")
          if (begun._tag !== "Run") return assert.fail("not begun")
          yield* first.journal.record({
            _tag: "RunStarted", runId: begun.runId, resumed: false, dag: "locked", at: 0, jobIds: ["a", "b"], concurrency: 1, failureMode: "no-new"
          })
          const early = yield* journalAt(SqlJournal.STALE_AFTER_MILLIS)
          const refused = yield* Effect.flip(Effect.scoped(early.begin("k")))
          assert.strictEqual(refused._tag, "RunLocked")
          const second = yield* journalAt(SqlJournal.STALE_AFTER_MILLIS + 1)
          assert.deepStrictEqual(yield* second.begin("k"), { _tag: "Run", runId: begun.runId, resumed: true, key: "k" })
          // The first runner wakes up: a job's success must not count as committed, nor be written.
          const write = yield* Effect.exit(first.journal.record({
            _tag: "AttemptSucceeded", runId: begun.runId, jobId: "a", attempt: 1, at: 5, output: 1, json: "1"
          }, "h"))
          assert.isTrue(Exit.isFailure(write) && JSON.stringify(write.cause).includes("LockLost"), String(write))
          const lost = yield* Effect.exit(first.journal.lockLost(begun.runId))
          assert.isTrue(Exit.isFailure(lost))
          yield* second.journal.record({
            _tag: "AttemptSucceeded", runId: begun.runId, jobId: "b", attempt: 1, at: 7, output: 1, json: "1"
          }, "h")
          assert.deepStrictEqual(backend.query("SELECT job_id, status FROM jobs ORDER BY job_id"), ["a|pending", "b|succeeded"])
          assert.deepStrictEqual(backend.query("SELECT heartbeat_at FROM locks"), [String(SqlJournal.STALE_AFTER_MILLIS + 1)])
        })))

      it.effect("a lock whose holder process is dead is taken over", () =>
        Effect.scoped(Effect.gen(function*() {
          const backend = open()
          const journal = yield* Layer.build(backend.layer())
          backend.query(
            `INSERT INTO locks (lock_key, run_id, pid, host, since, heartbeat_at) VALUES ('key:locked:k', 'old-run', ${
              2 ** 22 + 12345
            }, '${os.hostname()}', ${Date.now()}, ${Date.now()})`
          )
          const taken = yield* Effect.scoped(begin(journal, "k"))
          assert.strictEqual(taken._tag, "Run")
        })))
    })
  })
})
