// etl.test.ts's first test under `deno test -A examples/testing/etl.deno.test.ts`.
import assert from "node:assert/strict"
import * as Effect from "effect/Effect"
import { Fault, TestRun } from "effect-runner/test"
import etl from "./etl.ts"

Deno.test("retries extract, then resumes after a crash in load", async () => {
  const retried = await Effect.runPromise(TestRun.run(etl, { faults: { extract: Fault.failTimes(2) } }))
  TestRun.assertSucceeded(retried)
  assert.equal(retried.jobs.extract.attempts, 3)
  const crashed = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.crash } }))
  assert.equal(crashed.status, "crashed")
  const resumed = await Effect.runPromise(TestRun.resume(crashed))
  assert.deepEqual(TestRun.ran(resumed), ["load"])
  assert.deepEqual(resumed.jobs.load.output, { loaded: 3 })
})
