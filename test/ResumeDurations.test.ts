/**
 * `runner history` and `runner show` of a run that failed, waited, then was resumed: the run's and its jobs' durations
 * are the time they ran (the executions summed), and the wall-clock span, wait included, is shown apart and labelled.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import { withDb } from "./support/db.ts"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-durations-")
const WAIT = 3000

// `b` works 400 ms, then fails while $FAIL exists: the first run fails, the resume (after the file is gone) succeeds.
// It sleeps 410 ms: Node's timers count from the event loop's cached time, which may lag the wall clock the journal
// reads by a ms or so, so a 400 ms sleep can read 399 ms (seen in CI: both executions summed to 798 ms).
const taskFile = `import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"
export const a = Job.make("a", { run: () => Effect.succeed(1) })
export const b = Job.make("b", {
  needs: { a },
  run: () => Effect.andThen(Effect.sleep(410), fs.existsSync(process.env["FAIL"]!) ? Effect.fail("not yet") : Effect.void)
})
export default Dag.make("resumed", [b])
`

describe("a run that failed, waited, then was resumed", () => {
  let dir: string
  let journal: string
  let runId: string
  const op = (args: ReadonlyArray<string>) => runner([...args, "--journal", journal], { cwd: dir })

  beforeAll(async () => {
    dir = tempDir()
    journal = path.join(dir, "j.db")
    fs.writeFileSync(path.join(dir, "resumed.ts"), taskFile)
    const fail = path.join(dir, "fail")
    fs.writeFileSync(fail, "")
    const first = runner(["resumed.ts", "--journal", journal], { cwd: dir, env: { FAIL: fail } })
    assert.strictEqual(first.status, 1, first.stdout + first.stderr)
    runId = /^run (\S+) failed/m.exec(first.stdout)![1]!
    await new Promise((resolve) => setTimeout(resolve, WAIT))
    fs.rmSync(fail)
    const resumed = runner(["resumed.ts", "--resume", runId, "--journal", journal], { cwd: dir, env: { FAIL: fail } })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
  }, 60_000)

  it("show --json: the run's duration sums its two executions; wallClockMillis has the wait; b ran twice 400 ms", () => {
    const doc = JSON.parse(op(["show", runId, "--json"]).stdout)
    const row = withDb(journal, (db) => db.prepare("SELECT started_at, ended_at FROM runs WHERE id = ?").get(runId)) as {
      started_at: number
      ended_at: number
    }
    const span = row.ended_at - row.started_at
    assert.strictEqual(doc.executions.length, 2)
    assert.isAtLeast(span, WAIT + 800)
    const b = doc.jobs.find((j: { jobId: string }) => j.jobId === "b")
    assert.include(b, { status: "succeeded", attempts: 2 })
    assert.isBelow(b.durationMillis, WAIT, "the wait is not b's time")
    assert.isAtLeast(b.durationMillis, 800, "both executions of b count")
    assert.isAtMost(doc.run.durationMillis, span - WAIT, "the wait is not the run's time")
    assert.isAtLeast(doc.run.durationMillis, 800)
    assert.strictEqual(doc.run.wallClockMillis, span)
    assert.isAtMost(b.durationMillis, doc.run.durationMillis)
    const a = doc.jobs.find((j: { jobId: string }) => j.jobId === "a")
    assert.isBelow(a.durationMillis, 1000, "a ran once, in the first execution")
  })

  it("show labels the running time and the wall-clock span; history shows the running time and the executions", () => {
    const doc = JSON.parse(op(["show", runId, "--json"]).stdout)
    const text = op(["show", runId]).stdout
    assert.match(text, /^ {2}duration {9}\S+ running, in 2 executions$/m)
    assert.match(text, /^ {2}wall clock {7}\S+ from start to end, with the waits between executions$/m)
    assert.notMatch(text, /^b\s+succeeded\s+2\s+[3-9][.\d]*s/m, "b's duration is not the span with the wait")
    const history = JSON.parse(op(["history", "--json"]).stdout)
    assert.deepInclude(history.runs[0], {
      runId,
      durationMillis: doc.run.durationMillis,
      wallClockMillis: doc.run.wallClockMillis,
      executions: 2
    })
    assert.match(op(["history"]).stdout, new RegExp(`^${runId} .* \\S+ in 2 executions\\s+\\d+ jobs?: .*\\s+-$`, "m"))
  })
})
