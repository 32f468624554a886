/**
 * The repository's own task files tested with the test kit, as a user would test theirs: etl's retries and timeouts
 * and its rate-limited load on the test clock, and nightly's resume after a crash (with its real `tar`).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Fault, TestRun } from "effect-runner/test"
import etl from "../tasks/etl.ts"
import { setEnv } from "./support/env.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-testkit-tasks-")

describe("tasks/etl.ts", () => {
  // Its simulated source fails the first two calls of the process: this file's first run sees them.
  it.effect("extract's outage is retried on the test clock; the rate-limited load takes test time, not real time", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const result = yield* TestRun.run(etl)
      TestRun.assertSucceeded(result)
      assert.strictEqual(result.jobs.extract.attempts, 3)
      assert.match(result.jobs.extract.attemptErrors[0]!, /order source unavailable \(simulated outage, call 1\)/)
      assert.strictEqual(result.jobs.load.output?.rows, 30)
      assert.strictEqual(result.jobs.transform.output?.rows.length, 30)
      // 30 inserts at 20 a second through warehouse-api: over a second of test-clock time.
      assert.isAtLeast(result.jobs.load.durationMillis, 1_000)
      assert.isBelow(Date.now() - started, 10_000)
    }))

  it.effect("an extract that keeps failing exhausts its 3 retries; transform and load never run", () =>
    Effect.gen(function*() {
      const result = yield* TestRun.run(etl, { faults: { extract: Fault.failTimes(10) } })
      TestRun.assertStatus(result, "failed")
      assert.strictEqual(result.jobs.extract.attempts, 4)
      assert.strictEqual(TestRun.errorOf(result.jobs.extract)?._tag, "InjectedFailure")
      assert.deepStrictEqual([result.jobs.transform.status, result.jobs.load.status], ["skipped", "skipped"])
    }))

  it.effect("a load slower than its 2-minute timeout times out on each of its 3 attempts", () =>
    Effect.gen(function*() {
      const result = yield* TestRun.run(etl, { faults: { load: Fault.delay("5 minutes") } })
      TestRun.assertStatus(result, "failed")
      assert.strictEqual(result.jobs.load.attempts, 3)
      assert.strictEqual(TestRun.errorOf(result.jobs.load)?._tag, "JobTimeout")
      assert.isAtLeast(result.jobs.load.durationMillis, 3 * 120_000)
      assert.strictEqual(result.jobs.extract.status, "succeeded")
    }))
})

describe("tasks/nightly.ts", () => {
  it.effect("crashed as archive starts, resume restores source and snapshot and archives the slot's day", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const src = path.join(dir, "data")
      const dest = path.join(dir, "backups")
      fs.mkdirSync(src)
      fs.writeFileSync(path.join(src, "users.csv"), "id,name\n1,ada\n")
      // nightly reads its folders from the environment when it loads; they are put back after, since the test files
      // of a vitest worker share one process (isolate: false) and later ones spawn runners with this environment.
      const restoreEnv = setEnv({ RUNNER_BACKUP_SRC: src, RUNNER_BACKUP_DEST: dest })
      const nightly = yield* Effect.promise(() => import("../tasks/nightly.ts")).pipe(
        Effect.map((module) => module.default),
        Effect.ensuring(Effect.sync(restoreEnv))
      )
      const options = { partition: "2026-01-02T02:00", now: new Date("2026-01-02T02:00:00Z") } as const
      const crashed = yield* TestRun.run(nightly, { ...options, faults: { archive: Fault.crash } })
      assert.strictEqual(crashed.status, "crashed")
      assert.deepStrictEqual(crashed.jobs.snapshot.output, { date: "2026-01-02", dir: path.join(dest, "2026-01-02") })
      assert.isFalse(fs.existsSync(path.join(dest, "2026-01-02.tar.gz")))

      fs.rmSync(src, { recursive: true }) // the snapshot must not be taken again
      const resumed = yield* TestRun.resume(crashed)
      TestRun.assertSucceeded(resumed)
      assert.deepStrictEqual(TestRun.ran(resumed), ["archive", "prune"])
      assert.strictEqual(resumed.jobs.source.status, "restored")
      assert.strictEqual(resumed.jobs.archive.output?.exitCode, 0)
      assert.isTrue(fs.existsSync(path.join(dest, "2026-01-02.tar.gz")))
      assert.isTrue(fs.existsSync(path.join(dest, "2026-01-02", "users.csv")))
    }))
})
