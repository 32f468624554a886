/**
 * The durable Journal over effect/sql: every event becomes statements, and one writer fiber commits whatever has
 * queued up in a single transaction (group commit). `record` returns for a job's success only once its transaction
 * is committed, so dependents never start on an output that a crash could lose, while jobs that finish together
 * share one fsync. The same writer serves a SQLite file (layerSqlite) and a PostgreSQL database (layerPostgres): its
 * statements are SQLite's text, rewritten for PostgreSQL by Dialect.ts; the few that differ in shape are chosen here.
 *
 * Longer than our ~350-line norm on purpose: the writer, the run locks it fences and the service's methods share one
 * scope's state (the queue, the locks held); cut apart, each piece would take that state as parameters. The rows each
 * event writes are in EventStatements.ts.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Reactivity from "effect/reactivity/Reactivity"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import type { Fragment } from "effect/sql/Statement"
import * as Tracer from "effect/Tracer"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { background } from "../background.ts"
import type * as FileHashes from "../cache/FileHashes.ts"
import * as CacheQueries from "./CacheQueries.ts"
import * as Journal from "../Journal.ts"
import * as render from "../render.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as Dialect from "./Dialect.ts"
import { type Statement, statement, statements } from "./EventStatements.ts"
import * as migrations from "./migrations.ts"
import * as pgMigrations from "./pgMigrations.ts"
import * as SqliteClient from "./SqliteClient.ts"

/** A lock whose holder has not renewed it for this long is taken over (default; `RUNNER_LOCK_STALE_AFTER`). */
export const STALE_AFTER_MILLIS = 60_000
const HEARTBEAT_MILLIS = 2_000
const WAIT_POLL_MILLIS = 250
const LOG_INSERT_HEAD = `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES`
const LOG_VALUES = `(?, ?, ?, ?, ?, ?)`
/** One log line's statement: the writer recognises it to batch consecutive lines on PostgreSQL. */
const LOG_INSERT = `${LOG_INSERT_HEAD} ${LOG_VALUES}`
/** Rows per multi-row INSERT of log lines (6 parameters each; PostgreSQL allows 65,535 per statement). */
const LOG_ROWS_PER_INSERT = 1_000
/** A commit that finds another process's write lock (SQLITE_BUSY after busy_timeout) waits and tries again. */
const BUSY_RETRY_MILLIS = [50, 100, 200, 500, 1_000] as const

/**
 * How long a run's lock may go without a heartbeat before another process takes it over. Set
 * `RUNNER_LOCK_STALE_AFTER` (e.g. `5 seconds`) for tests or where a shorter takeover after a hung runner matters more
 * than tolerating long pauses (a runner stopped longer than this loses its run and exits 75).
 */
export const staleAfter = Config.Duration("RUNNER_LOCK_STALE_AFTER").pipe(
  Config.withDefault(Duration.millis(STALE_AFTER_MILLIS))
)

/** A run lock this process holds: the fence its run's writes are committed behind. */
interface Held {
  readonly _tag: "Run"
  readonly runId: string
  readonly lockKey: string
  readonly token: string
  readonly lost: Deferred.Deferred<never, Journal.LockLost>
  /** Set (in the writer) once a commit found the lock no longer carries our token. */
  lostBy: Journal.LockLost | undefined
}

/** A job lease this process holds (`leaseJob`): the fence the job's writes are committed behind. */
interface Leased {
  readonly _tag: "Job"
  readonly runId: string
  readonly jobId: string
  readonly epoch: number
  readonly lost: Deferred.Deferred<never, Journal.LockLost>
  /** Set once a commit found the job's epoch moved on (or this process leased the job again). */
  lostBy: Journal.LockLost | undefined
}

/** What a write is committed behind: its run's lock, or its job's lease (which then stands alone, see leaseJob). */
type Fence = Held | Leased

const leaseKey = (runId: string, jobId: string) => `${runId}\u0000${jobId}`

interface Item {
  readonly op: ReadonlyArray<Statement>
  readonly done: Deferred.Deferred<void, Journal.JournalError | Journal.LockLost> | undefined
  /** The lock or lease the statements are written behind; undefined for writes of no run's. */
  readonly fence: Fence | undefined
  /**
   * When the fence is lost: fail (a job's success or checkpoint must never count as committed), rather than return
   * having written nothing (how the run ended: it is not this process's run any more).
   */
  readonly mustCommit: boolean
}

/** A job lease found taken over (by `takenBy`, as it named itself, when known). */
const jobLeaseLost = (lease: Leased, takenBy: string | undefined) =>
  new Journal.LockLost({ runId: lease.runId, holder: undefined, staleAfterMillis: 0, jobId: lease.jobId, takenBy })

const journalError = (operation: string) => (cause: unknown) =>
  new Journal.JournalError({ operation, reason: cause instanceof Error ? cause.message : String(cause) })

/** JSON for the journal's own records (the audit); bigints become strings rather than failing the write. */
const toJson = (u: unknown): string =>
  JSON.stringify(u, (_key, value) => typeof value === "bigint" ? value.toString() : value) ?? "null"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"
  }
}

/**
 * Which pid namespace this process's pid belongs to (Linux: `/proc/self/ns/pid`), so that a lock held by pid 1 of
 * another container with the same host name is never taken for one of our dead processes. Elsewhere: the host name.
 */
const pidNamespace = (host: string): string => {
  try {
    return `${host}/${fs.readlinkSync("/proc/self/ns/pid")}`
  } catch {
    return host
  }
}

/**
 * SQLite's "another connection holds the write lock" (BUSY, LOCKED), or PostgreSQL's serialization failure or
 * deadlock (SQLSTATE 40001, 40P01), in an error or its causes: the transaction is tried again.
 */
const isBusy = (cause: unknown): boolean => {
  for (let u = cause, depth = 0; typeof u === "object" && u !== null && depth < 8; depth++) {
    const code = (u as { code?: unknown }).code
    if (code === "40001" || code === "40P01") return true
    const errcode = (u as { errcode?: unknown }).errcode
    if (typeof errcode === "number") return (errcode & 0xff) === 5 || (errcode & 0xff) === 6
    const message = (u as { message?: unknown }).message
    // Deno's node:sqlite gives no result code, only SQLite's text for it.
    if (typeof message === "string" && /database (table )?is locked|database is busy/.test(message)) return true
    u = (u as { cause?: unknown }).cause ?? (u as { reason?: unknown }).reason
  }
  return false
}

/** The SQL journal over the current SqlClient; migrates the schema first. */
export const make: Effect.Effect<Journal.Journal["Service"], Journal.JournalError, SqlClient.SqlClient | Scope.Scope> =
  Effect.suspend(() => makeFor("the journal file"))

/** `make`, naming the journal's file (or redacted URL) in the errors people see. */
const makeFor = (
  filename: string
): Effect.Effect<Journal.Journal["Service"], Journal.JournalError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    /** A writer statement's text as this database runs it (PostgreSQL: see Dialect.ts). */
    const text: (sqlite: string) => string = pg ? Dialect.toPostgres : (sqlite) => sqlite
    // A damaged file may open and fail only here, when its schema is read.
    yield* (pg ? pgMigrations.run() : migrations.run()).pipe(
      Effect.mapError((cause) =>
        new Journal.JournalError({
          operation: "migrate",
          reason: pg ? `${filename}: ${describe(cause)}` : SqliteClient.describeError(filename, cause)
        })
      )
    )
    const staleAfterMillis = Duration.toMillis(yield* Effect.orDie(staleAfter))
    const heartbeatMillis = Math.max(1, Math.min(HEARTBEAT_MILLIS, Math.floor(staleAfterMillis / 4)))
    const host = os.hostname()
    const pid = process.pid
    const namespace = pidNamespace(host)
    const queue = yield* Queue.unbounded<Item, Cause.Done>()
    /** The run locks this process holds, by run id. */
    const held = new Map<string, Held>()
    /** The job leases this process holds, by `leaseKey`. */
    const leased = new Map<string, Leased>()
    /** The job of each process group journaled as running (`runId NUL pid`): its end is fenced by that job's lease. */
    const processJobs = new Map<string, string>()
    /** What a write of the run (and job) is fenced by: the job's lease if this process holds one, else the run's lock. */
    const fenceOf = (runId: string | undefined, jobId?: string | undefined): Fence | undefined =>
      runId === undefined
        ? undefined
        : (jobId === undefined ? undefined : leased.get(leaseKey(runId, jobId))) ?? held.get(runId)

    /**
     * Runs a batch's statements on the transaction's connection. The writer executes tens of thousands of fixed
     * statements per large run: building, compiling and tracing each through the client's tagged template (a span
     * per statement) cost more than SQLite's own work, so they bypass it. First, in the same transaction, each lock
     * the batch writes behind must still carry our token: the writes of a run whose lock was taken over are skipped.
     */
    const execute = (items: ReadonlyArray<Item>) =>
      Effect.flatMap(Effect.serviceOption(sql.transactionService), (transaction) =>
        Effect.gen(function*() {
          if (transaction._tag === "None") return yield* Effect.die(new Error("journal writer: not in a transaction"))
          const connection = transaction.value[0]
          const fences = new Set<Fence>()
          for (const item of items) if (item.fence !== undefined && item.fence.lostBy === undefined) fences.add(item.fence)
          for (const fence of fences) {
            if (fence._tag === "Job") {
              // As for a run's lock: FOR SHARE holds a takeover (leaseJob's upsert) off until this batch is committed.
              const rows = yield* connection.execute(
                pg
                  ? `SELECT epoch, holder FROM job_leases WHERE run_id = $1 AND job_id = $2 FOR SHARE`
                  : `SELECT epoch, holder FROM job_leases WHERE run_id = ? AND job_id = ?`,
                [fence.runId, fence.jobId],
                undefined
              ) as Effect.Effect<ReadonlyArray<{ epoch: number; holder: string }>, unknown>
              const row = rows[0]
              if (row !== undefined && Number(row.epoch) === fence.epoch) continue
              fence.lostBy = jobLeaseLost(fence, row?.holder)
              continue
            }
            // PostgreSQL: FOR SHARE holds off a takeover (which updates the row) until this batch is committed, as
            // SQLite's single writer does.
            const rows = yield* connection.execute(
              pg ? `SELECT token, pid, host, since FROM locks WHERE lock_key = $1 FOR SHARE` : `SELECT token, pid, host, since FROM locks WHERE lock_key = ?`,
              [fence.lockKey],
              undefined
            ) as Effect.Effect<ReadonlyArray<{ token: string | null; pid: number; host: string; since: number }>, unknown>
            const row = rows[0]
            if (row?.token === fence.token) continue
            fence.lostBy = new Journal.LockLost({
              runId: fence.runId,
              holder: row === undefined ? undefined : { pid: Number(row.pid), host: row.host, since: Number(row.since) },
              staleAfterMillis
            })
          }
          const ops: Array<Statement> = []
          for (const item of items) if (item.fence?.lostBy === undefined) ops.push(...item.op)
          const runMany = SqliteClient.runManyOf(connection)
          if (runMany !== undefined) return yield* runMany(ops)
          for (let i = 0; i < ops.length;) {
            const [sqlite, params] = ops[i]!
            if (!pg || sqlite !== LOG_INSERT) {
              yield* connection.execute(text(sqlite), params, undefined)
              i++
              continue
            }
            // PostgreSQL: a round trip per statement made a job printing 200,000 lines take a minute; consecutive log
            // lines go in one multi-row INSERT (in order, so their ids keep it).
            let end = i
            while (end < ops.length && end - i < LOG_ROWS_PER_INSERT && ops[end]![0] === LOG_INSERT) end++
            const rows = ops.slice(i, end)
            yield* connection.execute(
              text(`${LOG_INSERT_HEAD} ${rows.map(() => LOG_VALUES).join(", ")}`),
              rows.flatMap(([, values]) => values),
              undefined
            )
            i = end
          }
        }))

    /** Commits a batch; waits out another process's write lock rather than failing (`runner prune`, a reader). */
    const transact = (items: ReadonlyArray<Item>, retries = 0): Effect.Effect<void, unknown> =>
      sql.withTransaction(execute(items)).pipe(
        Effect.catch((error) =>
          isBusy(error)
            ? Effect.andThen(
              Effect.sleep(BUSY_RETRY_MILLIS[Math.min(retries, BUSY_RETRY_MILLIS.length - 1)]!),
              transact(items, retries + 1)
            )
            : Effect.fail(error)
        )
      )

    /**
     * Commits a batch and settles its items. A batch that fails for another reason is committed again one item at a
     * time, so one bad write fails (or reports) only itself, never the unrelated jobs it was grouped with.
     */
    const commit = (items: ReadonlyArray<Item>): Effect.Effect<void> =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(transact(items))
        if (exit._tag === "Failure" && items.length > 1) {
          for (const item of items) yield* commit([item])
          return
        }
        for (const item of items) {
          const lost = item.fence?.lostBy
          if (lost !== undefined && !Deferred.isDoneUnsafe(item.fence!.lost)) yield* announceLost(item.fence!, lost)
          if (exit._tag === "Failure") {
            const error = new Journal.JournalError({ operation: "commit", reason: render.causeMessage(exit.cause) })
            if (item.done !== undefined) yield* Deferred.fail(item.done, error)
            else yield* Console.error(`runner: a journal write was lost: ${error.message}`)
          } else if (item.done !== undefined) {
            if (lost !== undefined && item.mustCommit) yield* Deferred.fail(item.done, lost)
            else yield* Deferred.succeed(item.done, undefined)
          }
        }
      }).pipe(Effect.uninterruptible)

    /**
     * The run's lock (or a job's lease) was found taken over: say so in the run's log (a line added, nothing
     * overwritten; under the job's id for a lease), then stop the run (or the job).
     */
    const announceLost = (fence: Fence, lost: Journal.LockLost) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Queue.offer(queue, {
          op: [statement(
            `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, ?, ?, ?, ?, ?)`,
            fence.runId, fence._tag === "Job" ? fence.jobId : null, null, at, "ERROR", `pid ${pid} on ${host}: ${lost.message}`
          )],
          done: undefined,
          fence: undefined,
          mustCommit: false
        })).pipe(Effect.andThen(Deferred.fail(fence.lost, lost)))

    // No tracing spans for the writer's transactions: one per commit, thousands per run, and nobody reads them.
    const writer = yield* Effect.forkScoped(Effect.withTracerEnabled(
      Effect.forever(Effect.flatMap(Queue.takeAll(queue), commit)).pipe(Effect.catch(() => Effect.void)),
      false
    ))
    // At the end, the writer commits everything still queued (log lines after the last durable event), then stops.
    yield* Effect.addFinalizer(() => Effect.andThen(Queue.end(queue), Fiber.join(writer)))
    const closed = new Journal.JournalError({ operation: "write", reason: "the journal is closed" })

    /** Queues statements; for a durable write, waits until they are committed behind `fence` (see `fenceOf`). */
    const enqueue = (
      op: ReadonlyArray<Statement>,
      durable: boolean,
      fence: Fence | undefined,
      mustCommit = false
    ): Effect.Effect<void, Journal.JournalError | Journal.LockLost> => {
      return durable
        ? Effect.flatMap(Deferred.make<void, Journal.JournalError | Journal.LockLost>(), (done) =>
          Effect.flatMap(Queue.offer(queue, { op, done, fence, mustCommit }), (offered) =>
            offered ? Deferred.await(done) : Effect.fail(closed)))
        : Effect.flatMap(Queue.offer(queue, { op, done: undefined, fence, mustCommit }), (offered) =>
          offered ? Effect.void : Effect.fail(closed))
    }

    // A cached job's record is not waited for: what it reuses is durable already (its cache entry), and a crash before
    // the record is committed only makes a resumed run look the entry up again.
    const durable = (event: RunEvent.RunEvent) =>
      event._tag === "AttemptSucceeded" || event._tag === "RunStarted" || event._tag === "RunFinished"

    /** Picks or creates the run and takes its lock, in one write transaction. */
    const tryBegin = (request: Journal.BeginRequest) =>
      sql.withTransaction(Effect.gen(function*() {
        // PostgreSQL: begins are serialised, as SQLite's write lock serialises them, so two processes never both
        // find a lock free and take it (released at commit).
        if (pg) yield* sql`SELECT pg_advisory_xact_lock(${Dialect.BEGIN_LOCK})`
        const now = yield* Clock.currentTimeMillis
        const { dag, target } = request
        type Row = { id: string; status: string; run_key: string | null }
        let run: Row | undefined
        let resumed = false
        if (target._tag === "Resume") {
          const rows = target.runId === undefined
            ? yield* sql<Row>`SELECT id, status, run_key FROM runs WHERE dag = ${dag} AND status <> 'succeeded'
                              ORDER BY started_at DESC, rowid DESC LIMIT 1`
            : yield* sql<Row>`SELECT id, status, run_key FROM runs WHERE id = ${target.runId} AND dag = ${dag}`
          run = rows[0]
          if (run === undefined || run.status === "succeeded") {
            return { _tag: "NothingToResume", runId: target.runId } as const
          }
          resumed = true
        } else if (target._tag === "Key") {
          const rows = yield* sql<Row>`SELECT id, status, run_key FROM runs WHERE dag = ${dag} AND run_key = ${target.key}
                                       ORDER BY started_at DESC, rowid DESC LIMIT 1`
          const existing = rows[0]
          if (existing?.status === "succeeded" && !target.force) {
            return { _tag: "AlreadySucceeded", runId: existing.id, key: target.key } as const
          }
          if (existing !== undefined && existing.status !== "succeeded") {
            run = existing
            resumed = true
          }
        }
        const key = target._tag === "Key" ? target.key : run?.run_key ?? undefined
        const runId = run?.id ?? Journal.makeRunId(now)
        const lockKey = key === undefined ? `run:${runId}` : `key:${dag}:${key}`
        const locks = yield* sql<
          { run_id: string; pid: number; host: string; since: number; heartbeat_at: number; pid_namespace: string | null }
        >`SELECT run_id, pid, host, since, heartbeat_at, pid_namespace FROM locks WHERE lock_key = ${lockKey}`
        const holder = locks[0]
        if (holder !== undefined) {
          // A dead holder is known at once only in our own pid namespace: pid 1 of another container is not ours.
          // (A lock written by a runner before tokens has no namespace: its host name stands in.)
          const stale = now - holder.heartbeat_at > staleAfterMillis ||
            ((holder.pid_namespace ?? holder.host) === (holder.pid_namespace === null ? host : namespace) &&
              !isAlive(holder.pid))
          if (!stale) {
            return yield* new Journal.RunLocked({
              runId: holder.run_id,
              dag,
              key,
              pid: holder.pid,
              host: holder.host,
              since: holder.since
            })
          }
        }
        // A token of this taking: whoever holds the lock later, our writes check it is still ours (fencing).
        const token = crypto.randomUUID()
        yield* sql.unsafe(
          text(`INSERT OR REPLACE INTO locks (lock_key, run_id, pid, host, since, heartbeat_at, token, pid_namespace)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
          [lockKey, runId, pid, host, now, now, token, namespace]
        )
        if (run === undefined) {
          yield* sql`INSERT INTO runs (id, dag, run_key, status, started_at, host, pid, runner_version, definition_hash, trigger)
                     VALUES (${runId}, ${dag}, ${key ?? null}, 'created', ${now}, ${host}, ${pid},
                             ${request.runnerVersion}, ${request.definitionHash}, ${request.trigger})`
        }
        if (request.audit !== undefined) {
          yield* (pg
            ? sql`UPDATE runs SET executions = (executions::jsonb || jsonb_build_array(${toJson(request.audit)}::jsonb))::text
                  WHERE id = ${runId}`
            : sql`UPDATE runs SET executions = json_insert(executions, '$[#]', json(${toJson(request.audit)}))
                  WHERE id = ${runId}`)
        }
        return { _tag: "Run", runId, resumed, key, lockKey, token } as const
      }))

    const begin = (request: Journal.BeginRequest): Effect.Effect<Journal.Begun, Journal.JournalError | Journal.RunLocked, Scope.Scope> =>
      Effect.gen(function*() {
        const attempt = tryBegin(request).pipe(
          Effect.retry({ while: (error) => error._tag === "SqlError" && isBusy(error), times: 20 }),
          Effect.catchTag("SqlError", (error) => Effect.fail(journalError("begin")(error)))
        )
        const begun = request.wait
          ? yield* attempt.pipe(
            Effect.catchTag("RunLocked", (locked) => Effect.andThen(Effect.sleep(WAIT_POLL_MILLIS), Effect.fail(locked))),
            Effect.retry({ while: (error) => error._tag === "RunLocked" })
          )
          : yield* attempt
        if (begun._tag !== "Run") return begun
        const { lockKey, token, ...result } = begun
        const fence: Held = { _tag: "Run", runId: result.runId, lockKey, token, lost: yield* Deferred.make<never, Journal.LockLost>(), lostBy: undefined }
        held.set(result.runId, fence)
        // Released after the heartbeat stops (finalizers run last-added first), behind every write queued before.
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            held.delete(result.runId)
            return enqueue([statement(`DELETE FROM locks WHERE lock_key = ? AND token = ?`, lockKey, token)], true, undefined)
          }).pipe(Effect.ignore)
        )
        // Each heartbeat is a fenced write: the commit that finds the lock taken over stops the run (lockLost). In the
        // background: a heartbeat alone does not keep a stalled process alive (see internal/background.ts).
        yield* Effect.forkScoped(background(Effect.forever(Effect.andThen(
          Effect.sleep(heartbeatMillis),
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            enqueue(
              [statement(`UPDATE locks SET heartbeat_at = ? WHERE lock_key = ? AND token = ?`, now, lockKey, token)],
              false,
              fence
            )).pipe(Effect.ignore)
        ))))
        return result
      })

    /**
     * Takes a job over in one transaction: the epoch bumped (a first lease is epoch 1; the row is never deleted while
     * its run is kept, so an epoch is never reused), the attempts an earlier holder left running closed, the attempts
     * counted. Concurrent takeovers are serialised by the row's upsert (PostgreSQL) or the write lock (SQLite).
     */
    const takeJob = (runId: string, jobId: string, holder: string, placement: number | null) =>
      sql.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const taken = yield* sql<{ epoch: number }>`INSERT INTO job_leases (run_id, job_id, epoch, holder, taken_at, placement)
          VALUES (${runId}, ${jobId}, 1, ${holder}, ${now}, ${placement})
          ON CONFLICT (run_id, job_id) DO UPDATE
          SET epoch = job_leases.epoch + 1, holder = excluded.holder, taken_at = excluded.taken_at, placement = excluded.placement
          RETURNING epoch`
        const error = Journal.takenOverError(holder)
        yield* sql`UPDATE attempts SET status = 'interrupted', ended_at = ${now}, error = ${error}
                   WHERE run_id = ${runId} AND job_id = ${jobId} AND status = 'running'`
        yield* sql`UPDATE jobs SET status = 'interrupted', ended_at = ${now}, reason = ${error}
                   WHERE run_id = ${runId} AND job_id = ${jobId} AND status = 'running'`
        const counted = yield* sql<{ n: number }>`SELECT count(*) AS n FROM attempts WHERE run_id = ${runId} AND job_id = ${jobId}`
        return { epoch: Number(taken[0]!.epoch), attempts: Number(counted[0]?.n ?? 0) }
      }))

    const leaseJob = (
      runId: string,
      jobId: string,
      holder: string,
      placement?: number
    ): Effect.Effect<Journal.JobLease, Journal.JournalError, Scope.Scope> =>
      Effect.gen(function*() {
        const { epoch, attempts } = yield* takeJob(runId, jobId, holder, placement ?? null).pipe(
          Effect.retry({ while: isBusy, times: 20 }),
          Effect.mapError(journalError("lease job"))
        )
        const key = leaseKey(runId, jobId)
        const lease: Leased = { _tag: "Job", runId, jobId, epoch, lost: yield* Deferred.make<never, Journal.LockLost>(), lostBy: undefined }
        // This process leased the job again (the engine delivered it twice): the earlier lease is over.
        const earlier = leased.get(key)
        if (earlier !== undefined && earlier.lostBy === undefined) {
          earlier.lostBy = jobLeaseLost(earlier, holder)
          yield* Deferred.fail(earlier.lost, earlier.lostBy)
        }
        leased.set(key, lease)
        yield* Effect.addFinalizer(() => Effect.sync(() => {
          if (leased.get(key) === lease) leased.delete(key)
        }))
        // A job that writes nothing for a while still learns soon that it was taken over: a fenced empty write
        // checks the epoch every heartbeat. In the background, as the run lock's heartbeat.
        yield* Effect.forkScoped(background(Effect.forever(Effect.andThen(
          Effect.sleep(heartbeatMillis),
          Effect.suspend(() => lease.lostBy === undefined ? enqueue([], false, lease) : Effect.never).pipe(Effect.ignore)
        ))))
        return { epoch, attempts, lost: Deferred.await(lease.lost) }
      })

    /**
     * The file-hash memo: read whole on first use (one query; 10,000 rows take ~10 ms), its updates queued with the
     * next commit. Losing one is harmless: the file is hashed again.
     */
    const fileMemo = yield* Effect.cached(
      CacheQueries.fileHashes().pipe(
        Effect.provideService(SqlClient.SqlClient, sql),
        Effect.map((known): FileHashes.Memo => {
          return {
            get: (absolute) => known.get(absolute),
            set: (absolute, entry) => {
              known.set(absolute, entry)
              Queue.offerUnsafe(queue, {
                op: [statement(
                  `INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, ino, sha256) VALUES (?, ?, ?, ?, ?)`,
                  absolute, entry.size, entry.mtimeNs, entry.ino, entry.sha256
                )],
                done: undefined,
                fence: undefined,
                mustCommit: false
              })
            }
          }
        }),
        Effect.mapError(journalError("read file hashes"))
      )
    )

    /**
     * Rows read as one JSON text on SQLite (`json_group_array`), parsed at once: node:sqlite makes a JavaScript object
     * per row, and a resumed 10,000-job run reads two such lists before its first new job (its succeeded jobs, then its
     * jobs' ids): 17-21 ms on Node and Deno as rows, 8 as JSON (Bun: 7 either way). SQLite quotes each text as a JSON
     * string, which `JSON.parse` gives back as it was. Rows one by one on PostgreSQL, and where the one text would be
     * too long for SQLite (outputs of over 1 GB in all). `columns` is this module's own list of column names, spliced
     * as SQL text; `from` is the table and its WHERE, whose values go as parameters. Each row comes as an array.
     */
    const rowsOf = (columns: string, from: Fragment): Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError> => {
      const rows = sql`SELECT ${sql.literal(columns)} FROM ${from}`.values
      return pg ? rows : Effect.matchEffect(
        sql<{ readonly rows: string }>`SELECT json_group_array(json_array(${sql.literal(columns)})) AS rows FROM ${from}`,
        {
          onFailure: () => rows,
          onSuccess: (result) => Effect.succeed(JSON.parse(result[0]?.rows ?? "[]") as ReadonlyArray<ReadonlyArray<unknown>>)
        }
      )
    }

    /** The ids of the jobs a run has rows for. */
    const jobsOf = (runId: string): Effect.Effect<ReadonlySet<string>, Journal.JournalError> =>
      rowsOf("job_id", sql`jobs WHERE run_id = ${runId}`).pipe(
        Effect.map((rows) => new Set(rows.map((row) => row[0] as string))),
        Effect.mapError(journalError("read the run's jobs"))
      )

    return Journal.Journal.of({
      begin,
      leaseJob,
      // A restored job writes nothing: do not queue 5,000 empty items ahead of a resumed run's first job. Nor does the
      // start of a wait for a resource (the live view shows it; its end, JobAdmitted, journals the whole wait).
      record: (event, definitionHash) => {
        if (event._tag === "JobRestored" || event._tag === "JobWaiting") return Effect.void
        const write = (existing?: ReadonlySet<string>) =>
          enqueue(
            statements(event, definitionHash, { host, pid }, existing),
            durable(event),
            fenceOf(event.runId, "jobId" in event ? event.jobId : undefined),
            event._tag === "AttemptSucceeded"
          )
        // A resumed run's jobs' rows are read first (this process holds the run's lock: no other writes them meanwhile).
        return event._tag === "RunStarted" && event.resumed ? Effect.flatMap(jobsOf(event.runId), write) : write()
      },
      lockLost: (runId) => Effect.suspend(() => {
        const fence = held.get(runId)
        return fence === undefined ? Effect.never : Deferred.await(fence.lost)
      }),
      log: (record) =>
        Queue.offerUnsafe(queue, {
          op: [statement(
            LOG_INSERT,
            record.runId, record.jobId ?? null, record.attempt ?? null, record.at, record.level, record.message
          )],
          done: undefined,
          fence: fenceOf(record.runId, record.jobId),
          mustCommit: false
        }),
      placements: (runId) =>
        sql<{ job_id: string; placement: number }>`
          SELECT job_id, placement FROM job_leases WHERE run_id = ${runId} AND placement IS NOT NULL`.pipe(
          Effect.map((rows) => new Map(rows.map((row) => [row.job_id, Number(row.placement)] as const))),
          Effect.mapError(journalError("read job placements"))
        ),
      succeeded: (runId) =>
        rowsOf("job_id, output, definition_hash", sql`jobs WHERE run_id = ${runId} AND status IN ('succeeded', 'cached')`).pipe(
          Effect.map((rows) =>
            rows.map((row) => ({
              jobId: row[0] as string,
              json: (row[1] ?? undefined) as string | undefined,
              definitionHash: (row[2] ?? undefined) as string | undefined
            }))
          ),
          Effect.mapError(journalError("read succeeded jobs"))
        ),
      checkpoint: (runId, jobId, step) =>
        sql<{ output: string | null; input_hash: string | null }>`SELECT output, input_hash FROM checkpoints
                WHERE run_id = ${runId} AND job_id = ${jobId} AND step = ${step}`
          .pipe(
            Effect.map((rows) =>
              rows.length === 0
                ? Option.none()
                : Option.some({ json: rows[0]!.output || undefined, inputHash: rows[0]!.input_hash ?? undefined })
            ),
            Effect.mapError(journalError("read checkpoint"))
          ),
      lastSlot: (dag) =>
        sql<{ last_slot: number }>`SELECT last_slot FROM schedules WHERE dag = ${dag}`.pipe(
          Effect.map((rows) => rows.length === 0 ? Option.none() : Option.some(Number(rows[0]!.last_slot))),
          Effect.mapError(journalError("read schedule"))
        ),
      lastSuccess: (dag) =>
        sql<{ at: number | null }>`SELECT max(ended_at) AS at FROM runs WHERE dag = ${dag} AND status = 'succeeded'`.pipe(
          Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]?.at), Number)),
          Effect.mapError(journalError("read last success"))
        ),
      saveSlot: (dag, slot) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => enqueue([statement(
          `INSERT INTO schedules (dag, last_slot, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (dag) DO UPDATE SET last_slot = max(last_slot, excluded.last_slot), updated_at = excluded.updated_at`,
          dag,
          slot,
          now
        )], true, undefined)).pipe(Effect.catchTag("LockLost", Effect.die)), // no run's lock fences it
      saveCheckpoint: (runId, jobId, step, checkpoint) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => enqueue([statement(
          `INSERT OR REPLACE INTO checkpoints (run_id, job_id, step, output, input_hash, at) VALUES (?, ?, ?, ?, ?, ?)`,
          // The column is NOT NULL: "" (never JSON) stands for a step whose output is undefined.
          runId, jobId, step, checkpoint.json ?? "", checkpoint.inputHash ?? null, now
        )], true, fenceOf(runId, jobId), true)),
      // Not waited for: the row is committed with the writer's next batch, a moment after the command started.
      processStarted: (record) =>
        Effect.suspend(() => (processJobs.set(`${record.runId}\u0000${record.pid}`, record.jobId), enqueue([statement(
          `INSERT OR REPLACE INTO processes (run_id, job_id, attempt, pid, pgid, host, start_time, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          record.runId, record.jobId, record.attempt, record.pid, record.pgid, record.host, record.startTime ?? null,
          record.startedAt
        )], false, fenceOf(record.runId, record.jobId)))).pipe(Effect.catchTag("LockLost", () => Effect.void)),
      processEnded: (runId, pid) =>
        Effect.suspend(() => {
          const key = `${runId}\u0000${pid}`
          const jobId = processJobs.get(key)
          processJobs.delete(key)
          return enqueue([statement(`DELETE FROM processes WHERE run_id = ? AND host = ? AND pid = ?`, runId, host, pid)], false, fenceOf(runId, jobId))
        }).pipe(Effect.catchTag("LockLost", () => Effect.void)),
      processes: (runId) =>
        sql<{
          run_id: string
          job_id: string
          attempt: number
          pid: number
          pgid: number
          host: string
          start_time: string | null
          started_at: number
        }>`SELECT run_id, job_id, attempt, pid, pgid, host, start_time, started_at FROM processes
           WHERE run_id = ${runId} ORDER BY started_at, rowid`.pipe(
          Effect.map((rows) =>
            rows.map((row): Journal.ProcessRecord => ({
              runId: row.run_id,
              jobId: row.job_id,
              attempt: Number(row.attempt),
              pid: Number(row.pid),
              pgid: Number(row.pgid),
              host: row.host,
              startTime: row.start_time ?? undefined,
              startedAt: Number(row.started_at)
            }))
          ),
          Effect.mapError(journalError("read processes"))
        ),
      cached: (key) =>
        CacheQueries.entry(key).pipe(Effect.provideService(SqlClient.SqlClient, sql), Effect.mapError(journalError("read cache"))),
      latestCached: (dag, jobId) =>
        CacheQueries.latest(dag, jobId).pipe(
          Effect.provideService(SqlClient.SqlClient, sql),
          Effect.mapError(journalError("read cache"))
        ),
      fileMemo
    })
  })

/** The durable journal in a SQLite file. */
export const layerSqlite = (options: SqliteClient.Options): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  Layer.effect(Journal.Journal)(Effect.gen(function*() {
    const client = yield* SqliteClient.make(options).pipe(Effect.mapError(journalError(`open ${options.filename}`)))
    return untraced(yield* Effect.provideService(makeFor(options.filename), SqlClient.SqlClient, client))
  })).pipe(Layer.provide(Reactivity.layer))

/**
 * The durable journal in a PostgreSQL database (`postgres://user[:password]@host[:port]/db`). The client,
 * `@effect/sql-pg`, is imported only here, when such a journal is opened: SQLite users never load it (nor need it
 * installed). The password is the URL's, else `PGPASSWORD`, else the contents of the file `PGPASSWORD_FILE` names;
 * it is never printed: errors name the URL with `***` for it. BIGINT columns (milliseconds, pids) are read as numbers,
 * as SQLite gives them.
 */
export const layerPostgres = (url: string): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  Layer.effect(Journal.Journal)(Effect.gen(function*() {
    const client = yield* postgresClient(url)
    return untraced(yield* Effect.provideService(makeFor(Dialect.redact(url)), SqlClient.SqlClient, client).pipe(
      Effect.mapError((error) => new Journal.JournalError({ operation: error.operation, reason: scrub(url, error.reason) }))
    ))
  })).pipe(Layer.provide(Reactivity.layer))

/**
 * A client of the PostgreSQL database `url` names (as layerPostgres opens it: the package loaded now, the password
 * resolved, BIGINT read as numbers), for the operator commands that read the journal themselves and for the cluster's
 * engine (whose 64-bit ids, past 2^53, are read as bigints). Not migrated.
 * `readOnly`: every transaction of its sessions is read-only (`default_transaction_read_only`, sent at connect).
 */
export const postgresClient = (
  url: string,
  options: { readonly readOnly?: boolean } = {}
): Effect.Effect<SqlClient.SqlClient, Journal.JournalError, Scope.Scope | Reactivity.Reactivity> =>
  Effect.gen(function*() {
    const shown = Dialect.redact(url)
    const fail = (operation: string) => (cause: unknown) =>
      new Journal.JournalError({ operation, reason: `${shown}: ${scrub(url, describe(cause))}` })
    const [PgClient, PgTypes] = yield* Effect.tryPromise({
      try: () => Promise.all([import("@effect/sql-pg/PgClient"), import("@effect/sql-pg/PgTypes")]),
      catch: () =>
        new Journal.JournalError({
          operation: `open ${shown}`,
          reason: "a postgres:// journal needs the package @effect/sql-pg (npm install @effect/sql-pg@4.1.5)"
        })
    })
    const types = PgTypes.makeRegistry()
    types.register<number | bigint>(PgTypes.OID.int8, {
      // A value past 2^53 stays a bigint: the cluster engine's tables (same client) hold 64-bit snowflake ids.
      decode: (bytes) => {
        const value = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigInt64(0)
        const n = Number(value)
        return Result.succeed(Number.isSafeInteger(n) ? n : value)
      },
      encode: (value) => {
        const bytes = new Uint8Array(8)
        new DataView(bytes.buffer).setBigInt64(0, BigInt(value))
        return Result.succeed(bytes)
      }
    })
    const password = yield* passwordFor(url).pipe(Effect.mapError(fail(`open ${shown}`)))
    return yield* PgClient.make({
      url: Redacted.make(url),
      ...(password === undefined ? {} : { password: Redacted.make(password) }),
      types,
      applicationName: "effect-runner",
      connectTimeout: "10 seconds",
      ...(options.readOnly === true ? { startupParameters: { default_transaction_read_only: "on" } } : {})
    }).pipe(Effect.mapError(fail(`open ${shown}`)))
  })

/** The password when the URL has none: `PGPASSWORD`, else the (trimmed) contents of the file `PGPASSWORD_FILE`. */
const passwordFor = (url: string): Effect.Effect<string | undefined, Error> =>
  Effect.try({
    try: () => {
      if (new URL(url).password !== "") return undefined
      const direct = process.env["PGPASSWORD"]
      if (direct !== undefined && direct !== "") return direct
      const file = process.env["PGPASSWORD_FILE"]
      return file === undefined || file === "" ? undefined : fs.readFileSync(file, "utf8").replace(/\r?\n$/, "")
    },
    catch: (cause) => new Error(`PGPASSWORD_FILE: ${cause instanceof Error ? cause.message : String(cause)}`)
  })

/** An error's message and its causes' (the PostgreSQL client nests the server's message). */
const describe = (error: unknown): string => {
  const messages: Array<string> = []
  for (let u = error, depth = 0; typeof u === "object" && u !== null && depth < 6; depth++) {
    const message = (u as { message?: unknown }).message
    if (typeof message === "string" && message !== "" && !messages.some((m) => m.includes(message))) messages.push(message)
    u = (u as { cause?: unknown }).cause
  }
  return messages.length > 0 ? messages.join(": ") : String(error)
}

/** `text` with the URL's password (and the URL itself) replaced by their redacted forms. */
const scrub = (url: string, text: string): string => {
  let out = text.split(url).join(Dialect.redact(url))
  try {
    const password = decodeURIComponent(new URL(url).password)
    if (password.length > 0) out = out.split(password).join("***")
  } catch {
    // not a URL: nothing else to hide
  }
  return out
}

/**
 * The journal is the runner's bookkeeping, not the user's work: its statements open no spans (Effect's SQL client
 * would add one per statement to the run's trace when OpenTelemetry is on). Without a tracer that exports, nothing is
 * changed (disabling costs ~0.5 µs a call, the check ~0.2). `Effect.void` (an event kept nothing of) is passed as it
 * is: it runs no statement, and the recorder tells it apart (executor/recorder.ts).
 */
const untraced = (journal: Journal.Journal["Service"]): Journal.Journal["Service"] =>
  Object.fromEntries(Object.entries(journal).map(([name, value]: [string, unknown]) => [
    name,
    typeof value !== "function" ? value : (...args: Array<unknown>) => {
      const result: unknown = value(...args)
      return Effect.isEffect(result) && result !== Effect.void
        ? Effect.flatMap(Effect.tracer, (tracer) => tracer === Tracer.nativeTracer ? result : Effect.withTracerEnabled(result, false))
        : result
    }
  ])) as unknown as Journal.Journal["Service"]
