/** Resources through the real `runner`: crossed resources complete; a run that cannot make progress exits 70. */
import { assert, describe, it } from "vitest"
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import * as fs from "node:fs"
import { bins, root, runner, runnerAsync, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-resources-")

describe("resources through the CLI", () => {
  it("jobs using the same resources in opposite orders all run; the run exits 0", () => {
    const result = runner(["test/fixtures/crossed.ts", "--concurrency", "8", "--journal", path.join(tempDir(), "j.db")])
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    for (let i = 0; i < 20; i++) assert.match(result.stdout, new RegExp(`^\\S+ j${i} ✓ succeeded`, "m"), `j${i} ran`)
    assert.match(result.stdout, /run \S+ succeeded in/)
  })

  describe.each<RuntimeName>(["node", "bun", "deno"])("on %s", (runtime) => {
    it("a run whose jobs wait for each other forever exits 70 and says what each job waits for", () => {
      const started = Date.now()
      // A SQLite journal: its lock heartbeat must not keep the stalled process alive.
      const result = runner(["test/fixtures/stalls.ts", "--journal", path.join(tempDir(), "j.db"), "--concurrency", "4"], { runtime })
      assert.strictEqual(result.status, 70, result.stderr + result.stdout)
      assert.isBelow(Date.now() - started, 30_000)
      assert.match(result.stderr, /^runner: nothing can make progress/m)
      assert.match(result.stderr, /^ {4}left: attempt 1 runs, a call inside waits for a permit of "b"$/m)
      assert.match(result.stderr, /^ {4}right: attempt 1 runs, a call inside waits for a permit of "a"$/m)
      assert.match(result.stderr, /^ {4}third: waits to start attempt 1 for a permit of "a"$/m)
      assert.match(result.stderr, /^ {4}1 more job not started$/m)
      assert.notMatch(result.stdout, /succeeded/)
    })
  })

  it("the pretty live view does not keep a stalled run alive either", () => {
    const result = runner(["test/fixtures/stalls.ts", "--journal", "none", "--log-format", "pretty", "--concurrency", "4"])
    assert.strictEqual(result.status, 70, result.stderr + result.stdout)
    assert.include(result.stdout, "waiting: third, right for a; left for b")
    assert.match(result.stderr, /left: attempt 1 runs, a call inside waits for a permit of "b"/)
  })

  it("the guard: a program that waits for nothing that can come exits 70, not 0", () => {
    const script = [
      `import * as Deferred from "effect/Deferred"`,
      `import * as Effect from "effect/Effect"`,
      `import { runMain } from "./src/internal/runtime/Runtime.ts"`,
      `runMain(Effect.as(Deferred.await(Deferred.makeUnsafe()), 0), (program) => Effect.runFork(program))`
    ].join("\n")
    const result = spawnSync(bins.node, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 30_000 })
    assert.strictEqual(result.status, 70, result.stderr)
    assert.match(result.stderr, /^runner: nothing can make progress/m)
    assert.match(result.stderr, /\(no run was going\)/)
  })

  it("runner schedule: overlapping runs share one limit per resource name (their jobs never hold db together)", async () => {
    const dir = tempDir()
    const spans = path.join(dir, "spans")
    const spansOf = () =>
      fs.existsSync(spans)
        ? fs.readFileSync(spans, "utf8").split("\n").filter((l) => l !== "").map((l) => l.split(" ").map(Number) as [number, number])
        : []
    const daemon = runnerAsync(["schedule", "test/fixtures/schedule-shared.ts", "--journal", path.join(dir, "j.db"), "--grace", "1s"], {
      SPANS: spans
    })
    try {
      await waitUntil(() => spansOf().length >= 3, 30_000)
    } finally {
      daemon.process.kill("SIGTERM")
    }
    const result = await daemon.done
    assert.include([0, 130], result.status, result.stderr)
    const sorted = spansOf().sort((a, b) => a[0] - b[0])
    assert.isAtLeast(sorted.length, 3)
    for (let i = 1; i < sorted.length; i++) {
      assert.isAtLeast(sorted[i]![0], sorted[i - 1]![1], `runs overlapped on db: ${JSON.stringify(sorted)}`)
    }
  })
})
