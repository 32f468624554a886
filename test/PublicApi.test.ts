/**
 * The public surface (src/index.ts): what task files write with and nothing the executor uses internally; errors that
 * are all Schema tagged errors; `Job.command` and its deprecated alias `Job.shell`; the data-last forms. The last test
 * writes a task file with only the public API and runs it through the CLI.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Errors from "../src/Errors.ts"
import * as Api from "../src/index.ts"
import * as Resume from "../src/internal/Resume.ts"
import * as SetupErrors from "../src/internal/SetupErrors.ts"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-public-api-")

describe("the public surface", () => {
  it("exports what task files write with, and none of the executor's internals", () => {
    assert.deepStrictEqual(Object.keys(Api).sort(), ["Checkpoint", "Dag", "Errors", "Job", "Partition", "Resource", "Retry", "Workspace"])
    const internals: Record<string, ReadonlyArray<string>> = {
      Resource: ["hold", "holdAll", "guardAttempt", "Registry", "CurrentWaits", "CurrentRegistry", "HeldByJob"],
      Checkpoint: ["CurrentStore", "Store"],
      Retry: ["policy"],
      Job: ["build", "callSites", "validateArgv", "TypeId"],
      Dag: ["plan"]
    }
    for (const [module, names] of Object.entries(internals)) {
      const exported = Object.keys(Api[module as keyof typeof Api])
      for (const name of names) assert.notInclude(exported, name, `${module}.${name} is internal`)
    }
    assert.isFunction(Api.Resource.withPermit)
    assert.isFunction(Api.Checkpoint.step)
    assert.isFunction(Api.Job.command)
    // The CLI's own errors are not part of it; the errors a job or a definition meets are.
    for (const name of ["TaskFileNotFound", "JournalNotFound", "PreflightFailed", "RunNotFound"]) assert.notProperty(Api.Errors, name)
    for (const name of ["ShellExitError", "JobTimeout", "CircuitOpen", "OutputInvalid", "LayerFailed", "InvalidOption"]) {
      assert.property(Api.Errors, name)
    }
  })

  it("every error is a Schema tagged error: its _tag is its name, and it round-trips with its message", () => {
    type ErrorClass = Schema.Codec<any, any> & { new(fields: any): Error & { readonly _tag: string } }
    const samples: ReadonlyArray<ErrorClass> = [
      ...Object.values(Errors),
      ...Object.values(SetupErrors)
    ].filter((value): value is any => typeof value === "function" && value.prototype instanceof Error)
    const fields: Record<string, unknown> = {
      ShellExitError: { jobId: "build", command: "npm run build", exitCode: 2, stderrTail: ["boom"] },
      JobTimeout: { jobId: "slow", timeout: "5s" },
      CircuitOpen: { resource: "api", retryInMillis: 1500 },
      OutputInvalid: { jobId: "a", issue: "Expected number" },
      OutputNotJournalable: { jobId: "a", reason: "it is circular" },
      LayerFailed: { dag: "d", reason: "no db" },
      InvalidOption: { where: "job \"a\" timeout", reason: "bad duration" },
      DuplicateJobId: { jobId: "a", places: ["x.ts:1", "y.ts:2"] },
      CycleDetected: { path: ["a", "b", "a"] },
      MissingDependency: { jobId: "a", need: "b", found: "undefined" },
      UnknownJob: { names: ["z"], available: ["a"] },
      WorkspaceNotFound: { from: "/tmp" },
      WorkspaceGlobEmpty: { pattern: "packages/*", source: "package.json workspaces" },
      PackageManifestInvalid: { manifest: "p/package.json", reason: "not JSON" },
      PackageNameDuplicate: { name: "p", manifests: ["a", "b"] },
      PackageCycle: { path: ["p", "q", "p"] },
      PackageTaskFileInvalid: { pkg: "p", file: "tasks/a.ts", reason: "syntax error" },
      WorkspaceInvalid: { root: "/w", problems: [new Errors.PackageCycle({ path: ["p", "q", "p"] })] },
      UnknownPackage: { filters: ["x"], available: ["p"] },
      AffectedUnavailable: { reason: "not a repository" },
      TaskFileNotFound: { file: "t.ts" },
      TaskFileIsFolder: { file: "tasks", taskFiles: ["tasks/a.ts"] },
      TaskFileInvalid: { file: "t.ts", location: undefined, reason: "syntax error" },
      NothingToRun: { file: "t.ts" },
      PreflightFailed: { dag: "d", problems: ["job \"a\": DB_URL is missing"] },
      RemoteJobFailed: { jobId: "a", error: "Error: connection refused" },
      JournalNotFound: { path: "j.db" },
      RunNotFound: { runId: "r", journal: "j.db" },
      JobNotInRun: { runId: "r", jobId: "a", available: ["b"] },
      JournalUnreadable: { path: "j.db", reason: "not a database" }
    }
    assert.deepStrictEqual(samples.map((error) => error.name).sort(), Object.keys(fields).sort())
    for (const ErrorClass of samples) {
      assert.isTrue(Schema.isSchema(ErrorClass), ErrorClass.name)
      const error = new ErrorClass(fields[ErrorClass.name])
      assert.strictEqual(error._tag, ErrorClass.name)
      const codec = Schema.toCodecJson(ErrorClass)
      const back = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeUnknownSync(codec)(error))))
      assert.instanceOf(back, ErrorClass)
      assert.strictEqual(back.message, error.message, ErrorClass.name)
    }
    // The messages people and tests match stay as they were.
    assert.strictEqual(
      new Errors.ShellExitError(fields["ShellExitError"] as any).message,
      "npm run build exited with code 2\n  stderr (last lines):\n    boom"
    )
    assert.strictEqual(new Errors.JobTimeout({ jobId: "slow", timeout: "5s" }).message, "attempt timed out after 5s")
  })

  it("Job.shell is a deprecated alias of Job.command: the same job, the same definition hash (resume does not re-run it)", () => {
    const viaCommand = Api.Job.command("pack", ["tar", "-czf", "out.tgz", "dir"], { timeout: "1 minute" })
    const viaShell = Api.Job.shell("pack", ["tar", "-czf", "out.tgz", "dir"], { timeout: "1 minute" })
    assert.strictEqual(viaShell.kind, viaCommand.kind)
    assert.strictEqual(viaShell.command, "tar -czf out.tgz dir")
    assert.strictEqual(Resume.definitionHash(viaShell), Resume.definitionHash(viaCommand))
  })

  it.effect("Checkpoint.step and Resource.withPermit run the effect in every form (outside a run, steps simply run)", () =>
    Effect.gen(function*() {
      const one = Api.Resource.make("public-api-one", { concurrency: 1 })
      let running = 0
      let most = 0
      const work = (n: number) =>
        Effect.gen(function*() {
          running++
          most = Math.max(most, running)
          yield* Effect.yieldNow
          running--
          return n
        })
      const results = yield* Effect.forEach([1, 2, 3, 4], (n) =>
        n % 2 === 0
          ? work(n).pipe(Api.Resource.withPermit(one), Api.Checkpoint.step(`n:${n}`))
          : Api.Checkpoint.step(`n:${n}`, Api.Resource.withPermit(work(n), one)), { concurrency: "unbounded" })
      assert.deepStrictEqual(results, [1, 2, 3, 4])
      assert.strictEqual(most, 1)
      assert.strictEqual(yield* Api.Checkpoint.step(Effect.succeed("x"), "effect-first"), "x")
    }))
})

const taskFile = (work: string) => `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Checkpoint, Dag, Job, Resource } from "effect-runner"

const work = ${JSON.stringify(work)}
const note = (line: string) => Effect.sync(() => fs.appendFileSync(work + "/ran.log", line + "\\n"))
const one = Resource.make("one-at-a-time", { concurrency: 1 })
let running = 0

/** Four calls, at most one at a time; each a durable step; fails once after its steps the first time. */
export const steps = Job.make("steps", {
  run: () =>
    Effect.gen(function*() {
      const done = yield* Effect.forEach(["a", "b", "c", "d"], (item) =>
        Effect.gen(function*() {
          if (++running > 1) return yield* Effect.die(new Error("two calls held the permit at once"))
          yield* note("step " + item)
          yield* Effect.sleep("10 millis")
          running--
          return item
        }).pipe(Resource.withPermit(one), Checkpoint.step("item:" + item)), { concurrency: "unbounded" })
      if (!fs.existsSync(work + "/second")) {
        fs.writeFileSync(work + "/second", "")
        return yield* Effect.fail("first run fails after its steps")
      }
      return done.join("")
    })
})

export const exits = Job.command("exits", ["sh", "-c", "echo failing >&2; exit 3"], { critical: false })
export const legacy = Job.shell("legacy", ["sh", "-c", "echo from the deprecated name"], { critical: false })
export const slow = Job.make("slow", { timeout: "50 millis", critical: false, run: () => Effect.never })

export default Dag.make("public-api", [steps, exits, legacy, slow], { concurrency: 4 })
`

describe("a task file written with the public API, through the CLI", () => {
  it("withPermit bounds the calls, data-last steps are not re-run on resume, command/shell/timeout fail typed", () => {
    const work = tempDir()
    const file = path.join(work, "tasks.ts")
    fs.writeFileSync(file, taskFile(work))
    const journal = path.join(work, "journal.db")
    const first = runner([file, "--journal", journal, "--log-format", "plain"])
    const firstOutput = first.stdout + first.stderr
    assert.strictEqual(first.status, 1, firstOutput)
    assert.include(firstOutput, "first run fails after its steps")
    assert.include(firstOutput, "sh -c 'echo failing >&2; exit 3' exited with code 3")
    assert.include(firstOutput, "attempt timed out after 50ms")
    assert.match(first.stdout, /legacy +succeeded/)
    const second = runner([file, "--journal", journal, "--log-format", "plain", "--resume"])
    // `exits` and `slow` fail again, but they are not critical.
    assert.strictEqual(second.status, 0, second.stdout + second.stderr)
    assert.match(second.stdout, /steps +succeeded/)
    // Each step ran once: the resumed run took their outputs from the journal.
    const ran = fs.readFileSync(path.join(work, "ran.log"), "utf8").trim().split("\n").sort()
    assert.deepStrictEqual(ran, ["step a", "step b", "step c", "step d"])
  })
})
