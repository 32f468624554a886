/**
 * Issue 15's distribution figure through the real CLI: 40 jobs of 1 s on 2 workers take at most 0.65x the time they
 * take on one (two workers double the slots: ideally 0.5x). A ratio of wall times: vitest runs this file alone, after
 * every other file (vitest.config.ts, project "timing"), so that the two runs it compares share the machine with
 * nothing else of the suite.
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { killAll, type Proc, query, submit, worker } from "./support/cluster.ts"
import { databases, requirePostgres } from "./support/postgres.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-distribution-")
const procs: Array<Proc> = []
afterAll(() => killAll(procs))

const sleepers = `import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"
export default Dag.make("spread", Array.from({ length: 40 }, (_, i) =>
  Job.make(\`sleep \${String(i).padStart(2, "0")}\`, { run: () => Effect.as(Effect.sleep(1_000), i) })))
`

describe.skipIf(pg.skip)("cluster distribution", () => {
  // One retry (a second measurement, both printed) before it fails: a figure of wall times on a shared machine.
  it("40 jobs of 1 s on 2 workers, both running work, take <= 0.65x the time on one", { retry: 1, timeout: 120_000 }, async () => {
    const { url } = database()
    const file = path.join(tempDir(), "spread.ts")
    fs.writeFileSync(file, sleepers)
    /** The run's own duration in the journal, and which workers' processes ran its jobs (by the worker lines). */
    const measure = async (concurrency: number) => {
      const run = submit({ url, file, concurrency })
      procs.push(run)
      const end = await run.done
      assert.strictEqual(end.status, 0, end.output)
      const runId = /run (\d{8}-\d{6}-[0-9a-f]+)/.exec(end.output)![1]!
      const [started, ended] = (await query(url, `SELECT started_at, ended_at FROM runs WHERE id = '${runId}'`))[0]!
      const attempts = (await query(url, `SELECT count(*) FROM attempts WHERE run_id = '${runId}'`))[0]![0]
      assert.strictEqual(attempts, "40")
      return { runId, millis: Number(ended) - Number(started) }
    }
    // Fair: each worker runs at most 10 jobs at once, and the run may have as many in flight as the workers hold
    // (10, then 20): 4 waves of 1 s on one worker, 2 on two.
    const one = worker({ url, files: [file], concurrency: 10 })
    procs.push(one)
    await one.joined
    const alone = await measure(10)
    const two = worker({ url, files: [file], concurrency: 10 })
    procs.push(two)
    await two.joined
    await new Promise((resolve) => setTimeout(resolve, 3_000)) // the first worker hands over the last of its shards
    const both = await measure(20)
    const ratio = both.millis / alone.millis
    process.stdout.write(`distribution: 1 worker ${alone.millis} ms, 2 workers ${both.millis} ms, ratio ${ratio.toFixed(2)}\n`)
    for (const w of [one, two]) assert.match(w.output(), new RegExp(`run ${both.runId} job "sleep`), "both workers ran jobs")
    await killAll([one, two])
    assert.isAtMost(ratio, 0.65)
  })
})
