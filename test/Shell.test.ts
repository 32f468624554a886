import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import { type Collected, eventsOf, jobOf, runDag } from "./support/run.ts"
import { isAlive, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"


const waitFor = (predicate: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      if (predicate()) return
      yield* Effect.sleep(25)
    }
    throw new Error(`timed out waiting for ${what}`)
  })

describe("Job.shell", () => {
  it.live("streams output lines to the log prefixed with the job id and outputs stdout", () =>
    Effect.gen(function*() {
      const hello = Job.shell("hello", ["sh", "-c", "echo one; echo two; echo warn >&2"])
      const { events, logs, result } = yield* runDag(Dag.make("d", [hello]))
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(logs.map((l) => [l.jobId, l.message]).sort(), [["hello", "one"], ["hello", "two"], ["hello", "warn"]])
      assert.strictEqual(logs.find((l) => l.message === "warn")?.level, "warn")
      assert.deepStrictEqual(eventsOf(events, "AttemptSucceeded")[0]?.output, { exitCode: 0, stdout: "one\ntwo" })
    }))

  it.live("a non-zero exit is a typed failure with the exit code and the last stderr lines, and is retried", () =>
    Effect.gen(function*() {
      const script = "for i in $(seq 1 30); do echo line$i >&2; done; exit 3"
      const failing = Job.shell("failing", ["sh", "-c", script], { retry: { times: 1, delay: "1 millis" } })
      const { result } = yield* runDag(Dag.make("d", [failing]))
      const job = jobOf(result, "failing")
      assert.strictEqual(job.status, "failed")
      assert.strictEqual(job.attempts, 2)
      assert.match(job.detail!, /^ShellExitError: sh -c .* exited with code 3/)
      assert.include(job.detail!, "line30")
      assert.include(job.detail!, "line11")
      assert.notInclude(job.detail!, "line10\n")
    }))

  it.live("runs argv without a shell: metacharacters in arguments stay literal", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const weird = `a file; touch pwned $(id) 'quoted' "double"`
      const job = Job.shell("touch", Job.cmd`touch ${weird}`, { cwd: dir })
      const { result } = yield* runDag(Dag.make("d", [job]))
      assert.strictEqual(result.status, "succeeded", jobOf(result, "touch").detail)
      assert.deepStrictEqual(fs.readdirSync(dir), [weird])
    }))

  it.live("passes env (including Redacted values) and cwd, and argv can use needed outputs", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const name = Job.make("name", { run: () => Effect.succeed("out.txt") })
      const write = Job.shell(
        "write",
        ({ name }) => ["sh", "-c", `printf "%s:%s" "$GREETING" "$TOKEN" > "$0"`, name],
        { needs: { name }, cwd: dir, env: { GREETING: "hi", TOKEN: Redacted.make("s3cret") } }
      )
      const { result } = yield* runDag(Dag.make("d", [write]))
      assert.strictEqual(result.status, "succeeded")
      assert.strictEqual(fs.readFileSync(path.join(dir, "out.txt"), "utf8"), "hi:s3cret")
    }))

  it.live("secrets given to a command (Redacted argv or env) are masked if it prints them", () =>
    Effect.gen(function*() {
      const leaky = Job.shell("leaky", ["sh", "-c", `echo "token=$TOKEN arg=$0"; echo "err $TOKEN" >&2; exit 5`, Redacted.make("hunter2-arg")], {
        env: { TOKEN: Redacted.make("hunter2-env") }
      })
      const { logs, result } = yield* runDag(Dag.make("d", [leaky]))
      const job = jobOf(result, "leaky")
      assert.deepStrictEqual(logs.map((l) => l.message).sort(), ["err ***", "token=*** arg=***"])
      assert.match(job.detail!, /exited with code 5/)
      assert.include(job.detail!, "err ***")
      assert.notInclude(job.detail!, "hunter2")
    }))

  it.live("a timeout kills the whole process tree", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const pids = path.join(dir, "pids")
      const tree = Job.shell("tree", ["sh", "-c", `sleep 60 & echo $! >> ${pids}; sleep 60 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`], {
        timeout: "1 second"
      })
      const { result } = yield* runDag(Dag.make("d", [tree]))
      assert.match(jobOf(result, "tree").detail!, /JobTimeout/)
      const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number)
      assert.strictEqual(started.length, 3)
      yield* waitFor(() => started.every((pid) => !isAlive(pid)), "the process tree to die")
    }))

  it.live("interrupting the run kills running commands and their children", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const pids = path.join(dir, "pids")
      const jobs = [1, 2, 3].map((i) =>
        Job.shell(`sleeper${i}`, ["sh", "-c", `sleep 60 & echo $! >> ${pids}; echo $$ >> ${pids}; wait`])
      )
      const collected: Collected = { events: [], logs: [] }
      const fiber = yield* Effect.forkChild(runDag(Dag.make("d", jobs), { concurrency: 3 }, collected))
      yield* waitFor(() => fs.existsSync(pids) && fs.readFileSync(pids, "utf8").trim().split("\n").length === 6, "6 pids")
      const started = fs.readFileSync(pids, "utf8").trim().split("\n").map(Number)
      yield* Fiber.interrupt(fiber)
      yield* waitFor(() => started.every((pid) => !isAlive(pid)), "every child to die")
      assert.deepStrictEqual(eventsOf(collected.events, "JobInterrupted").map((e) => e.jobId).sort(), ["sleeper1", "sleeper2", "sleeper3"])
    }))

  it.live("a command's background processes are killed once it has exited", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const pids = path.join(dir, "pids")
      // The background sleep does not hold the output open, so the job ends when sh exits.
      const leaves = Job.shell("leaves", ["sh", "-c", `sleep 60 >/dev/null 2>&1 & echo $! > "$0"; echo done`, pids])
      const { result } = yield* runDag(Dag.make("d", [leaves]))
      assert.strictEqual(result.status, "succeeded", jobOf(result, "leaves").detail)
      const pid = Number(fs.readFileSync(pids, "utf8"))
      yield* waitFor(() => !isAlive(pid), "the background sleep to die")
    }))

  it.live("a failing command's group is ended at once, even while a background process holds its output open", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const pids = path.join(dir, "pids")
      // Without the group kill at exit, the job would wait 120 s for the sleep to close stdout (past the test timeout).
      const failing = Job.shell("failing", ["sh", "-c", `sleep 120 & echo $! > "$0"; echo oops >&2; exit 4`, pids])
      const { result } = yield* runDag(Dag.make("d", [failing]))
      assert.match(jobOf(result, "failing").detail!, /exited with code 4\n.*\n\s*oops/)
      const pid = Number(fs.readFileSync(pids, "utf8"))
      yield* waitFor(() => !isAlive(pid), "the background sleep to die")
    }))

  it.live("a program that cannot start, a missing cwd and a death by signal are typed failures with clear messages", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-"))
      const notExecutable = path.join(dir, "script.sh")
      fs.writeFileSync(notExecutable, "echo hi\n", { mode: 0o644 })
      const jobs = [
        Job.shell("missing", ["no-such-program-for-runner-tests", "x"], { retry: { times: 1, delay: "1 millis" } }),
        Job.shell("denied", [notExecutable]),
        Job.shell("nocwd", ["true"], { cwd: path.join(dir, "gone") }),
        Job.shell("signalled", ["sh", "-c", "kill -TERM $$"])
      ]
      const { result } = yield* runDag(Dag.make("d", jobs), { failureMode: "continue" })
      const missing = jobOf(result, "missing")
      assert.strictEqual(missing.attempts, 2, "a typed failure is retried")
      assert.strictEqual(
        missing.detail,
        "PlatformError: NotFound: ChildProcess.spawn (no-such-program-for-runner-tests x): no-such-program-for-runner-tests is not an executable on the PATH, nor a path to one"
      )
      assert.match(jobOf(result, "denied").detail!, /^PlatformError: PermissionDenied: ChildProcess\.spawn .*permission denied/)
      assert.strictEqual(
        jobOf(result, "nocwd").detail,
        `PlatformError: NotFound: FileSystem.access (${path.join(dir, "gone")}): the working directory does not exist`
      )
      assert.strictEqual(
        jobOf(result, "signalled").detail,
        "PlatformError: Unknown: ChildProcess.exitCode (sh -c 'kill -TERM $$'): killed by SIGTERM"
      )
    }))

  it.live("a NUL character is refused before the start, without showing the secret that holds it", () =>
    Effect.gen(function*() {
      const nul = Job.shell("nul", ["echo", Redacted.make("sec\0ret")])
      const { result } = yield* runDag(Dag.make("d", [nul]))
      const detail = jobOf(result, "nul").detail!
      assert.include(detail, "Argument 1 contains a NUL character")
      assert.notInclude(detail, "hunter")
    }))

  it.live("output is decoded as UTF-8 across chunks and split at \\n, \\r\\n and \\r; a last line needs no newline", () =>
    Effect.gen(function*() {
      // é is split between two writes; the \r of a \r\n ends one write and its \n starts the next.
      const script = `printf 'caf\\303'; sleep 0.2; printf '\\251\\r'; sleep 0.2; printf '\\nnext\\rcr\\r\\n\\nlast'`
      const lines = Job.shell("lines", ["sh", "-c", script])
      const { events, logs, result } = yield* runDag(Dag.make("d", [lines]))
      assert.strictEqual(result.status, "succeeded", jobOf(result, "lines").detail)
      assert.deepStrictEqual(logs.map((l) => l.message), ["café", "next", "cr", "", "last"])
      assert.deepStrictEqual(eventsOf(events, "AttemptSucceeded")[0]?.output, { exitCode: 0, stdout: "café\nnext\ncr\n\nlast" })
    }))

  it.live("large output: every line is logged, the first 64 KiB of stdout are the output", () =>
    Effect.gen(function*() {
      const big = Job.shell("big", ["seq", "1", "50000"])
      const { events, logs, result } = yield* runDag(Dag.make("d", [big]))
      assert.strictEqual(result.status, "succeeded", jobOf(result, "big").detail)
      assert.strictEqual(logs.length, 50000)
      assert.strictEqual(logs[49999]?.message, "50000")
      const output = eventsOf(events, "AttemptSucceeded")[0]?.output as { stdout: string }
      assert.strictEqual(output.stdout.length, 64 * 1024)
      assert.isTrue(output.stdout.startsWith("1\n2\n3\n"))
    }))
})

// The same behaviours through the real CLI on every runtime: each has its own way to start commands (src/internal/process/native.ts).
const secretArg = "argsecret-5f1c9d2e"
const secretEnv = "envsecret-8b3a7c41"
const taskFile = `import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { Dag, Job } from "effect-runner"

const pids = process.env["PIDS_FILE"]!
export const masked = Job.shell("masked", ["sh", "-c", 'echo "token=$TOKEN arg=$0"; echo "err $TOKEN" >&2; exit 5', Redacted.make(${JSON.stringify(secretArg)})], {
  env: { TOKEN: Redacted.make(${JSON.stringify(secretEnv)}) }, critical: false
})
export const big = Job.shell("big", ["seq", "1", "20000"])
export const captured = Job.make("captured", {
  needs: { big },
  run: ({ big }) => Effect.log(\`captured \${big.stdout.length} chars, starting \${JSON.stringify(big.stdout.slice(0, 6))}\`)
})
export const lines = Job.shell("lines", ["sh", "-c", "printf 'caf\\\\303'; sleep 0.2; printf '\\\\251\\\\r\\\\nnext\\\\rlast'"])
export const missing = Job.shell("missing", ["no-such-program-for-runner-tests", "x"], { critical: false })
export const tree = Job.shell("tree", ["sh", "-c", 'sleep 60 & echo $! >> "$0"; echo $$ >> "$0"; wait', pids], { timeout: "1 second", critical: false })
export const leaves = Job.shell("leaves", ["sh", "-c", 'sleep 60 >/dev/null 2>&1 & echo $! >> "$0"', pids])
export default Dag.make("shell-runtimes", [masked, captured, lines, missing, tree, leaves])
`

// With --failure-mode kill, "fails" fails once the sleepers' pids are written.
const sleepersFile = `import { Dag, Job } from "effect-runner"

const pids = process.env["PIDS_FILE"]!
export const sleepers = Job.shell("sleepers", ["sh", "-c", 'sleep 60 & echo $! >> "$0"; echo $$ >> "$0"; echo started; wait', pids])
export const fails = Job.shell("fails", ["sh", "-c", 'while [ "$(cat "$0" 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.05; done; exit 7', pids])
export default Dag.make("sleepers", [sleepers, fails])
`

const writeTaskFile = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-shell-rt-"))
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }))
  fs.writeFileSync(path.join(dir, "shell.ts"), taskFile)
  fs.writeFileSync(path.join(dir, "sleepers.ts"), sleepersFile)
  return { dir, file: path.join(dir, "shell.ts"), sleepers: path.join(dir, "sleepers.ts"), pids: path.join(dir, "pids") }
}

interface JsonLine {
  readonly event: string
  readonly jobId?: string
  readonly level: string
  readonly message: string
  readonly jobs?: ReadonlyArray<{ readonly jobId: string; readonly status: string; readonly detail?: string }>
}

const readPids = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").map(Number)

describe.each<RuntimeName>(["node", "bun", "deno"])("Job.shell on %s", (runtime) => {
  it("streams, masks and captures output; reports a missing program; kills the group on timeout and after exit", async () => {
    const { file, pids } = writeTaskFile()
    // Asynchronously: the output is larger than spawnSync's buffer.
    const result = await runnerAsync([file, "--journal", "none", "--log-format", "json", "--failure-mode", "continue"], { PIDS_FILE: pids }, runtime).done
    const lines = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as JsonLine)
    const logsOf = (jobId: string) => lines.filter((l) => l.event === "Log" && l.jobId === jobId)
    const summary = lines.find((l) => l.event === "RunFinished")!.jobs!
    const detail = (jobId: string) => summary.find((j) => j.jobId === jobId)?.detail ?? ""
    assert.strictEqual(result.status, 0, result.stderr)

    assert.deepStrictEqual(logsOf("masked").map((l) => [l.level, l.message]).sort(), [["info", "token=*** arg=***"], ["warn", "err ***"]])
    assert.match(detail("masked"), /^ShellExitError: sh -c .* exited with code 5\n.*\n\s*err \*\*\*$/)
    for (const secret of [secretArg, secretEnv]) {
      assert.notInclude(result.stdout, secret)
      assert.notInclude(result.stderr, secret)
    }

    const big = logsOf("big")
    assert.strictEqual(big.length, 20000)
    assert.deepStrictEqual([big[0]?.message, big[19999]?.message], ["1", "20000"])
    assert.deepStrictEqual(logsOf("captured").map((l) => l.message), [`captured ${64 * 1024} chars, starting "1\\n2\\n3\\n"`])
    assert.deepStrictEqual(logsOf("lines").map((l) => l.message), ["café", "next", "last"])

    assert.strictEqual(
      detail("missing"),
      "PlatformError: NotFound: ChildProcess.spawn (no-such-program-for-runner-tests x): no-such-program-for-runner-tests is not an executable on the PATH, nor a path to one"
    )
    assert.match(detail("tree"), /JobTimeout/)
    // tree: a background sleep and sh; leaves: a background sleep left by a command that succeeded.
    const started = readPids(pids)
    assert.strictEqual(started.length, 3)
    await waitUntil(() => started.every((pid) => !isAlive(pid)))
  })

  it("SIGINT, and the kill failure mode, end the whole process group of running commands", async () => {
    const { dir, sleepers, pids } = writeTaskFile()
    const child = runnerAsync([sleepers, "sleepers", "--journal", "none", "--log-format", "plain"], { PIDS_FILE: pids }, runtime)
    await waitUntil(() => fs.existsSync(pids) && readPids(pids).length === 2)
    const started = readPids(pids)
    child.process.kill("SIGINT")
    const { status, stdout } = await child.done
    assert.strictEqual(status, 130, stdout)
    await waitUntil(() => started.every((pid) => !isAlive(pid)))

    fs.rmSync(pids)
    const killed = runner([sleepers, "--journal", "none", "--log-format", "plain", "--failure-mode", "kill"], {
      runtime,
      cwd: dir,
      env: { PIDS_FILE: pids }
    })
    assert.strictEqual(killed.status, 1, killed.stdout + killed.stderr)
    assert.match(killed.stdout, /sleepers +interrupted/)
    const second = readPids(pids)
    assert.strictEqual(second.length, 2)
    await waitUntil(() => second.every((pid) => !isAlive(pid)))
  })
})
