/**
 * Faults for `TestRun.run(dag, { faults: { jobId: fault } })` (`effect-runner/test`): what a job's attempts do
 * instead of, or besides, their work — fail, die, take longer, return a given output, exit with a code, or make the
 * process "crash".
 */
export {
  crash,
  crashAfterStep,
  delay,
  die,
  exit,
  fail,
  failTimes,
  type Fault,
  InjectedFailure,
  none,
  output,
  sequence
} from "./internal/testkit/Fault.ts"
