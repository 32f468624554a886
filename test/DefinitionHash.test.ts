/**
 * A job's definition hash is what a resume compares with the journal: its stable part must stay the digest of
 * `JSON.stringify([id, kind, [[need name, need id], ...], [config keys], schema, shell])` as journals written before
 * the text was built by hand hold it, or every old journal's jobs would run again. Also how a plan numbers, levels
 * and links jobs, with and without a selection, since resume decides in plan order.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Plan from "../src/internal/Plan.ts"
import * as Resume from "../src/internal/Resume.ts"

const run = () => Effect.succeed(1)
const odd = Job.make(`we"ird\\id ünï 😀 \u2028`, { run })
const withConfig = Job.make("b", {
  // "1" is an integer key: it comes first whatever the order written, in the old form and the new.
  needs: { zz: odd, "qu\"ote": odd, "1": odd },
  config: { DB_URL: Config.String("DB_URL"), "k\"ey": Config.Number("N") },
  run
})
const withSchema = Job.make("schema", {
  needs: { b: withConfig },
  output: Schema.Struct({ n: Schema.Number, s: Schema.optional(Schema.String), tag: Schema.Literal("x\"y") }),
  run: () => Effect.succeed({ n: 1, tag: "x\"y" as const })
})
const command = Job.command("sh ✓", ["echo", Redacted.make("secret"), "a b"], {
  cwd: "sub dir",
  env: { A: "1", TOKEN: Redacted.make("x") }
})
const computed = Job.command("fn", () => ["echo"], { env: () => ({}), needs: { command } })

const digest = (text: string) => crypto.createHash("sha256").update(text).digest("hex").slice(0, 16)
const secretFree = (value: string | Redacted.Redacted<string>) => Redacted.isRedacted(value) ? "(redacted)" : value

/** The stable part as the journal's first form computed it (commit 5a286af^), for a job without an output schema. */
const oldStable = (job: Job.Any): string => {
  const shell = job.shell === undefined ? null : {
    argv: typeof job.shell.argv === "function" ? "(function)" : job.shell.argv.map(secretFree),
    cwd: job.shell.cwd ?? null,
    env: typeof job.shell.env === "function"
      ? "(function)"
      : job.shell.env === undefined
      ? null
      : Object.entries(job.shell.env).map(([name, value]) => [name, secretFree(value)])
  }
  return digest(JSON.stringify([
    job.id,
    job.kind,
    Object.entries(job.needs).map(([name, need]) => [name, need.id]),
    Object.keys(job.config),
    null,
    shell
  ]))
}

const stableOf = (job: Job.Any) => Resume.definitionHash(job).split("|")[0]

describe("definitionHash", () => {
  it("has the stable part of the old JSON.stringify form, for odd ids, needs, config and commands", () => {
    for (const job of [odd, withConfig, command, computed]) assert.strictEqual(stableOf(job), oldStable(job), job.id)
  })

  it("keeps the stable parts journals hold (computed by the code before the text was written out)", () => {
    // Computed by src/internal/Resume.ts of commit 5a286af^ (JSON.stringify of arrays), on Node, Bun and Deno alike.
    const journaled: ReadonlyArray<readonly [Job.Any, string]> = [
      [odd, "dd3821659902e662"],
      [withConfig, "79046f55a13aadd3"],
      [withSchema, "142440e0fe0a9dea"],
      [command, "691adb7d88e9b440"],
      [computed, "d2c7ebee4fb3c061"]
    ]
    for (const [job, stable] of journaled) assert.strictEqual(stableOf(job), stable, job.id)
  })

  it("is stable|runtime|code, and the same for the same definition", () => {
    const parts = Resume.definitionHash(withSchema).split("|")
    assert.strictEqual(parts.length, 3)
    assert.strictEqual(Resume.definitionHash(withSchema), Resume.definitionHash(withSchema))
    const twin = Job.make("schema", {
      needs: { b: withConfig },
      output: Schema.Struct({ n: Schema.Number, s: Schema.optional(Schema.String), tag: Schema.Literal("x\"y") }),
      run: () => Effect.succeed({ n: 1, tag: "x\"y" as const })
    })
    assert.strictEqual(stableOf(twin), stableOf(withSchema))
  })
})

describe("Plan.plan", () => {
  const noop = () => Effect.void
  const a = Job.make("a", { run: noop })
  const b = Job.make("b", { needs: { a }, run: noop })
  const c = Job.make("c", { needs: { a }, run: noop })
  const d = Job.make("d", { needs: { c, b }, run: noop })
  const lone = Job.make("lone", { run: noop })
  const dag = Dag.make("x", [d, lone])
  const shape = (plan: Plan.Plan) =>
    plan.jobs.map((p) => ({
      id: p.job.id,
      index: p.index,
      level: p.level,
      deps: p.deps.map((dep) => `${dep.name}=${plan.jobs[dep.index]!.job.id}`),
      dependents: p.dependents.map((i) => plan.jobs[i]!.job.id)
    }))

  it.effect("orders depth-first, needs before the job, with levels and dependents in plan order", () =>
    Effect.gen(function*() {
      const plan = yield* Plan.plan(dag)
      assert.deepStrictEqual(shape(plan), [
        { id: "a", index: 0, level: 0, deps: [], dependents: ["c", "b"] },
        { id: "c", index: 1, level: 1, deps: ["a=a"], dependents: ["d"] },
        { id: "b", index: 2, level: 1, deps: ["a=a"], dependents: ["d"] },
        { id: "d", index: 3, level: 2, deps: ["c=c", "b=b"], dependents: [] },
        { id: "lone", index: 4, level: 0, deps: [], dependents: [] }
      ])
      assert.deepStrictEqual(plan.levels, [[0, 4], [1, 2], [3]])
    }))

  it.effect("a selection keeps the named jobs and what they need, renumbered, with only kept dependents", () =>
    Effect.gen(function*() {
      const plan = yield* Plan.plan(dag, ["b", "lone"])
      assert.deepStrictEqual(shape(plan), [
        { id: "a", index: 0, level: 0, deps: [], dependents: ["b"] },
        { id: "b", index: 1, level: 1, deps: ["a=a"], dependents: [] },
        { id: "lone", index: 2, level: 0, deps: [], dependents: [] }
      ])
      assert.deepStrictEqual(plan.levels, [[0, 2], [1]])
      const unknown = yield* Effect.flip(Plan.plan(dag, ["nope"]))
      assert.strictEqual(unknown._tag, "UnknownJob")
    }))

  it.effect("a need that is not a job is reported with the job and the need's name", () =>
    Effect.gen(function*() {
      const broken = Job.make("broken", { needs: { gone: undefined as unknown as Job.Any }, run: noop })
      const error = yield* Effect.flip(Plan.plan(Dag.make("y", [broken])))
      assert.strictEqual(error._tag, "MissingDependency")
    }))
})
