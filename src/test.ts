/**
 * `effect-runner/test`: the test kit. Run a DAG inside your test runner with faults injected into named jobs, on a
 * TestClock that advances by itself (retry delays, timeouts and sleeps take no real time), with an in-memory journal;
 * crash it at a job or checkpoint and resume it.
 *
 * @example
 * ```ts
 * import { Fault, TestRun } from "effect-runner/test"
 * const result = yield* TestRun.run(etl, { faults: { extract: Fault.failTimes(2) } })
 * result.jobs.extract.attempts // 3
 * ```
 */
export * as Fault from "./Fault.ts"
export * as TestRun from "./TestRun.ts"
