import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Executor from "../src/internal/Executor.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Encoding from "../src/internal/Encoding.ts"
import * as Resume from "../src/internal/Resume.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { type Collected, collectingReporter } from "./support/run.ts"

const tempJournal = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "runner-journal-")), "journal.db")

const request = (dag: string, target: Journal.Target): Journal.BeginRequest => ({
  dag,
  target,
  definitionHash: "h",
  trigger: "test",
  runnerVersion: "test",
  wait: false
})

/** Begins (or resumes) a run of `dag` on the journal in context and executes it, as the CLI does. */
const execute = (dag: Dag.Dag, target: Journal.Target, collected: Collected = { events: [], logs: [] }) =>
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
      failureMode: "no-new",
      restored: decision.restored,
      resumed: begun.resumed
    }).pipe(Effect.provide(Layer.mergeAll(NodeServices.layer, FetchHttpClient.layer, collectingReporter(collected))))
    return { begun, result, notes: decision.notes }
  }))

describe("Journal", () => {
  describe("resume", () => {
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

    it.effect("on the SQLite journal too, across journal instances (as across processes)", () =>
      Effect.gen(function*() {
        const file = tempJournal()
        const ran: Array<string> = []
        const fail = { value: true }
        const dag = makeDag(fail, ran)
        yield* execute(dag, { _tag: "Key", key: "k", force: false }).pipe(
          Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
        )
        fail.value = false
        const second = yield* execute(dag, { _tag: "Key", key: "k", force: false }).pipe(
          Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
        )
        assert.strictEqual(second.result?.status, "succeeded")
        assert.deepStrictEqual(ran, ["first", "step1", "step2", "step3", "last"])
        const third = yield* execute(dag, { _tag: "Key", key: "k", force: false }).pipe(
          Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
        )
        assert.strictEqual(third.begun._tag, "AlreadySucceeded")
        const forced = yield* execute(dag, { _tag: "Key", key: "k", force: true }).pipe(
          Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
        )
        assert.strictEqual(forced.result?.status, "succeeded")
        assert.notStrictEqual(forced.begun._tag === "Run" && forced.begun.runId, second.begun._tag === "Run" && second.begun.runId)
        const db = new DatabaseSync(file)
        assert.deepStrictEqual(
          db.prepare("SELECT status, run_key FROM runs ORDER BY rowid").all().map((r) => ({ ...r })),
          [{ status: "succeeded", run_key: "k" }, { status: "succeeded", run_key: "k" }]
        )
        assert.strictEqual((db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check, "ok")
        db.close()
      }))

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
          { jobId: "a", json: `{"m":1}`, definitionHash: hashes[0] }
        ])
        assert.strictEqual(decision.restored.size, 0)
        // The schema's own message, whole: never cut mid-way with unbalanced brackets.
        assert.deepStrictEqual(decision.notes, [
          `"a" runs again: its journaled output no longer matches its output schema (Missing key at ["n"])`
        ])
        const ok = yield* Resume.decide(plan, hashes, [{ jobId: "a", json: `{"n":1}`, definitionHash: hashes[0] }])
        assert.deepStrictEqual(ok.restored.get("a"), { output: { n: 1 }, json: `{"n":1}` })
        // Journals written before 0.2 marked a secret without saying more.
        const secret = yield* Resume.decide(plan, hashes, [
          { jobId: "a", json: `{"~effect-runner/unrestorable":"the output holds a Redacted value"}`, definitionHash: hashes[0] }
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

  it.effect("a job's success and output are committed before any dependent starts", () =>
    Effect.gen(function*() {
      const file = tempJournal()
      const upstream = Job.make("upstream", { run: () => Effect.succeed({ rows: 42 }) })
      const seen: Array<unknown> = []
      const downstream = Job.make("downstream", {
        needs: { upstream },
        run: () =>
          Effect.sync(() => {
            // A separate connection, as another process would see the file.
            const db = new DatabaseSync(file, { readOnly: true })
            seen.push({ ...db.prepare("SELECT status, output FROM jobs WHERE job_id = 'upstream'").get() })
            db.close()
          })
      })
      const { result } = yield* execute(Dag.make("commit-order", [downstream]), { _tag: "New" }).pipe(
        Effect.provide(SqlJournal.layerSqlite({ filename: file, durability: "full" }))
      )
      assert.strictEqual(result?.status, "succeeded")
      assert.deepStrictEqual(seen, [{ status: "succeeded", output: `{"rows":42}` }])
    }))

  describe("run lock", () => {
    const begin = (ctx: Context.Context<Journal.Journal>, key: string) =>
      Context.get(ctx, Journal.Journal).begin(request("locked", { _tag: "Key", key, force: false }))

    it.effect("a second begin on the same DAG and key fails naming the holder; after release it succeeds", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = tempJournal()
        const one = yield* Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "normal" }))
        const two = yield* Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "normal" }))
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

    it.effect("a lock whose holder process is dead is taken over", () =>
      Effect.scoped(Effect.gen(function*() {
        const file = tempJournal()
        const journal = yield* Layer.build(SqlJournal.layerSqlite({ filename: file, durability: "normal" }))
        const db = new DatabaseSync(file)
        db.prepare("INSERT INTO locks (lock_key, run_id, pid, host, since, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?)")
          .run("key:locked:k", "old-run", 2 ** 22 + 12345, os.hostname(), Date.now(), Date.now())
        db.close()
        const taken = yield* Effect.scoped(begin(journal, "k"))
        assert.strictEqual(taken._tag, "Run")
      })))
  })
})
