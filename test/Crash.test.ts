/**
 * kill -9 at random moments, then resume with the same `--key`, again and again: the run ends succeeded, no step or
 * job runs again once its checkpoint or success was committed, and the journal is intact. The campaign and its
 * checks are in test/support/crash.ts; bench/crash.ts runs the same with a hundred kills.
 */
import { assert, describe, it } from "vitest"
import * as fs from "node:fs"
import { DatabaseSync } from "node:sqlite"
import { campaign } from "./support/crash.ts"

describe("crash and resume", () => {
  it("a 300-job DAG with 900 checkpointed steps survives ten kill -9 and resumes to success", async () => {
    const report = await campaign({ trials: 10 })
    const story = report.attempts.map((a) =>
      `#${a.index} pid ${a.pid} ${a.mode} ${a.killedAt === undefined ? `exit ${a.status}` : `killed after ${a.killedAt - a.spawnedAt} ms`}` +
      `${a.runBegun ? "" : " (before the run began)"}, ${a.lines} side effects`
    ).join("\n")
    const context = `${report.dir}\n${story}`

    assert.deepStrictEqual(report.violations.slice(0, 20), [], context)
    assert.isAtLeast(report.trials, 10, `kills delivered\n${context}`)
    // Every fourth kill is timed from the spawn and may land before the run begins; the others land while jobs run.
    assert.isAtLeast(report.midRunKills, 8, `kills that landed while jobs ran\n${context}`)
    const last = report.attempts.at(-1)!
    assert.strictEqual(last.status, 0, `${last.stderr}\n${context}`)
    assert.strictEqual(report.attempts.length, report.trials + 1, `every attempt but the last was killed\n${context}`)

    // The journal itself, read as any tool would.
    const db = new DatabaseSync(report.journal, { readOnly: true })
    try {
      const jobs = db.prepare(
        `SELECT job_id, status FROM jobs WHERE run_id =
           (SELECT id FROM runs WHERE run_key = 'crash' ORDER BY started_at DESC, rowid DESC LIMIT 1)`
      ).all() as Array<{ job_id: string; status: string }>
      assert.strictEqual(jobs.length, 300)
      assert.deepStrictEqual(jobs.filter((j) => j.status !== "succeeded"), [])
      assert.strictEqual((db.prepare("SELECT count(*) AS n FROM checkpoints").get() as { n: number }).n, 900)
      assert.deepStrictEqual(db.prepare("PRAGMA integrity_check").all().map((row) => Object.values(row)[0]), ["ok"])
    } finally {
      db.close()
    }
    assert.strictEqual(fs.statSync(report.journal).mode & 0o777, 0o600)
    fs.rmSync(report.dir, { recursive: true, force: true })
  }, 120_000)
})
