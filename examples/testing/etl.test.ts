import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import { Fault, TestRun } from "effect-runner/test"
import etl, { SourceDown } from "./etl.ts"

describe("etl", () => {
  it("retries extract: two failures, then the run succeeds (no real waiting)", async () => {
    const result = await Effect.runPromise(
      TestRun.run(etl, { faults: { extract: Fault.failTimes(2, new SourceDown({ status: 503 })) } })
    )
    TestRun.assertSucceeded(result)
    expect(result.jobs.extract.attempts).toBe(3)
    expect(result.jobs.load.output).toEqual({ loaded: 3 }) // typed: { loaded: number } | undefined
    expect(result.durationMillis).toBe(90_000) // backoff 30 s + 60 s, in test-clock time
  })

  it("fails load when it outlasts its timeout", async () => {
    const result = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.delay("10 minutes") } }))
    expect(result.status).toBe("failed")
    expect(TestRun.errorOf(result.jobs.load)?._tag).toBe("JobTimeout")
  })

  it("resumes after a crash without redoing what was committed", async () => {
    const crashed = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.crashAfterStep("id-2") } }))
    expect(crashed.status).toBe("crashed")
    const resumed = await Effect.runPromise(TestRun.resume(crashed))
    TestRun.assertSucceeded(resumed)
    expect(TestRun.ran(resumed)).toEqual(["load"]) // extract is restored from the journal, ids 1-2 from checkpoints
    expect(resumed.jobs.load.output).toEqual({ loaded: 3 })
  })
})
