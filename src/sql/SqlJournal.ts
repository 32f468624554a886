/**
 * The durable Journal over effect/sql: every event becomes statements, and one writer fiber commits whatever has
 * queued up in a single transaction (group commit). `record` returns for a job's success only once its transaction
 * is committed, so dependents never start on an output that a crash could lose, while jobs that finish together
 * share one fsync.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Reactivity from "effect/reactivity/Reactivity"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as os from "node:os"
import * as Journal from "../Journal.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as migrations from "./migrations.ts"
import * as SqliteClient from "./SqliteClient.ts"

/** A lock whose holder has not renewed it for this long is taken over. */
export const STALE_AFTER_MILLIS = 60_000
const HEARTBEAT_MILLIS = 2_000
const WAIT_POLL_MILLIS = 250

/** One SQL statement of the journal: fixed SQLite text with `?` placeholders, and its parameters. */
type Statement = readonly [sql: string, params: ReadonlyArray<unknown>]

interface Item {
  readonly op: ReadonlyArray<Statement>
  readonly done: Deferred.Deferred<void, Journal.JournalError> | undefined
}

const journalError = (operation: string) => (cause: unknown) =>
  new Journal.JournalError({ operation, reason: cause instanceof Error ? cause.message : String(cause) })

/**
 * JSON for the journal; bigints become strings rather than failing the write. An output holding a `Redacted` value is
 * never written in clear: the whole output is replaced by a marker, and a resumed run runs that job again.
 */
export const toJson = (u: unknown): string => {
  let secret = false
  const json = JSON.stringify(u, function(this: Record<string, unknown>, key, value) {
    if (Redacted.isRedacted(this[key])) secret = true
    return typeof value === "bigint" ? value.toString() : value
  }) ?? "null"
  return secret ? JSON.stringify(Journal.unrestorable) : json
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"
  }
}

/** The SQL journal over the current SqlClient; migrates the schema first. */
export const make: Effect.Effect<Journal.Journal["Service"], Journal.JournalError, SqlClient.SqlClient | Scope.Scope> =
  Effect.suspend(() => makeFor("the journal file"))

/** `make`, naming the journal's file in the errors people see. */
const makeFor = (
  filename: string
): Effect.Effect<Journal.Journal["Service"], Journal.JournalError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // A damaged file may open and fail only here, when its schema is read.
    yield* migrations.run().pipe(
      Effect.mapError((cause) => new Journal.JournalError({ operation: "migrate", reason: SqliteClient.describeError(filename, cause) }))
    )
    const host = os.hostname()
    const pid = process.pid
    const queue = yield* Queue.unbounded<Item>()

    /**
     * Runs a batch's statements on the transaction's connection. The writer executes tens of thousands of fixed
     * statements per large run: building, compiling and tracing each through the client's tagged template (a span
     * per statement) cost more than SQLite's own work, so they bypass it.
     */
    const execute = (items: ReadonlyArray<Item>) =>
      Effect.flatMap(Effect.serviceOption(sql.transactionService), (transaction) => {
        if (transaction._tag === "None") return Effect.die(new Error("journal writer: not in a transaction"))
        const connection = transaction.value[0]
        return Effect.forEach(items, (item) =>
          Effect.forEach(item.op, ([text, params]) => connection.execute(text, params, undefined), { discard: true }), {
          discard: true
        })
      })
    const commit = (items: ReadonlyArray<Item>) =>
      sql.withTransaction(execute(items)).pipe(
        Effect.exit,
        Effect.flatMap((exit) =>
          Effect.forEach(items, (item) =>
            item.done === undefined
              ? Effect.void
              : exit._tag === "Success"
              ? Deferred.succeed(item.done, undefined)
              : Deferred.fail(item.done, journalError("commit")(exit.cause)), { discard: true })
        ),
        Effect.uninterruptible
      )
    // No tracing spans for the writer's transactions: one per commit, thousands per run, and nobody reads them.
    yield* Effect.forkScoped(Effect.withTracerEnabled(Effect.forever(Effect.flatMap(Queue.takeAll(queue), commit)), false))
    // At the end, commit what is still queued (log lines written after the last durable event).
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Queue.clear(queue), (items) => items.length === 0 ? Effect.void : commit(items))
    )
    const statement = (text: string, ...params: ReadonlyArray<unknown>): Statement => [text, params]

    const enqueue = (op: ReadonlyArray<Statement>, durable: boolean): Effect.Effect<void, Journal.JournalError> =>
      durable
        ? Effect.flatMap(Deferred.make<void, Journal.JournalError>(), (done) =>
          Effect.andThen(Queue.offer(queue, { op, done }), Deferred.await(done)))
        : Effect.asVoid(Queue.offer(queue, { op, done: undefined }))

    const updateAttempt = (e: { runId: string; jobId: string; attempt: number }, status: string, at: number, error: string | null) =>
      statement(
        `UPDATE attempts SET status = ?, ended_at = ?, error = ?
         WHERE id = (SELECT max(id) FROM attempts WHERE run_id = ? AND job_id = ? AND attempt = ?)`,
        status, at, error, e.runId, e.jobId, e.attempt
      )

    const statements = (event: RunEvent.RunEvent, definitionHash: string | undefined): ReadonlyArray<Statement> => {
      switch (event._tag) {
        case "RunStarted":
          return [
            statement(`UPDATE runs SET status = 'running', host = ?, pid = ?, ended_at = NULL WHERE id = ?`, host, pid, event.runId),
            // One statement for all the jobs' rows (10,000 single-row INSERTs took ~0.1 s before the first job started).
            statement(
              `INSERT OR IGNORE INTO jobs (run_id, job_id, status) SELECT ?, value, 'pending' FROM json_each(?)`,
              event.runId, JSON.stringify(event.jobIds)
            )
          ]
        case "AttemptStarted":
          return [
            statement(
              `INSERT INTO attempts (run_id, job_id, attempt, status, started_at) VALUES (?, ?, ?, 'running', ?)`,
              event.runId, event.jobId, event.attempt, event.at
            ),
            statement(
              `UPDATE jobs SET status = 'running', attempts = attempts + 1, started_at = coalesce(started_at, ?),
               error = NULL, reason = NULL WHERE run_id = ? AND job_id = ?`,
              event.at, event.runId, event.jobId
            )
          ]
        case "AttemptFailed":
          return [
            updateAttempt(event, "failed", event.at, event.error),
            ...(event.retryInMillis !== undefined ? [] : [statement(
              `UPDATE jobs SET status = 'failed', ended_at = ?, error = ? WHERE run_id = ? AND job_id = ?`,
              event.at, event.error, event.runId, event.jobId
            )])
          ]
        case "AttemptSucceeded":
          return [
            updateAttempt(event, "succeeded", event.at, null),
            statement(
              `UPDATE jobs SET status = 'succeeded', ended_at = ?, output = ?, definition_hash = ?, error = NULL
               WHERE run_id = ? AND job_id = ?`,
              event.at, toJson(event.encoded), definitionHash ?? null, event.runId, event.jobId
            )
          ]
        case "JobSkipped":
          return [statement(
            `UPDATE jobs SET status = 'skipped', reason = ?, ended_at = ? WHERE run_id = ? AND job_id = ? AND status <> 'succeeded'`,
            event.reason, event.at, event.runId, event.jobId
          )]
        case "JobInterrupted":
          return [
            updateAttempt(event, "interrupted", event.at, null),
            statement(`UPDATE jobs SET status = 'interrupted', ended_at = ? WHERE run_id = ? AND job_id = ?`, event.at, event.runId, event.jobId)
          ]
        case "JobRestored":
          return []
        case "RunFinished":
          return [statement(`UPDATE runs SET status = ?, ended_at = ? WHERE id = ?`, event.status, event.at, event.runId)]
      }
    }
    const durable = (event: RunEvent.RunEvent) =>
      event._tag === "AttemptSucceeded" || event._tag === "RunStarted" || event._tag === "RunFinished"

    /** Picks or creates the run and takes its lock, in one write transaction. */
    const tryBegin = (request: Journal.BeginRequest) =>
      sql.withTransaction(Effect.gen(function*() {
        const now = Date.now()
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
        const locks = yield* sql<{ run_id: string; pid: number; host: string; since: number; heartbeat_at: number }>`
          SELECT run_id, pid, host, since, heartbeat_at FROM locks WHERE lock_key = ${lockKey}`
        const holder = locks[0]
        if (holder !== undefined) {
          const stale = now - holder.heartbeat_at > STALE_AFTER_MILLIS || (holder.host === host && !isAlive(holder.pid))
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
        yield* sql`INSERT OR REPLACE INTO locks (lock_key, run_id, pid, host, since, heartbeat_at)
                   VALUES (${lockKey}, ${runId}, ${pid}, ${host}, ${now}, ${now})`
        if (run === undefined) {
          yield* sql`INSERT INTO runs (id, dag, run_key, status, started_at, host, pid, runner_version, definition_hash, trigger)
                     VALUES (${runId}, ${dag}, ${key ?? null}, 'created', ${now}, ${host}, ${pid},
                             ${request.runnerVersion}, ${request.definitionHash}, ${request.trigger})`
        }
        if (request.audit !== undefined) {
          yield* sql`UPDATE runs SET executions = json_insert(executions, '$[#]', json(${toJson(request.audit)}))
                     WHERE id = ${runId}`
        }
        return { _tag: "Run", runId, resumed, key, lockKey } as const
      }))

    const begin = (request: Journal.BeginRequest): Effect.Effect<Journal.Begun, Journal.JournalError | Journal.RunLocked, Scope.Scope> =>
      Effect.gen(function*() {
        const attempt = tryBegin(request).pipe(
          Effect.catchTag("SqlError", (error) => Effect.fail(journalError("begin")(error)))
        )
        const begun = request.wait
          ? yield* attempt.pipe(
            Effect.catchTag("RunLocked", (locked) => Effect.andThen(Effect.sleep(WAIT_POLL_MILLIS), Effect.fail(locked))),
            Effect.retry({ while: (error) => error._tag === "RunLocked" })
          )
          : yield* attempt
        if (begun._tag !== "Run") return begun
        const { lockKey, ...result } = begun
        yield* Effect.forkScoped(Effect.forever(Effect.andThen(
          Effect.sleep(HEARTBEAT_MILLIS),
          Effect.suspend(() =>
            enqueue([statement(`UPDATE locks SET heartbeat_at = ? WHERE lock_key = ? AND pid = ?`, Date.now(), lockKey, pid)], false)
          )
        )))
        yield* Effect.addFinalizer(() =>
          enqueue([statement(`DELETE FROM locks WHERE lock_key = ? AND pid = ?`, lockKey, pid)], true).pipe(Effect.ignore)
        )
        return result
      })

    return Journal.Journal.of({
      begin,
      // A restored job writes nothing: do not queue 5,000 empty items ahead of a resumed run's first job.
      record: (event, definitionHash) =>
        event._tag === "JobRestored" ? Effect.void : enqueue(statements(event, definitionHash), durable(event)),
      log: (record) =>
        Queue.offerUnsafe(queue, {
          op: [statement(
            `INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, ?, ?, ?, ?, ?)`,
            record.runId, record.jobId ?? null, record.attempt ?? null, record.at, record.level, record.message
          )],
          done: undefined
        }),
      succeeded: (runId) =>
        sql<{ job_id: string; output: string | null; definition_hash: string | null }>`
          SELECT job_id, output, definition_hash FROM jobs WHERE run_id = ${runId} AND status = 'succeeded'`.pipe(
          Effect.map((rows) =>
            rows.map((row) => ({
              jobId: row.job_id,
              encoded: row.output === null ? undefined : JSON.parse(row.output),
              definitionHash: row.definition_hash ?? undefined
            }))
          ),
          Effect.mapError(journalError("read succeeded jobs"))
        ),
      checkpoint: (runId, jobId, step) =>
        sql<{ output: string }>`SELECT output FROM checkpoints WHERE run_id = ${runId} AND job_id = ${jobId} AND step = ${step}`
          .pipe(
            Effect.map((rows) => rows.length === 0 ? Option.none() : Option.some(JSON.parse(rows[0]!.output))),
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
        enqueue([statement(
          `INSERT INTO schedules (dag, last_slot, updated_at) VALUES (?, ?, ?)
           ON CONFLICT (dag) DO UPDATE SET last_slot = max(last_slot, excluded.last_slot), updated_at = excluded.updated_at`,
          dag,
          slot,
          Date.now()
        )], true),
      saveCheckpoint: (runId, jobId, step, encoded) =>
        enqueue([statement(
          `INSERT OR REPLACE INTO checkpoints (run_id, job_id, step, output, at) VALUES (?, ?, ?, ?, ?)`,
          runId, jobId, step, toJson(encoded), Date.now()
        )], true)
    })
  })

/** The durable journal in a SQLite file. */
export const layerSqlite = (options: SqliteClient.Options): Layer.Layer<Journal.Journal, Journal.JournalError> =>
  Layer.effect(Journal.Journal)(Effect.gen(function*() {
    const client = yield* SqliteClient.make(options).pipe(Effect.mapError(journalError(`open ${options.filename}`)))
    return yield* Effect.provideService(makeFor(options.filename), SqlClient.SqlClient, client)
  })).pipe(Layer.provide(Reactivity.layer))
