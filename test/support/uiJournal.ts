/**
 * Journals for the dashboard's tests and benchmark: a file migrated to the newest schema by the runner's own
 * migrations, then filled directly (one transaction, prepared statements) with as many runs, jobs, attempts and log
 * lines as asked — 100,000 runs take seconds, which running them would not.
 */
import * as Effect from "effect/Effect"
import { DatabaseSync } from "node:sqlite"
import * as migrations from "../../src/internal/sql/migrations.ts"
import * as SqliteClient from "../../src/internal/sql/SqliteClient.ts"

/** Creates (or migrates) the journal file. */
export const migrate = (file: string): Promise<void> =>
  Effect.runPromise(
    Effect.asVoid(migrations.run()).pipe(Effect.provide(SqliteClient.layer({ filename: file, durability: "normal" })))
  )

/** A run id as the runner makes them (`YYYYMMDD-HHMMSS-hex`), unique by `n`. */
export const runIdAt = (millis: number, n: number): string => {
  const iso = new Date(millis).toISOString()
  return `${iso.slice(0, 10).replace(/-/g, "")}-${iso.slice(11, 19).replace(/:/g, "")}-${n.toString(16).padStart(6, "0")}`
}

export interface SeedJob {
  readonly jobId: string
  readonly status: string
  readonly attempts?: number
  readonly output?: string
  readonly error?: string
  readonly reason?: string
}

export interface SeedRun {
  readonly runId: string
  readonly dag: string
  readonly key?: string
  readonly status: string
  readonly trigger?: string
  readonly startedAt: number
  readonly endedAt?: number
  readonly jobs: ReadonlyArray<SeedJob>
  readonly logs?: ReadonlyArray<{ readonly jobId?: string; readonly level?: string; readonly message: string }>
  readonly executions?: ReadonlyArray<Record<string, unknown>>
}

/** An audit record (Audit.ts) as the runner writes one. */
export const execution = (at: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  at,
  user: "ops",
  host: "build-1",
  pid: 4242,
  runnerVersion: "0.1.0",
  effectVersion: "4.1.5",
  runtime: "node 24",
  taskFile: "tasks/etl.ts",
  gitCommit: "0123456789abcdef0123",
  ...extra
})

/** Writes the runs (their jobs, one attempt row per attempt, log lines) in one transaction. */
export const insertRuns = (db: DatabaseSync, runs: Iterable<SeedRun>): void => {
  const run = db.prepare(`INSERT INTO runs (id, dag, run_key, status, started_at, ended_at, host, pid, runner_version,
    definition_hash, trigger, executions) VALUES (?, ?, ?, ?, ?, ?, 'build-1', 4242, '0.1.0', 'h', ?, ?)`)
  const job = db.prepare(`INSERT INTO jobs (run_id, job_id, status, attempts, started_at, ended_at, output, error, reason)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
  const attempt = db.prepare(`INSERT INTO attempts (run_id, job_id, attempt, status, started_at, ended_at, error)
    VALUES (?, ?, ?, ?, ?, ?, ?)`)
  const log = db.prepare(`INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, ?, ?, ?, ?, ?)`)
  db.exec("BEGIN")
  try {
    for (const r of runs) {
      const ended = r.endedAt ?? null
      run.run(r.runId, r.dag, r.key ?? null, r.status, r.startedAt, ended, r.trigger ?? "cli",
        JSON.stringify(r.executions ?? [execution(r.startedAt)]))
      r.jobs.forEach((j, i) => {
        const attempts = j.attempts ?? (j.status === "skipped" || j.status === "pending" ? 0 : 1)
        const start = r.startedAt + i * 10
        const running = j.status === "running"
        job.run(r.runId, j.jobId, j.status, attempts, attempts > 0 ? start : null,
          attempts > 0 && !running ? start + attempts * 100 : null, j.output ?? null, j.error ?? null, j.reason ?? null)
        for (let a = 1; a <= attempts; a++) {
          const last = a === attempts
          attempt.run(r.runId, j.jobId, a, last ? j.status : "failed", start + (a - 1) * 100,
            last && running ? null : start + (a - 1) * 100 + 80, last ? j.error ?? null : "retried")
        }
      })
      let at = r.startedAt
      for (const line of r.logs ?? []) {
        log.run(r.runId, line.jobId ?? null, line.jobId === undefined ? null : 1, at++, line.level ?? "info", line.message)
      }
    }
    db.exec("COMMIT")
  } catch (error) {
    db.exec("ROLLBACK")
    throw error
  }
}

/** Opens the journal file for the duration of `f`. */
export const withDb = <A>(file: string, f: (db: DatabaseSync) => A): A => {
  const db = new DatabaseSync(file)
  try {
    db.exec("PRAGMA busy_timeout = 5000")
    return f(db)
  } finally {
    db.close()
  }
}

/**
 * `count` finished runs of `dag`, one a minute ending at `newest`, each with `jobs` jobs (every 7th run failed in its
 * last job, every 5th job retried once): for scale tests.
 */
export function* manyRuns(options: {
  readonly count: number
  readonly dag: string
  readonly jobs: number
  readonly newest: number
  readonly offset?: number
}): Generator<SeedRun> {
  const jobIds = Array.from({ length: options.jobs }, (_, i) => `job-${String(i).padStart(2, "0")}`)
  for (let i = 0; i < options.count; i++) {
    const startedAt = options.newest - (options.count - i) * 60_000
    const failed = i % 7 === 0
    yield {
      runId: runIdAt(startedAt, (options.offset ?? 0) + i),
      dag: options.dag,
      key: `k-${i}`,
      status: failed ? "failed" : "succeeded",
      trigger: i % 3 === 0 ? "schedule" : "cli",
      startedAt,
      endedAt: startedAt + 5000,
      jobs: jobIds.map((jobId, j) => ({
        jobId,
        status: failed && j === jobIds.length - 1 ? "failed" : "succeeded",
        attempts: j % 5 === 0 ? 2 : 1,
        ...(failed && j === jobIds.length - 1 ? { error: "boom" } : {})
      }))
    }
  }
}
