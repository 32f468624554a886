/**
 * A kill -9 campaign against the real runner: run test/fixtures/crash-dag.ts with `--key crash`, SIGKILL it at a
 * random moment, run it again with the same key (which resumes the run) and kill it again, until the budget of kills
 * is spent; then let it finish. Afterwards, check what the side-effect log and the journal say against what the
 * runner promises:
 *
 * - a checkpoint step or a job body never runs again once its checkpoint / success is committed: after every
 *   attempt the journal is read (read-only, no runner alive) and every later execution of something it holds is a
 *   violation;
 * - what an attempt observably did was committed: a step after step k (or the job's own line) means step k's
 *   checkpoint was saved; a line of a dependent means the job's success was saved. The jobs also check this
 *   themselves as they go, through a read-only connection of their own (`uncommitted ...` lines), so a save that
 *   returns before its commit is caught even when no kill lands in that window;
 * - a step (job) that ran more than once did so only because the process running it was killed after it ran and
 *   before its checkpoint's `at` (the job's `ended_at`) was written by a later attempt; no run is needed after that;
 * - every job ends succeeded with the right output (outputs restored on resume are passed on intact), every step has
 *   its checkpoint with the right value, the key has one run, no lock is left, `PRAGMA integrity_check` is ok and
 *   the journal files are mode 0600.
 *
 * Used by test/Crash.test.ts (ten kills) and bench/crash.ts (a hundred).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { expectedValues, shape, stepValue as stepValueOf } from "../fixtures/crash-shape.ts"
import { runnerAsync } from "./spawn.ts"

export interface CampaignOptions {
  /** Kills to deliver (a kill that finds the process already exited does not count). */
  readonly trials: number
  readonly levels?: number
  readonly width?: number
  readonly steps?: number
  /** Each step and job body sleeps 0..sleepMillis before its side effect. */
  readonly sleepMillis?: number
  readonly concurrency?: number
  /**
   * Every `startupEvery`-th kill (default 4th) is timed from the spawn, between 0 and a little after the moment runs
   * usually begin: it lands while the runner loads, opens or migrates the journal, takes the lock or starts.
   */
  readonly startupEvery?: number
  /** Folder for the journal and the log; a fresh temporary one by default. */
  readonly dir?: string
  /** Called after each attempt (progress output of the bench). */
  readonly onAttempt?: (attempt: Attempt) => void
}

export interface Attempt {
  readonly index: number
  readonly pid: number
  readonly spawnedAt: number
  /** How the kill was timed: from the spawn, after the run began, or no kill (the last attempt). */
  readonly mode: "startup" | "run" | "none"
  /** When SIGKILL was sent (Date.now()), if it was. */
  readonly killedAt: number | undefined
  /** The run had begun (its header was printed) when the process ended. */
  readonly runBegun: boolean
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly lines: number
  readonly stdout: string
  readonly stderr: string
}

export interface Report {
  readonly dir: string
  readonly journal: string
  readonly jobs: number
  readonly steps: number
  /** Kills delivered. */
  readonly trials: number
  /** Kills delivered after the run had begun. */
  readonly midRunKills: number
  readonly attempts: ReadonlyArray<Attempt>
  readonly restarts: number
  /** Executions beyond the first, summed over steps (jobs). */
  readonly reExecutedSteps: number
  readonly reExecutedJobs: number
  readonly violations: ReadonlyArray<string>
  readonly durationMillis: number
}

const random = (min: number, max: number) => min + Math.random() * (max - min)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const header = /^\S+ (?:resuming run|run) \S+ of crash-dag: /m

/** What the journal holds between attempts. */
interface Snapshot {
  readonly checkpoints: Map<string, { readonly at: number; readonly output: string }>
  readonly succeeded: Map<string, { readonly endedAt: number; readonly output: string | null }>
}

const stepKey = (job: string, step: string) => `${job} ${step}`

/** Reads the journal with a read-only connection (no runner is alive: the last one was killed or exited). */
const snapshot = (file: string): Snapshot => {
  const empty: Snapshot = { checkpoints: new Map(), succeeded: new Map() }
  if (!fs.existsSync(file)) return empty
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name)
    )
    // Killed before the schema was committed: nothing else can be there either.
    if (!tables.has("runs") || !tables.has("checkpoints")) return empty
    const runs = db.prepare("SELECT id FROM runs WHERE run_key = 'crash'").all() as Array<{ id: string }>
    if (runs.length === 0) return empty
    if (runs.length > 1) throw new Error(`key crash has ${runs.length} runs; a key must resume its one run`)
    const runId = runs[0]!.id
    const checkpoints = new Map<string, { at: number; output: string }>()
    for (const row of db.prepare("SELECT job_id, step, at, output FROM checkpoints WHERE run_id = ?").all(runId) as Array<{ job_id: string; step: string; at: number; output: string }>) {
      checkpoints.set(stepKey(row.job_id, row.step), { at: Number(row.at), output: row.output })
    }
    const succeeded = new Map<string, { endedAt: number; output: string | null }>()
    for (const row of db.prepare("SELECT job_id, ended_at, output FROM jobs WHERE run_id = ? AND status = 'succeeded'").all(runId) as Array<{ job_id: string; ended_at: number; output: string | null }>) {
      succeeded.set(row.job_id, { endedAt: Number(row.ended_at), output: row.output })
    }
    return { checkpoints, succeeded }
  } finally {
    db.close()
  }
}

/** Counts the lines appended to `file` since `offset`; returns the new offset and count. */
const newLines = (file: string, from: { offset: number; count: number }) => {
  let fd: number
  try {
    fd = fs.openSync(file, "r")
  } catch {
    return from
  }
  try {
    const size = fs.fstatSync(fd).size
    if (size <= from.offset) return from
    const buffer = Buffer.alloc(size - from.offset)
    fs.readSync(fd, buffer, 0, buffer.length, from.offset)
    let count = from.count
    for (const byte of buffer) if (byte === 10) count++
    return { offset: size, count }
  } finally {
    fs.closeSync(fd)
  }
}

/** Runs the campaign and checks everything; never throws for a violation, it reports them. */
export const campaign = async (options: CampaignOptions): Promise<Report> => {
  const started = Date.now()
  const levels = options.levels ?? 10
  const width = options.width ?? 30
  const steps = options.steps ?? 3
  const startupEvery = options.startupEvery ?? 4
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "runner-crash-"))
  const journal = path.join(dir, "j.db")
  const log = path.join(dir, "side-effects.log")
  const dag = shape(levels, width)
  const expected = expectedValues(dag, steps)
  const totalLines = dag.length * (steps + 1)
  const env = {
    CRASH_LOG: log,
    CRASH_JOURNAL: journal,
    CRASH_LEVELS: String(levels),
    CRASH_WIDTH: String(width),
    CRASH_STEPS: String(steps),
    CRASH_SLEEP_MS: String(options.sleepMillis ?? 4),
    CRASH_CONCURRENCY: String(options.concurrency ?? 8)
  }
  const args = ["test/fixtures/crash-dag.ts", "--journal", journal, "--key", "crash", "--log-format", "plain"]
  const violations: Array<string> = []
  const attempts: Array<Attempt> = []
  const snapshots: Array<Snapshot> = []
  const seen = new Set<string>()
  let progress = { offset: 0, count: 0 }
  let kills = 0
  const beginDelays: Array<number> = []

  // Each attempt is either killed (at most `trials` times) or the last one.
  for (;;) {
    const index = attempts.length
    const killing = kills < options.trials
    const mode: Attempt["mode"] = !killing ? "none" : (kills % startupEvery === startupEvery - 1) ? "startup" : "run"
    // Kill after a random share of the side effects still to come, so that the kills spread over the whole run and
    // the run does not finish before the budget is spent, or after a random 50–600 ms, whichever comes first.
    const remaining = Math.max(0, totalLines - seen.size)
    const share = Math.max(1, remaining / (options.trials - kills + 1))
    const lineBudget = Math.floor(random(1, 2 * share))
    const child = runnerAsync(args, env)
    const spawnedAt = Date.now()
    const pid = child.process.pid!
    let stdout = ""
    child.process.stdout.on("data", (chunk) => (stdout += chunk))
    let exited = false
    // No attempt may hang (a lock never released, a deadlock): after 60 s it is killed and that is a violation.
    let hung = false
    const watchdog = setTimeout(() => {
      hung = true
      child.process.kill("SIGKILL")
    }, 60_000)
    const done = child.done.then((result) => {
      exited = true
      clearTimeout(watchdog)
      return result
    })
    const baseline = progress.count
    let killedAt: number | undefined
    let runBegunAt: number | undefined
    // From the spawn: anywhere up to a little after the run usually begins (loading, opening and migrating the
    // journal, taking the lock, the first jobs).
    const typicalBegin = beginDelays.length === 0 ? 1000 : beginDelays.toSorted((a, b) => a - b)[beginDelays.length >> 1]!
    const killAfter = mode === "startup" ? random(0, typicalBegin * 1.2) : random(50, 600)
    while (killing && !exited) {
      await sleep(1)
      progress = newLines(log, progress)
      if (runBegunAt === undefined && header.test(stdout)) runBegunAt = Date.now()
      const clock = mode === "startup" ? spawnedAt : runBegunAt
      const due = (clock !== undefined && Date.now() - clock >= killAfter) ||
        (progress.count - baseline >= lineBudget)
      if (due && !exited) {
        killedAt = Date.now()
        child.process.kill("SIGKILL")
        break
      }
    }
    const result = await done
    if (runBegunAt !== undefined) beginDelays.push(runBegunAt - spawnedAt)
    progress = newLines(log, progress)
    if (hung) violations.push(`attempt ${index} (pid ${pid}) hung for 60 s:\n${result.stderr}${result.stdout.slice(-2000)}`)
    const killed = !hung && killedAt !== undefined && result.status === null && child.process.signalCode === "SIGKILL"
    if (killed) kills++
    const attempt: Attempt = {
      index,
      pid,
      spawnedAt,
      mode: killed ? mode : "none",
      killedAt: killed ? killedAt : undefined,
      // Its header on stdout, or a side effect of a job: a kill -9 can lose the header still in the reporter's buffer
      // while jobs already ran (seen: 3 side effects, no header).
      runBegun: header.test(result.stdout) || progress.count > baseline,
      status: result.status,
      signal: child.process.signalCode,
      lines: progress.count - baseline,
      stdout: result.stdout,
      stderr: result.stderr
    }
    attempts.push(attempt)
    if (!killed && !hung && result.status !== 0) {
      violations.push(`attempt ${index} (pid ${pid}) ended with status ${result.status} / signal ${attempt.signal}` +
        ` without being killed:\n${result.stderr}${result.stdout.slice(-2000)}`)
    }
    snapshots.push(snapshot(journal))
    for (const line of readLines(log)) if (line.kind === "step" || line.kind === "job") seen.add(line.what)
    options.onAttempt?.(attempt)
    if (!killed) break
  }
  const last = attempts.at(-1)!
  if (last.status !== 0) violations.push(`the campaign ended after ${attempts.length} attempts without a run that exits 0`)

  // --- The side effects, by what ran, against what the journal held after each attempt.
  const attemptOfPid = new Map(attempts.map((a) => [a.pid, a.index]))
  if (attemptOfPid.size !== attempts.length) violations.push("two attempts had the same pid; the log is ambiguous")
  interface Execution {
    readonly attempt: number
    readonly at: number
    readonly value: number
  }
  const stepRuns = new Map<string, Array<Execution>>()
  const jobRuns = new Map<string, Array<Execution>>()
  /** Per attempt: the jobs with a line in it, and for each job the steps (and "job") seen. */
  const seenIn = attempts.map(() => new Map<string, Set<string>>())
  for (const line of readLines(log)) {
    if (line.kind === "bad") {
      violations.push(`malformed side-effect line: ${JSON.stringify(line.text)}`)
      continue
    }
    const attempt = attemptOfPid.get(line.pid)
    if (attempt === undefined) {
      violations.push(`side-effect line from an unknown pid: ${line.text}`)
      continue
    }
    if (line.kind === "uncommitted") {
      violations.push(`attempt ${attempt} went on although ${line.job} ${line.missing === "success" ? "success" : `step ${line.missing}`}` +
        ` was not committed yet (seen by the job through its own connection)`)
      continue
    }
    const execution = { attempt, at: line.at, value: line.value }
    const key = line.kind === "step" ? stepKey(line.job, line.step) : line.job
    const runs = line.kind === "step" ? stepRuns : jobRuns
    runs.set(key, [...(runs.get(key) ?? []), execution])
    const jobs = seenIn[attempt]!
    jobs.set(line.job, (jobs.get(line.job) ?? new Set()).add(line.kind === "step" ? line.step : "job"))
  }
  const firstCommitted = (has: (s: Snapshot) => boolean) => {
    const i = snapshots.findIndex(has)
    return i === -1 ? Infinity : i
  }
  const final = snapshots.at(-1)!
  const checkRuns = (
    what: string,
    runs: ReadonlyArray<Execution> | undefined,
    committedAfter: number,
    committedAt: number | undefined,
    expectedValue: number
  ) => {
    if (runs === undefined || runs.length === 0) return void violations.push(`${what} never ran`)
    runs.forEach((run, i) => {
      if (run.value !== expectedValue) violations.push(`${what} computed ${run.value} in attempt ${run.attempt}, expected ${expectedValue}`)
      if (run.attempt > committedAfter) {
        violations.push(`${what} ran again in attempt ${run.attempt} although it was committed by attempt ${committedAfter}`)
      }
      if (i > 0 && runs[i - 1]!.attempt === run.attempt) violations.push(`${what} ran twice in attempt ${run.attempt}`)
      if (committedAt !== undefined && run.at > committedAt) {
        violations.push(`${what} ran at ${run.at} (attempt ${run.attempt}), after its commit at ${committedAt}`)
      }
      if (i === runs.length - 1) return
      // Not the last run: only a kill after it and before the commit can have lost it.
      const killedAt = attempts[run.attempt]!.killedAt
      if (killedAt === undefined) {
        violations.push(`${what} ran again after attempt ${run.attempt}, which was not killed`)
      } else if (killedAt + 1 < run.at || (committedAt !== undefined && killedAt >= committedAt)) {
        violations.push(`${what} ran in attempt ${run.attempt} at ${run.at} and again later, but the kill at ${killedAt}` +
          ` is not between that run and the commit at ${committedAt}`)
      }
    })
  }
  let reExecutedSteps = 0
  let reExecutedJobs = 0
  const byId = new Map(dag.map((job) => [job.id, job]))
  for (const job of dag) {
    const inputSum = job.needs.reduce((s, n) => s + expected.get(n)!, 0)
    for (let k = 0; k < steps; k++) {
      const key = stepKey(job.id, `s${k}`)
      const runs = stepRuns.get(key)
      reExecutedSteps += Math.max(0, (runs?.length ?? 0) - 1)
      const value = stepValueOf(job.id, k, inputSum)
      const row = final.checkpoints.get(key)
      if (row === undefined) violations.push(`step ${key} has no checkpoint at the end`)
      else if (row.output !== JSON.stringify(value)) violations.push(`step ${key} checkpoint holds ${row.output}, expected ${value}`)
      checkRuns(`step ${key}`, runs, firstCommitted((s) => s.checkpoints.has(key)), row?.at, value)
    }
    const runs = jobRuns.get(job.id)
    reExecutedJobs += Math.max(0, (runs?.length ?? 0) - 1)
    const row = final.succeeded.get(job.id)
    if (row === undefined) violations.push(`job ${job.id} did not end succeeded`)
    else if (row.output !== JSON.stringify({ v: expected.get(job.id) })) {
      violations.push(`job ${job.id} output ${row.output}, expected ${JSON.stringify({ v: expected.get(job.id) })}`)
    }
    checkRuns(`job ${job.id}`, runs, firstCommitted((s) => s.succeeded.has(job.id)), row?.endedAt, expected.get(job.id)!)
  }
  // What an attempt did next proves what it had committed before.
  seenIn.forEach((jobs, attempt) => {
    const snap = snapshots[attempt]!
    for (const [jobId, seenSteps] of jobs) {
      for (let k = 0; k < steps; k++) {
        const later = [...seenSteps].some((s) => s === "job" || Number(s.slice(1)) > k)
        if (later && !snap.checkpoints.has(stepKey(jobId, `s${k}`))) {
          violations.push(`attempt ${attempt} went past step ${jobId} s${k}, but its checkpoint was not committed`)
        }
      }
      for (const need of byId.get(jobId)!.needs) {
        if (!snap.succeeded.has(need)) {
          violations.push(`attempt ${attempt} started ${jobId}, but the success of ${need}, which it needs, was not committed`)
        }
      }
    }
  })

  // --- The journal at the end.
  const db = new DatabaseSync(journal, { readOnly: true })
  try {
    const integrity = db.prepare("PRAGMA integrity_check").all() as Array<Record<string, unknown>>
    const ok = integrity.length === 1 && Object.values(integrity[0]!)[0] === "ok"
    if (!ok) violations.push(`PRAGMA integrity_check: ${JSON.stringify(integrity)}`)
    const runs = db.prepare("SELECT id, status FROM runs WHERE run_key = 'crash'").all() as Array<{ id: string; status: string }>
    if (runs.length !== 1 || runs[0]!.status !== "succeeded") {
      violations.push(`key crash should have one succeeded run, found ${JSON.stringify(runs)}`)
    }
    const statuses = db.prepare(
      `SELECT status, count(*) AS n FROM jobs WHERE run_id =
         (SELECT id FROM runs WHERE run_key = 'crash' ORDER BY started_at DESC, rowid DESC LIMIT 1) GROUP BY status`
    ).all() as Array<{ status: string; n: number }>
    if (statuses.length !== 1 || statuses[0]!.status !== "succeeded" || Number(statuses[0]!.n) !== dag.length) {
      violations.push(`jobs of the last run of key crash: ${JSON.stringify(statuses)}, expected ${dag.length} succeeded`)
    }
    const locks = db.prepare("SELECT lock_key, pid FROM locks").all()
    if (locks.length !== 0) violations.push(`locks left after the last run exited: ${JSON.stringify(locks)}`)
  } finally {
    db.close()
  }
  for (const file of [journal, `${journal}-wal`, `${journal}-shm`]) {
    if (!fs.existsSync(file)) continue
    const mode = fs.statSync(file).mode & 0o777
    if (mode !== 0o600) violations.push(`${path.basename(file)} has mode ${mode.toString(8)}, expected 600`)
  }

  return {
    dir,
    journal,
    jobs: dag.length,
    steps: dag.length * steps,
    trials: kills,
    midRunKills: attempts.filter((a) => a.killedAt !== undefined && a.runBegun).length,
    attempts,
    restarts: attempts.length - 1,
    reExecutedSteps,
    reExecutedJobs,
    violations,
    durationMillis: Date.now() - started
  }
}

type Line =
  | { readonly kind: "step"; readonly job: string; readonly step: string; readonly value: number; readonly at: number; readonly pid: number; readonly what: string; readonly text: string }
  | { readonly kind: "job"; readonly job: string; readonly value: number; readonly at: number; readonly pid: number; readonly what: string; readonly text: string }
  | { readonly kind: "uncommitted"; readonly job: string; readonly missing: string; readonly pid: number; readonly what: string; readonly text: string }
  | { readonly kind: "bad"; readonly text: string; readonly what: string }

/** The side-effect log: `step <job> <step> <value> <ms> <pid>` and `job <job> <value> <ms> <pid>`. */
const readLines = (file: string): Array<Line> => {
  if (!fs.existsSync(file)) return []
  const text = fs.readFileSync(file, "utf8")
  return text.split("\n").filter((l) => l !== "").map((text): Line => {
    const step = /^step (\S+) (s\d+) (\d+) (\d+) (\d+)$/.exec(text)
    if (step !== null) {
      return { kind: "step", job: step[1]!, step: step[2]!, value: Number(step[3]), at: Number(step[4]), pid: Number(step[5]), what: `step ${step[1]} ${step[2]}`, text }
    }
    const job = /^job (\S+) (\d+) (\d+) (\d+)$/.exec(text)
    if (job !== null) {
      return { kind: "job", job: job[1]!, value: Number(job[2]), at: Number(job[3]), pid: Number(job[4]), what: `job ${job[1]}`, text }
    }
    const uncommitted = /^uncommitted (\S+) (\S+) (\d+) (\d+)$/.exec(text)
    if (uncommitted !== null) {
      return { kind: "uncommitted", job: uncommitted[1]!, missing: uncommitted[2]!, pid: Number(uncommitted[4]), what: text, text }
    }
    return { kind: "bad", text, what: `bad ${text}` }
  })
}

/** A one-line JSON summary of a report (what bench/crash.ts prints). */
export const summary = (report: Report) => ({
  trials: report.trials,
  midRunKills: report.midRunKills,
  startupKills: report.attempts.filter((a) => a.killedAt !== undefined && !a.runBegun).length,
  restarts: report.restarts,
  jobs: report.jobs,
  steps: report.steps,
  reExecutedSteps: report.reExecutedSteps,
  reExecutedJobs: report.reExecutedJobs,
  violations: report.violations.length,
  durationMillis: report.durationMillis,
  journal: report.journal
})
