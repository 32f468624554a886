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
import { isAlive } from "./support/spawn.ts"


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
})
