/**
 * Smoke test of the benchmark harness (bench/run.ts --smoke): tiny workloads, one run, make as the only peer, the
 * runner on Node, into a temp folder. Asserts that it completes and writes a table for every scenario — not timings.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import * as Report from "../bench/report.ts"
import { bins, root } from "./support/spawn.ts"

describe("npm run bench --smoke", () => {
  it("runs every scenario and writes RESULTS.md and results.json into the given folder, not into bench/", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "runner-bench-test-"))
    const committed = path.join(root, "bench/RESULTS.md")
    const before = fs.existsSync(committed) ? fs.readFileSync(committed, "utf8") : undefined
    const result = spawnSync(bins.node, ["bench/run.ts", "--smoke", "--runtimes", "node", "--out", out], {
      cwd: root,
      encoding: "utf8",
      timeout: 170_000
    })
    assert.strictEqual(result.status, 0, result.stderr)

    const markdown = fs.readFileSync(path.join(out, "RESULTS.md"), "utf8")
    for (const heading of [
      "## Targets",
      "## 1. Shell jobs",
      "## 2. In-process no-op jobs",
      "## 3. Chain of jobs",
      "## 4. Cold start",
      "## 5. Resume of a run killed at 50%",
      "## 6. Memory of a large DAG",
      "## 7. Shell job spawn under a large heap"
    ]) assert.include(markdown, heading)
    // One target row per scenario, each with a verdict.
    for (const target of [
      /in-process jobs, 10 levels \(Node\), journal FULL \| .* \| (MET|\*\*MISSED\*\*) \|/,
      /in-process jobs, 10 levels \(Node\), in-memory journal \| ≤ 10 µs per job \| .*Effect alone forking/,
      /-job chain, journal FULL \(Node\) \|/,
      /shell jobs layered, c8, default journal \(Node\) \| ≤ 2× make -j8 \| .* \| (MET|\*\*MISSED\*\*) \| .*the runtime's floor/,
      /`runner tasks\/hello.ts` minus the bare runtime \(Node\) \| ≤ 60 ms \| .*importing hello.ts alone.*a plain Effect program that logs hello.*a plain effect\/cli program/,
      /`runner --version` minus the bare runtime \(Node\) \| ≤ 30 ms \|/,
      /`runner list tasks\/hello.ts` minus the bare runtime \(Node\) \| ≤ 30 ms \|/,
      /resume \d+-job run killed at 50% \(Node\) \| ≤ 150 ms to the first new job after start-up \| .*defining the \d+ jobs \(importing the task file alone/,
      /-job DAG, heap per queued job \(Node\) \|/,
      /-job DAG, peak RSS \(Node\) \| ≤ 150 MB \| .* the runtime having only imported the task file.*only imported the [\d,]+-job task file.*a plain Effect program running the same DAG.*inside a plain effect\/cli program, each job.s start and end written to SQLite/,
      /shell job spawn with \d+ MiB heap held \(Node\) \|/
    ]) assert.match(markdown, target)
    // The start-up profile: the runner's marks, from the bin's first to the run's begin.
    assert.match(markdown, /### Where the start of `runner tasks\/hello.ts` goes/)
    // Times past a second have a thousands separator (a loaded machine's start: "1,023 ms").
    assert.match(markdown, /\| bin started \| [\d.,]+ ms \|/)
    assert.match(markdown, /\| run begun in the journal; its first jobs start \| [\d.,]+ ms \(\+[\d.,]+ ms\) \|/)
    assert.match(markdown, /\| make -j8 \| .* \| 1\.00× \| .* \| 1\.00× \|/)

    const results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8"))
    assert.isTrue(results.smoke)
    // What other processes used while it ran: the machine's busy CPU time minus the benchmark's own, children included.
    const work: Report.OtherWork = results.machine.otherWork
    assert.isTrue(work.ownSeconds > 0.5 && work.busySeconds >= work.ownSeconds * 0.5, JSON.stringify(work))
    assert.match(markdown, /while it ran, other processes used [\d.]+ cores on average/)
    const verified: ReadonlyArray<{ name: string; jobs: number; executed: number }> = results.scenarios.shell.verified
    assert.deepStrictEqual(
      verified.map((v) => [v.name, v.executed === v.jobs]),
      [["make -j8", true], ["effect-runner (node)", true]]
    )
    const resume: ReadonlyArray<{ restored: ReadonlyArray<number>; jobs: number }> = results.scenarios.resume
    assert.isTrue(resume[0]!.restored[0]! > 0 && resume[0]!.restored[0]! < resume[0]!.jobs, "the killed run is resumed, not rerun")

    assert.strictEqual(fs.existsSync(committed) ? fs.readFileSync(committed, "utf8") : undefined, before)
    assert.isFalse(fs.existsSync(path.join(root, "bench/.floor")), "the floors' task files are removed")
    fs.rmSync(out, { recursive: true, force: true })
  }, 180_000)

  it("calls a run preliminary for other processes' CPU, not for the load its own processes made", () => {
    const run = (otherWork: Report.OtherWork, loadAverageEnd: ReadonlyArray<number>): Report.Results => ({
      date: "2026-12-06T12:00:00.000Z",
      smoke: false,
      machine: { cpus: 2, model: "test", memoryGiB: 24, kernel: "Linux", loadAverageStart: [0.5, 0.5, 0.5], loadAverageEnd, otherWork },
      versions: {},
      config: {},
      scenarios: {}
    })
    // The benchmark kept both cores busy itself (load 3.3 at the end), nothing else ran: not preliminary.
    const quiet = Report.markdown(run({ wallSeconds: 800, busySeconds: 1_250, ownSeconds: 1_240, stealSeconds: 0 }, [3.3, 2.7, 2.1]))
    assert.notInclude(quiet, "Preliminary")
    assert.include(quiet, "other processes used 0.01 cores on average")
    // Another process took half a core all along: preliminary, and it says how much.
    const busy = Report.markdown(run({ wallSeconds: 800, busySeconds: 1_250, ownSeconds: 850, stealSeconds: 0 }, [1.5, 1.5, 1.5]))
    assert.match(busy, /\*\*Preliminary:\*\* .*other processes used 0\.50 of the 2 cores on average/)
    // The hypervisor took a fifth of a core: preliminary too.
    assert.include(Report.markdown(run({ wallSeconds: 800, busySeconds: 1_000, ownSeconds: 1_000, stealSeconds: 160 }, [1, 1, 1])), "Preliminary")
  })
})
