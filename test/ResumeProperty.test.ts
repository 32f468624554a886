/**
 * Properties of resume, over random DAGs: (1) after a run in which a random job failed, a resume restores exactly the
 * jobs that succeeded with a restorable output (and whose needs are restored), each once, equal to its original value
 * with its type; everything else runs once. (2) After random edits (argv, env, cwd, output schema, code), a changed
 * job or one downstream of a change is never restored, and an unchanged one always is. (3) The outputs round-trip on
 * Bun and Deno too.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import fc from "fast-check"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Encoding from "../src/internal/Encoding.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as Resume from "../src/internal/Resume.ts"
import * as SqlJournal from "../src/internal/sql/SqlJournal.ts"
import { type Collected, eventsOf, executeRun } from "./support/run.ts"
import { bins, root } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { type Sample, sample, sameValue } from "./support/values.ts"
import { spawnSync } from "node:child_process"

const tempDir = tempDirs("runner-resume-property-")

interface Spec {
  readonly sample: Sample
  /** Indexes of earlier jobs this one needs. */
  readonly deps: ReadonlyArray<number>
}

/** 1–60 jobs; each needs up to 3 earlier ones; one of them fails in the first run. */
const dagArbitrary = fc.integer({ min: 1, max: 60 }).chain((n) =>
  fc.record({
    specs: fc.tuple(...Array.from({ length: n }, (_, i) =>
      fc.record({
        sample,
        deps: i === 0 ? fc.constant([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: 3 })
      })
    )) as fc.Arbitrary<ReadonlyArray<Spec>>,
    failing: fc.nat(n - 1)
  })
)

const idOf = (i: number) => `job ${i}/☃ "x"`

interface Execution {
  readonly index: number
  readonly inputs: Record<string, unknown>
}

const build = (specs: ReadonlyArray<Spec>, failing: number, fail: { on: boolean }, executions: Array<Execution>) => {
  const jobs: Array<Job.Any> = []
  specs.forEach((spec, index) => {
    jobs.push(Job.make(idOf(index), {
      needs: Object.fromEntries(spec.deps.map((d) => [`n${d}`, jobs[d]!])),
      ...(spec.sample.schema === undefined ? {} : { output: spec.sample.schema }),
      run: (inputs: Record<string, unknown>) =>
        Effect.suspend(() => {
          executions.push({ index, inputs: { ...inputs } })
          return fail.on && index === failing ? Effect.fail("boom") : Effect.succeed(spec.sample.value)
        })
    }))
  })
  return Dag.make("property", jobs)
}

const execute = (dag: Dag.Dag, target: Journal.Target, collected: Collected) =>
  Effect.map(executeRun(dag, target, collected, 8), ({ result }) => result)

/** Runs, then resumes, and checks what was restored and what ran against the rule. */
const runAndResume = (specs: ReadonlyArray<Spec>, failing: number, journal: Layer.Layer<Journal.Journal, unknown>) =>
  Effect.gen(function*() {
    const fail = { on: true }
    const first: Array<Execution> = []
    const second: Array<Execution> = []
    yield* execute(build(specs, failing, fail, first), { _tag: "New" }, { events: [], logs: [] })
    fail.on = false
    const collected: Collected = { events: [], logs: [] }
    const result = yield* execute(build(specs, failing, fail, second), { _tag: "Resume", runId: undefined }, collected)

    // What the rule says: succeeded the first time (not the failing job, nor downstream of it), restorable, needs restored.
    const downstreamOfFailing = new Set<number>([failing])
    const restorable = new Set<number>()
    specs.forEach((spec, i) => {
      if (spec.deps.some((d) => downstreamOfFailing.has(d))) downstreamOfFailing.add(i)
      if (!downstreamOfFailing.has(i) && spec.sample.restorable && spec.deps.every((d) => restorable.has(d))) restorable.add(i)
    })

    assert.strictEqual(result.status, "succeeded")
    const restoredIds = eventsOf(collected.events, "JobRestored").map((e) => e.jobId).sort()
    assert.deepStrictEqual(restoredIds, [...restorable].map(idOf).sort(), "restored exactly once: the jobs the rule allows")
    const ran = second.map((e) => e.index).sort((a, b) => a - b)
    assert.deepStrictEqual(ran, specs.map((_, i) => i).filter((i) => !restorable.has(i)), "everything else ran once")
    for (const execution of second) {
      for (const d of specs[execution.index]!.deps) {
        const received = execution.inputs[`n${d}`]
        assert.isTrue(
          sameValue(specs[d]!.sample.value, received),
          `${idOf(execution.index)} received ${specs[d]!.sample.kind} from ${idOf(d)}${restorable.has(d) ? " (restored)" : ""} as it was`
        )
      }
    }
   }).pipe(Effect.provide(journal))

describe("resume, as a property over random DAGs", () => {
  it("restores each succeeded job once, equal to its original value and type; runs everything else once", async () => {
    await fc.assert(
      fc.asyncProperty(dagArbitrary, ({ failing, specs }) =>
        Effect.runPromise(runAndResume(specs, failing, Journal.layerMemory))),
      { numRuns: 60 }
    )
  }, 120_000)

  it("the same on a SQLite journal file", async () => {
    await fc.assert(
      fc.asyncProperty(dagArbitrary, ({ failing, specs }) =>
        Effect.runPromise(runAndResume(
          specs,
          failing,
          SqlJournal.layerSqlite({ filename: path.join(tempDir(), "j.db"), durability: "normal" })
        ))),
      { numRuns: 12 }
    )
  }, 120_000)
})

// --- Edits between the run and the resume ---

type Edit = "argv" | "env" | "cwd" | "schema" | "code"

interface EditableSpec {
  readonly shell: boolean
  readonly deps: ReadonlyArray<number>
  /** Which variant of each aspect the job is defined with. */
  readonly variant: { readonly argvFn: boolean; readonly envFn: boolean; readonly withCwd: boolean }
}

/** The output schema after `edits` edits: none at first, then a different one for every edit. */
const schemaAfter = (edits: number): Schema.Codec<any, any, never, never> | undefined =>
  edits === 0 ? undefined : Schema.Struct({ n: Schema.Number, [`note${edits}`]: Schema.optional(Schema.String) })

/** A job defined from its spec and its edit counters: each counter bump is an edit of that aspect. */
const define = (spec: EditableSpec, index: number, edits: Readonly<Record<Edit, number>>, jobs: ReadonlyArray<Job.Any>) => {
  const needs = Object.fromEntries(spec.deps.map((d) => [`n${d}`, jobs[d]!]))
  if (spec.shell) {
    const argv = spec.variant.argvFn
      ? new Function(`return () => ["echo", "argv-${edits.argv}"]`)() as () => Job.Argv
      : ["echo", `argv-${edits.argv}`]
    const env = spec.variant.envFn
      ? new Function(`return () => ({ MODE: "env-${edits.env}" })`)() as () => Job.Env
      : { MODE: `env-${edits.env}` }
    const cwd = spec.variant.withCwd || edits.cwd > 0 ? `dir-${edits.cwd}` : undefined
    return Job.shell(idOf(index), argv, { needs, env, ...(cwd === undefined ? {} : { cwd }) })
  }
  const run = new Function("Effect", `return () => Effect.succeed({ n: ${edits.code} })`)(Effect)
  const output = schemaAfter(edits.schema)
  return Job.make(idOf(index), { needs, run, ...(output === undefined ? {} : { output }) })
}

const editsArbitrary = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    specs: fc.tuple(...Array.from({ length: n }, (_, i) =>
      fc.record({
        shell: fc.boolean(),
        deps: i === 0 ? fc.constant([]) : fc.uniqueArray(fc.nat(i - 1), { maxLength: 3 }),
        variant: fc.record({ argvFn: fc.boolean(), envFn: fc.boolean(), withCwd: fc.boolean() })
      })
    )) as fc.Arbitrary<ReadonlyArray<EditableSpec>>,
    edits: fc.array(fc.tuple(fc.nat(), fc.constantFrom<Edit>("argv", "env", "cwd", "schema", "code")), { maxLength: 6 })
  })
)

describe("edits between a run and its resume, as a property", () => {
  it("a changed job, or one downstream of a change, is never restored; an unchanged one always is", async () => {
    await fc.assert(
      fc.asyncProperty(editsArbitrary, ({ edits, specs }) =>
        Effect.runPromise(Effect.gen(function*() {
          const none: Record<Edit, number> = { argv: 0, env: 0, cwd: 0, schema: 0, code: 0 }
          const counters = specs.map(() => ({ ...none }))
          const changed = new Set<number>()
          for (const [target, edit] of edits) {
            const i = target % specs.length
            const spec = specs[i]!
            // An edit applies to what the job has: argv, env and cwd to shell jobs, schema and code to Effect jobs.
            const applies = spec.shell ? edit === "argv" || edit === "env" || edit === "cwd" : edit === "schema" || edit === "code"
            if (!applies) continue
            counters[i]![edit]++
            changed.add(i)
          }
          const dagOf = (version: ReadonlyArray<Readonly<Record<Edit, number>>>) => {
            const jobs: Array<Job.Any> = []
            specs.forEach((spec, i) => jobs.push(define(spec, i, version[i]!, jobs)))
            return Dag.make("edits", jobs)
          }
          const before = yield* Plan.plan(dagOf(specs.map(() => none)))
          const after = yield* Plan.plan(dagOf(counters))
          // Every job succeeded before the edits, journaled as the runner journals it.
          const rows = yield* Effect.forEach(before.jobs, (planned) =>
            Effect.map(
              Encoding.encode(planned.job.output, planned.job.kind === "shell" ? { exitCode: 0, stdout: "" } : { n: 0 }),
              (encoded) => ({ jobId: planned.job.id, json: encoded.json, definitionHash: Resume.definitionHash(planned.job) })
            ))
          const decision = yield* Resume.decide(after, Resume.definitionHashes(after), rows)
          const tainted = new Set<number>()
          specs.forEach((spec, i) => {
            if (changed.has(i) || spec.deps.some((d) => tainted.has(d))) tainted.add(i)
          })
          const expected = specs.map((_, i) => i).filter((i) => !tainted.has(i)).map(idOf).sort()
          assert.deepStrictEqual([...decision.restored.keys()].sort(), expected)
        }))),
      { numRuns: 200 }
    )
  }, 60_000)
})

describe("the outputs round-trip on every runtime", () => {
  it.each([
    ["bun", [bins.bun, "test/runtime/roundtrip.ts"]],
    ["deno", [bins.deno, "run", "-A", "test/runtime/roundtrip.ts"]],
    ["node", [bins.node, "test/runtime/roundtrip.ts"]]
  ] as const)("on %s", (_, [command, ...args]) => {
    const result = spawnSync(command, [...args, "300"], { cwd: root, encoding: "utf8", timeout: 60_000 })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.strictEqual(result.stdout.trim(), "roundtrip ok 300")
  })
})
