/**
 * Smoke suite per runtime: the example tasks, a task file outside the repository (effect and effect-runner must be
 * the runner's own copy), bad input, and signals — on Node, Bun and Deno, each spawned as a user would.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { isAlive, type Result, root, runner, runnerAsync, runnerCommand, type RuntimeName, waitUntil } from "./support/spawn.ts"

const runtimes: ReadonlyArray<RuntimeName> = ["node", "bun", "deno"]
const tasks = ["nightly", "hash-files", "etl", "monorepo"]

/** Runs the runner to completion in `cwd` without blocking this process: the example runs overlap their waits. */
const runIn = (runtime: RuntimeName, cwd: string, args: ReadonlyArray<string>) =>
  new Promise<Result>((resolve) => {
    const [command, ...prefix] = runnerCommand(runtime)
    const child = spawn(command!, [...prefix, ...args], { cwd, env: { ...process.env, NO_COLOR: "1" } })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("close", (status) => resolve({ status, stdout, stderr }))
  })

// The examples wait on retry delays and a rate limit (etl): the twelve (each in its own folder) run concurrently.
describe.concurrent("the example tasks", () => {
  it.each(runtimes.flatMap((runtime) => tasks.map((task) => [runtime, task] as const)))(
    "on %s: tasks/%s.ts runs to success from a fresh directory, and again (idempotent)",
    async (runtime, task) => {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), `runner-${runtime}-`))
      for (const round of [1, 2]) {
        const result = await runIn(runtime, cwd, [path.join(root, "tasks", `${task}.ts`), "--log-format", "plain"])
        assert.strictEqual(result.status, 0, `round ${round}\n${result.stdout}\n${result.stderr}`)
        assert.match(result.stdout, /run \S+ succeeded in/)
      }
      fs.rmSync(cwd, { recursive: true, force: true })
    },
    120_000
  )
})

describe.each(runtimes)("on %s", (runtime) => {

  it("a task file outside the repository gets the runner's own effect and effect-runner (enum, extensionless import)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runner-outside-${runtime}-`))
    for (const file of ["identity.ts", "identity-helper.ts"]) {
      fs.copyFileSync(path.join(root, "test/runtime/fixtures", file), path.join(dir, file))
    }
    const result = runner([path.join(dir, "identity.ts"), "--log-format", "plain"], {
      runtime,
      cwd: dir,
      env: { RUNNER_ROOT: root }
    })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /run \S+ succeeded/)
  })

  it("bad input: a syntax error names file:line and exits 2", () => {
    const result = runner(["test/fixtures/syntax-error.ts"], { runtime })
    assert.strictEqual(result.status, 2)
    assert.match(result.stderr, /^runner: test\/fixtures\/syntax-error\.ts:4: syntax error: /m)
  })

  it("SIGTERM interrupts the run, kills the job's process and exits 130", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-signal-"))
    const pids = path.join(dir, "pids")
    const child = runnerAsync(["test/fixtures/sleeper.ts", "--log-format", "plain"], { PIDS_FILE: pids }, runtime)
    await waitUntil(() => fs.existsSync(pids) && fs.readFileSync(pids, "utf8").trim().split("\n").length === 6)
    const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number)
    child.process.kill("SIGTERM")
    const { status, stdout } = await child.done
    assert.strictEqual(status, 130, stdout)
    assert.match(stdout, /was interrupted after/)
    await waitUntil(() => started.every((pid) => !isAlive(pid)))
  })
})
