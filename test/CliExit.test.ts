/**
 * Exit codes: every way a command can fail is mapped to its code in one table (src/internal/cli/exit.ts), which
 * agrees with the README's "Exit codes" table; the real runner exits with those codes for a task file written
 * against the public API.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { CycleDetected, InvalidOption, LayerFailed, UnknownJob, WorkspaceNotFound } from "../src/Errors.ts"
import {
  JobNotInRun,
  JournalNotFound,
  JournalUnreadable,
  PreflightFailed,
  RunNotFound,
  TaskFileNotFound
} from "../src/internal/SetupErrors.ts"
import {
  ChecksFailed,
  ClusterRunLocked,
  ClusterRunStopped,
  codes,
  ExitCode,
  exitOf,
  type Failure,
  InFile,
  InitRefused,
  JournalUnhealthy,
  NoCronLine,
  RunFailed,
  RunInterrupted,
  SchedulerInterrupted
} from "../src/internal/cli/exit.ts"
import { LockLost, RunLocked } from "../src/internal/Journal.ts"
import { root, runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-exit-")

/** A representative failure of each kind, its exit code, and whether a line goes to stderr (else stdout told it). */
const representatives: ReadonlyArray<readonly [string, Failure, number, "stderr" | "shown"]> = [
  ["a task file that does not exist", new InFile({ file: "x.ts", error: new TaskFileNotFound({ file: "x.ts" }) }), 2, "stderr"],
  ["jobs in a cycle", new InFile({ file: "t.ts", error: new CycleDetected({ path: ["a", "b", "a"] }) }), 2, "stderr"],
  ["an unknown job on the command line", new UnknownJob({ names: ["x"], available: ["a"] }), 2, "stderr"],
  ["an invalid flag value", new InvalidOption({ where: "--limit", reason: "must be a whole number >= 1, got 0" }), 2, "stderr"],
  ["config the preflight rejects", new PreflightFailed({ dag: "d", problems: ["job a: DB_URL is missing"] }), 2, "stderr"],
  ["no workspace", new WorkspaceNotFound({ from: "/tmp" }), 2, "stderr"],
  ["no journal for an operator command", new JournalNotFound({ path: "j.db" }), 2, "stderr"],
  ["an unreadable journal", new JournalUnreadable({ path: "j.db", reason: "not a database" }), 2, "stderr"],
  ["an unknown run id", new RunNotFound({ runId: "r", journal: "j.db" }), 2, "stderr"],
  ["a job not in the run", new JobNotInRun({ runId: "r", jobId: "x", available: ["a"] }), 2, "stderr"],
  ["a damaged journal (doctor)", new JournalUnhealthy({ journal: "j.db" }), 2, "shown"],
  ["checks that found problems", new ChecksFailed({ file: "t.ts", problems: 2 }), 2, "shown"],
  ["init that would overwrite a file", new InitRefused({ reason: "init would overwrite tasks/hello.ts" }), 2, "stderr"],
  ["cron with only seconds schedules", new NoCronLine(), 2, "shown"],
  ["a failed run", new RunFailed({ runId: "r" }), 1, "shown"],
  ["a layer that failed to build", new LayerFailed({ dag: "d", reason: "db offline" }), 1, "stderr"],
  ["a run another process executes", new RunLocked({ runId: "r", dag: "d", key: undefined, pid: 1, host: "h", since: 0 }), 75, "stderr"],
  ["a cluster run whose coordinator stopped", new ClusterRunStopped({ reason: "dag \"d\": its layer failed to build" }), 1, "stderr"],
  ["a cluster run another process executes", new ClusterRunLocked({ reason: "run r is being executed by pid 1" }), 75, "stderr"],
  ["a run whose lock was taken over", new LockLost({ runId: "r", holder: undefined, staleAfterMillis: 30_000 }), 75, "stderr"],
  ["an interrupted run", new RunInterrupted({ runId: "r" }), 130, "shown"],
  ["a scheduler stopped before its runs finished", new SchedulerInterrupted(), 130, "shown"]
]

/** The codes of README's "Exit codes" table. */
const documented = (): ReadonlySet<number> => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("### Exit codes"))
  const table = section.slice(0, section.indexOf("\n\n", section.indexOf("| code |")))
  return new Set([...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])))
}

describe("exit codes: one table maps every failure", () => {
  it.each(representatives)("%s exits %i", (_, failure, code, where) => {
    const exit = exitOf(failure)
    assert.strictEqual(exit.code, code)
    if (where === "stderr") assert.strictEqual(exit.stderr, `runner: ${failure.message}\n`)
    else assert.isUndefined(exit.stderr)
  })

  it("every failure of the table has a representative", () => {
    const covered = new Set(representatives.map(([, failure]) => failure._tag))
    // Setup errors of the task file share one code: TaskFileNotFound, CycleDetected and UnknownJob stand for them.
    const setup = Object.keys(codes).filter((tag) => !covered.has(tag as Failure["_tag"]))
    for (const tag of setup) assert.strictEqual(codes[tag as Failure["_tag"]], ExitCode.usage, tag)
  })

  it("the codes are the README's, no more and no fewer", () => {
    assert.deepStrictEqual([...documented()].sort((a, b) => a - b), Object.values(ExitCode).sort((a, b) => a - b))
    for (const [, , code] of representatives) assert.isTrue(documented().has(code), `${code} is documented`)
  })

  it("an error of a file names the file once", () => {
    assert.strictEqual(
      new InFile({ file: "t.ts", error: new CycleDetected({ path: ["a", "b", "a"] }) }).message,
      "t.ts: jobs depend on each other in a cycle: a -> b -> a"
    )
    assert.strictEqual(new InFile({ file: "x.ts", error: new TaskFileNotFound({ file: "x.ts" }) }).message, "x.ts: no such task file")
  })
})

const taskFile = `
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Dag, Job } from "effect-runner"

class Db extends Context.Service<Db, { readonly ping: Effect.Effect<void> }>()("user/Db") {}

export const ok = Job.make("ok", { run: () => Effect.succeed(1) })
export const broken = Job.make("broken", { run: () => Effect.fail("disk full") })
export const pinged = Job.make("pinged", { run: () => Effect.gen(function*() { yield* (yield* Db).ping }) })

const offline = Layer.effect(Db)(Effect.fail(new Error("db offline")))

export const layered = Dag.make("layered", [pinged], { layer: offline })
export default Dag.make("exits", [ok, broken])
`

describe.each<RuntimeName>(["node", "bun", "deno"])("exit codes of the real runner on %s, for a task file written with the public API", (runtime) => {
  it("0 when the jobs succeed, 1 when a critical job fails, 2 for an unknown job, nothing on stderr for a failed run", () => {
    const dir = tempDir()
    const file = path.join(dir, "exits.ts")
    fs.writeFileSync(file, taskFile)
    const run = (...args: Array<string>) => runner([file, "--journal", "none", ...args], { runtime })
    const ok = run("ok")
    assert.strictEqual(ok.status, 0, ok.stdout + ok.stderr)
    const failed = run()
    assert.strictEqual(failed.status, 1, failed.stdout + failed.stderr)
    assert.match(failed.stdout, /critical job "broken" failed/)
    assert.strictEqual(failed.stderr, "", "the summary on stdout says why; stderr stays empty")
    const unknown = run("nope")
    assert.strictEqual(unknown.status, 2)
    assert.strictEqual(unknown.stderr, `runner: ${file}: unknown job "nope"; the DAG has: ok, broken\n`)
  })

  it("1 with the layer's error when the DAG's layer fails to build; 2 when check finds problems", () => {
    const dir = tempDir()
    const file = path.join(dir, "layered.ts")
    fs.writeFileSync(file, taskFile.replace("export default Dag.make(\"exits\", [ok, broken])", "export default layered"))
    const layer = runner([file, "--journal", "none"], { runtime })
    assert.strictEqual(layer.status, 1, layer.stdout + layer.stderr)
    assert.match(layer.stderr, /^runner: dag "layered": its layer failed to build; no job ran: db offline/m)
    const check = runner(["check", path.join(dir, "missing.ts")], { runtime })
    assert.strictEqual(check.status, 2, check.stdout + check.stderr)
    assert.match(check.stdout, /1 problem: a run would not start/)
  })
})
