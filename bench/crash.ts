/**
 * `node bench/crash.ts [--trials N] [--levels L] [--width W] [--steps S] [--sleep MS] [--concurrency C] [--keep]`:
 * the kill -9 campaign of test/Crash.test.ts with more kills (default 100). Runs test/fixtures/crash-dag.ts with
 * `--key crash`, SIGKILLs the runner at random moments and reruns it (which resumes) until the kills are spent, then
 * lets it finish, and checks the side effects and the journal (see test/support/crash.ts). Prints one line per attempt
 * on stderr and a summary JSON on stdout; exits 1 if there is any violation. `--keep` keeps the journal and the log.
 */
import * as fs from "node:fs"
import { parseArgs } from "node:util"
import { campaign, summary } from "../test/support/crash.ts"

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "100" },
    levels: { type: "string", default: "10" },
    width: { type: "string", default: "30" },
    steps: { type: "string", default: "3" },
    sleep: { type: "string", default: "4" },
    concurrency: { type: "string", default: "8" },
    keep: { type: "boolean", default: false }
  }
})
const int = (name: keyof typeof values) => {
  const n = Number(values[name])
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`bench/crash.ts: --${name} must be a whole number, got ${values[name]}\n`)
    process.exit(2)
  }
  return n
}

const report = await campaign({
  trials: int("trials"),
  levels: int("levels"),
  width: int("width"),
  steps: int("steps"),
  sleepMillis: int("sleep"),
  concurrency: Math.max(1, int("concurrency")),
  onAttempt: (a) =>
    process.stderr.write(
      `attempt ${a.index}: ${a.killedAt === undefined ? `exit ${a.status}` : `killed (${a.mode}) after ${a.killedAt - a.spawnedAt} ms`}` +
        `${a.runBegun ? "" : ", before the run began"}, ${a.lines} side effects\n`
    )
})
for (const violation of report.violations.slice(0, 50)) process.stderr.write(`VIOLATION ${violation}\n`)
if (report.violations.length > 50) process.stderr.write(`... ${report.violations.length - 50} more\n`)
const result = {
  ...summary(report),
  journal: values.keep ? report.journal : "(removed; --keep keeps it)",
  options: { levels: int("levels"), width: int("width"), steps: int("steps"), sleepMillis: int("sleep"), concurrency: int("concurrency") },
  firstViolations: report.violations.slice(0, 5)
}
if (!values.keep) fs.rmSync(report.dir, { recursive: true, force: true })
console.log(JSON.stringify(result, null, 2))
process.exitCode = report.violations.length === 0 ? 0 : 1
