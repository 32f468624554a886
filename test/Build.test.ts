/**
 * The compiled runner in dist/ (scripts/build.ts, tsc) in a clone: bin/runner.js (src/bin.ts links to it) starts it
 * while it is fresh and the sources once any input is newer; a task file run through it gets the runner's compiled
 * effect-runner and the one installed Effect, with the same results as from the sources, on Node, Bun and Deno. The
 * tests build a copy of the runner, so they never rebuild the checkout's dist/ under other tests' feet.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { withDb } from "./support/db.ts"
import { bins, root, runnerCommand, type RuntimeName } from "./support/spawn.ts"

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]
const temporary: Array<string> = []
const tempDir = (prefix: string): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  temporary.push(dir)
  return dir
}

/** Which code a start used, as bin/runner.js reports it with RUNNER_DEBUG_START=1. */
const startedFrom = (stderr: string): string => /^runner: starting from (dist\/|src\/)/m.exec(stderr)?.[1] ?? "(not reported)"

/** A copy of a runner's files (times kept, src/bin.ts still a link to bin/runner.js), node_modules linked. */
const copyOf = (from: string, entries: ReadonlyArray<string>): string => {
  const copy = tempDir("runner-copy-")
  for (const entry of entries) {
    fs.cpSync(path.join(from, entry), path.join(copy, entry), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true })
  }
  fs.symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"))
  return copy
}

/** What a clone holds of the runner, without dist/. */
const runnerFiles = ["bin", "src", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json", "deno.json"]

/** The runner built from the current sources in a folder of its own: the tests never touch the checkout's dist/. */
let built = ""

beforeAll(() => {
  built = copyOf(root, runnerFiles)
  const build = spawnSync(bins.node, [path.join(built, "scripts/build.ts")], { cwd: built, encoding: "utf8" })
  assert.strictEqual(build.status, 0, build.stderr)
}, 120_000)

afterAll(() => {
  for (const dir of temporary) fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs a runner's src/bin.ts (the built one by default) as spawn.ts runs the checkout's. */
const runnerOf = (
  args: ReadonlyArray<string>,
  options: { readonly runtime?: RuntimeName; readonly cwd: string; readonly env?: Record<string, string>; readonly from?: string }
) => {
  const entry = path.join(options.from ?? built, "src/bin.ts")
  const [command, ...prefix] = runnerCommand(options.runtime ?? "node").map((part) =>
    part === path.join(root, "src/bin.ts") ? entry : part
  )
  const result = spawnSync(command!, [...prefix, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    encoding: "utf8",
    timeout: 60_000
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** `runner --version` on Node from a runner's folder: which code it started from, and why. */
const startOf = (from: string, env: Record<string, string> = {}): string => {
  const result = runnerOf(["--version"], { cwd: from, from, env: { RUNNER_DEBUG_START: "1", ...env } })
  assert.strictEqual(result.status, 0, result.stderr)
  assert.match(result.stdout, /^runner v\d+\.\d+\.\d+/)
  return result.stderr
}

describe("freshness", () => {
  it("a fresh dist/ starts; a source or package.json changed after the build makes the sources start", () => {
    const copy = copyOf(built, [...runnerFiles, "dist"])
    assert.strictEqual(startedFrom(startOf(copy)), "dist/")
    assert.strictEqual(startedFrom(startOf(copy, { RUNNER_DIST: "0" })), "src/")
    const later = new Date(Date.now() + 60_000)
    const job = path.join(copy, "src/Job.ts")
    const { atime, mtime } = fs.statSync(job)
    fs.utimesSync(job, later, later)
    const stale = startOf(copy)
    assert.strictEqual(startedFrom(stale), "src/")
    assert.include(stale, "src/Job.ts changed since the build")
    fs.utimesSync(job, atime, mtime)
    assert.strictEqual(startedFrom(startOf(copy)), "dist/")
    // The peer ranges and the version: package.json is an input too.
    fs.utimesSync(path.join(copy, "package.json"), later, later)
    assert.include(startOf(copy), "package.json changed since the build")
  })

  it("without dist/ the runner starts from the sources", () => {
    const copy = copyOf(built, runnerFiles)
    assert.include(startOf(copy), "starting from src/: no dist/")
  })
})

/**
 * Writes three files as checkpointed steps under a resource, the third failing once; sums their sizes with Effect
 * services; both jobs' outputs are Schema structs. It checks that its `effect/Effect` is the one installed Effect,
 * that `effect-runner` is the compiled runner exactly when EXPECT_DIST=1, and that importing a source file of the
 * runner by path gives the module the runner runs (the compiled one, from dist/).
 */
const task = `
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Schema from "effect/Schema"
import { Checkpoint, Dag, Job, Resource } from "effect-runner"

const root = process.env["RUNNER_ROOT"]!
const work = process.env["WORK_DIR"]!
const installed = await import(\`\${root}/node_modules/effect/dist/Effect.js\`)
if (Effect.succeed !== installed.succeed) throw new Error("a second copy of effect")
const compiledJob = await import(\`\${root}/dist/Job.js\`)
const fromDist = Job.make === compiledJob.make
if (fromDist !== (process.env["EXPECT_DIST"] === "1")) throw new Error(\`effect-runner from dist/: \${fromDist}\`)
const sourceJob = await import(\`\${root}/src/Job.ts\`)
if (Job.make !== sourceJob.make) throw new Error("src/Job.ts by path is a second copy of the runner")

class NotYet extends Data.TaggedError("NotYet")<{ readonly name: string }> {}

const disk = Resource.make("disk", { concurrency: 1 })

export const write = Job.make("write", {
  uses: [disk],
  output: Schema.Struct({ dir: Schema.String, names: Schema.Array(Schema.String) }),
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const dir = path.join(work, "files")
      yield* fs.makeDirectory(dir, { recursive: true })
      const names = yield* Effect.forEach(["a", "b", "c"], (name) =>
        Checkpoint.step(\`write:\${name}\`, Effect.gen(function*() {
          yield* fs.writeFileString(path.join(work, "ran.log"), \`\${name}\\n\`, { flag: "a" })
          const marker = path.join(work, "second-try")
          if (name === "c" && !(yield* fs.exists(marker))) {
            yield* fs.writeFileString(marker, "")
            return yield* new NotYet({ name })
          }
          yield* fs.writeFileString(path.join(dir, \`\${name}.txt\`), name.repeat(3))
          return \`\${name}.txt\`
        })))
      return { dir, names }
    })
})

export const total = Job.make("total", {
  needs: { write },
  output: Schema.Struct({ bytes: Schema.Number, files: Schema.Number }),
  run: ({ write }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const sizes = yield* Effect.forEach(write.names, (name) => disk.use(fs.stat(path.join(write.dir, name))))
      const bytes = sizes.reduce((sum, info) => sum + Number(info.size), 0)
      yield* Effect.log(\`total \${bytes} bytes in \${write.names.join(",")}\`)
      return { bytes, files: sizes.length }
    })
})

export default Dag.make("dist-check", [total])
`

interface Outcome {
  readonly statuses: ReadonlyArray<number | null>
  readonly log: string
  readonly ran: string
  readonly outputs: ReadonlyArray<unknown>
  readonly checkpoints: ReadonlyArray<unknown>
}

/** Runs the task (failing once, then resumed) from dist/ or the sources; what it did, without times or ids. */
const runTask = (runtime: RuntimeName, compiled: boolean): Outcome => {
  const work = tempDir(`runner-dist-${runtime}-`)
  const file = path.join(work, "check.ts")
  fs.writeFileSync(file, task)
  const journal = path.join(work, "journal.db")
  const env = {
    RUNNER_ROOT: built,
    WORK_DIR: work,
    EXPECT_DIST: compiled ? "1" : "0",
    RUNNER_DIST: compiled ? "" : "0",
    RUNNER_DEBUG_START: "1"
  }
  const args = [file, "--log-format", "plain", "--journal", journal]
  const first = runnerOf(args, { runtime, cwd: work, env })
  const resumed = runnerOf([...args, "--resume"], { runtime, cwd: work, env })
  for (const result of [first, resumed]) assert.strictEqual(startedFrom(result.stderr), compiled ? "dist/" : "src/")
  const outputs = withDb(journal, (db) =>
    db.prepare("SELECT job_id, status, output FROM jobs ORDER BY run_id, job_id").all().map((row) => ({
      ...row,
      output: row["output"] === null ? null : JSON.parse(String(row["output"]))
    })))
  const checkpoints = withDb(journal, (db) =>
    db.prepare("SELECT job_id, step, output FROM checkpoints ORDER BY step").all().map((row) => ({ ...row })))
  // The job's own log line, without the time in front.
  const log = (first.stdout + resumed.stdout).split("\n").filter((line) => line.includes("] total "))
    .map((line) => line.replace(/^\S+ /, "")).join("\n")
  return {
    statuses: [first.status, resumed.status],
    log,
    ran: fs.readFileSync(path.join(work, "ran.log"), "utf8"),
    outputs: outputs.map((row) => ({ ...row, output: row.output === null ? null : normalize(row.output, work) })),
    checkpoints
  }
}

const normalize = (value: unknown, work: string): unknown => JSON.parse(JSON.stringify(value).replaceAll(work, "<work>"))

describe.each(runtimes)("on %s", (runtime) => {
  it("a task with checkpoints, a resource, Effect services and Schema outputs runs from dist/ as from the sources", () => {
    const fromDist = runTask(runtime, true)
    assert.deepStrictEqual(fromDist.statuses, [1, 0], fromDist.log)
    // The resumed run restored steps a and b from their checkpoints: only c ran again.
    assert.strictEqual(fromDist.ran, "a\nb\nc\nc\n")
    assert.include(fromDist.log, "total 9 bytes in a.txt,b.txt,c.txt")
    assert.deepInclude(fromDist.outputs, { job_id: "total", status: "succeeded", output: { bytes: 9, files: 3 } })
    assert.deepInclude(fromDist.outputs, {
      job_id: "write",
      status: "succeeded",
      output: { dir: "<work>/files", names: ["a.txt", "b.txt", "c.txt"] }
    })
    assert.deepStrictEqual(fromDist.checkpoints.map((row) => (row as { step: string }).step), [
      "write:a",
      "write:b",
      "write:c"
    ])
    assert.deepStrictEqual(fromDist, runTask(runtime, false))
  }, 180_000)
})
