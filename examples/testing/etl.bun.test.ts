// etl.test.ts's first test under `bun test examples/testing/etl.bun.test.ts`: the kit has no test-runner dependency.
import { expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { Fault, TestRun } from "effect-runner/test"
import etl from "./etl.ts"

test("retries extract, then resumes after a crash in load", async () => {
  const retried = await Effect.runPromise(TestRun.run(etl, { faults: { extract: Fault.failTimes(2) } }))
  TestRun.assertSucceeded(retried)
  expect(retried.jobs.extract.attempts).toBe(3)
  const crashed = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.crash } }))
  expect(crashed.status).toBe("crashed")
  const resumed = await Effect.runPromise(TestRun.resume(crashed))
  expect(TestRun.ran(resumed)).toEqual(["load"])
  expect(resumed.jobs.load.output).toEqual({ loaded: 3 })
})
