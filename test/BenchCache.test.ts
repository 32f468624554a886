/**
 * Smoke test of the cache benchmark (bench/cache.ts --smoke): tiny sizes, one run, into a temp folder. Asserts that it
 * completes — every cached invocation it makes is checked from the runner's journal, so a second run that ran a job
 * fails it — and that it writes a verdict for each target of issue 13; not timings.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { bins, root } from "./support/spawn.ts"

describe("npm run bench:cache --smoke", () => {
  it("hashes, runs a cached DAG and a cached workspace, and writes cache-results.json into the given folder", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-cache-test-"))
    const result = spawnSync(bins.node, ["bench/cache.ts", "--smoke", "--out", out], { cwd: root, encoding: "utf8", timeout: 170_000 })
    assert.strictEqual(result.status, 0, result.stderr)

    const results = JSON.parse(fs.readFileSync(path.join(out, "cache-results.json"), "utf8"))
    assert.isTrue(results.smoke)
    assert.deepStrictEqual(
      results.targets.map((t: { target: string; met: unknown }) => [t.target.split(",")[0]!.split(" ")[0], typeof t.met]),
      [["key", "boolean"], ["50-job", "boolean"], ["10", "boolean"]]
    )
    assert.strictEqual(results.hash.files, 200)
    assert.isAbove(results.hash.inProcess.hashWarm.median, 0)
    assert.isAbove(results.dag.cached.median, 0)
    assert.strictEqual(results.dag.inProcess.cachedRun.samples.length, 1)
    const runners = Object.keys(results.peers.secondRuns).filter((name) => name.startsWith("effect-runner"))
    assert.deepStrictEqual(runners, ["effect-runner, one task file (node)", "effect-runner, runner ws build (node)"])
    fs.rmSync(out, { recursive: true, force: true })
  }, 180_000)
})
