/**
 * The SQLite journal on Node, Bun and Deno: a run that fails after checkpointing items 1..3 resumes with `--resume`
 * and finishes without running them (or the job before them) again — on each runtime, and across runtimes (a journal
 * written by one resumes on another).
 */
import { assert, describe, it } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { runner, type RuntimeName } from "./support/spawn.ts"

const cases: ReadonlyArray<readonly [RuntimeName, RuntimeName]> = [
  ["node", "node"],
  ["bun", "bun"],
  ["deno", "deno"],
  ["bun", "deno"],
  ["deno", "node"],
  ["node", "bun"]
]


describe("the journal on every runtime", () => {
  it.each(cases)("fails on %s after checkpointing items 1..3, resumes on %s without redoing them", (first, second) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runner-journal-${first}-${second}-`))
    const journal = path.join(dir, "j.db")
    const counts = path.join(dir, "counts")
    const fail = path.join(dir, "fail")
    const env = { COUNTS: counts, FAIL: fail, FAIL_AFTER_STEP: "3" }
    const args = ["test/fixtures/resumable.ts", "--journal", journal, "--log-format", "plain"]
    const ran = () => fs.readFileSync(counts, "utf8").trim().split("\n")

    fs.writeFileSync(fail, "")
    const failed = runner(args, { runtime: first, env })
    assert.strictEqual(failed.status, 1, failed.stderr + failed.stdout)
    assert.match(failed.stdout, /items: item 4 failed/)
    assert.deepStrictEqual(ran(), ["first", "item-1", "item-2", "item-3"])
    assert.strictEqual(fs.statSync(journal).mode & 0o777, 0o600, `journal mode on ${first}`)

    fs.rmSync(fail)
    const resumed = runner([...args, "--resume"], { runtime: second, env })
    assert.strictEqual(resumed.status, 0, resumed.stderr + resumed.stdout)
    assert.match(resumed.stdout, /resuming run (\S+) of resumable/)
    assert.match(resumed.stdout, /first .*output restored from the journal/)
    // Bun and Deno reformat the code they transpile: across runtimes the code is not compared, and people are told.
    if (first !== second) assert.match(resumed.stdout, /"first" is reused, but its code could not be compared/)
    else assert.notMatch(resumed.stdout, /could not be compared/)
    // first and items 1..3 ran once in all; 4, 5 and flaky ran only on resume.
    assert.deepStrictEqual(
      ran(),
      ["first", "item-1", "item-2", "item-3", "item-4", "item-5", "flaky"]
    )

    const db = new DatabaseSync(journal, { readOnly: true })
    try {
      const runs = db.prepare("SELECT id, status FROM runs").all()
      assert.strictEqual(runs.length, 1, "--resume continued the run rather than starting one")
      assert.strictEqual(runs[0]!["status"], "succeeded")
      assert.include(resumed.stdout, String(runs[0]!["id"]))
      const jobs = db.prepare("SELECT job_id, status FROM jobs ORDER BY job_id").all().map((r) => `${r["job_id"]} ${r["status"]}`)
      assert.deepStrictEqual(jobs, ["first succeeded", "flaky succeeded", "items succeeded"])
      const steps = db.prepare("SELECT step, output FROM checkpoints WHERE job_id = 'items' ORDER BY step").all()
        .map((r) => `${r["step"]}=${r["output"]}`)
      assert.deepStrictEqual(steps, [1, 2, 3, 4, 5].map((i) => `item-${i}="first-output:${i}"`))
      assert.deepStrictEqual(db.prepare("PRAGMA integrity_check").all().map((row) => Object.values(row)[0]), ["ok"])
    } finally {
      db.close()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
