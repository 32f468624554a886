/**
 * The backfills' journal: the `backfills` and `backfill_slots` tables (migration 0009), read and written over the
 * journal file's own SqlClient, beside the runs they start. Kept apart from the Journal service: a backfill is the
 * operator's bookkeeping around runs, and its writes are few (one per slot start and end).
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as os from "node:os"

/** A slot's state in a backfill. */
export type SlotState = "pending" | "running" | "succeeded" | "skipped" | "failed" | "interrupted"

/** A backfill's state: `running` while a process works on it (its pid), else how it last ended. */
export type State = "running" | "succeeded" | "failed" | "cancelled" | "interrupted"

export interface Backfill {
  readonly id: string
  readonly dag: string
  readonly file: string
  readonly from: number
  readonly to: number
  /** What makes the same command continue it: the DAG, range, cadence, reprocess mode and jobs. */
  readonly identity: string
  /** The options as given, JSON. */
  readonly options: string
  /** Who started it (Audit), JSON. */
  readonly who: string | undefined
  readonly state: State
  readonly cancelRequested: boolean
  readonly pid: number | undefined
  readonly host: string | undefined
  readonly createdAt: number
  readonly updatedAt: number
  readonly endedAt: number | undefined
}

export interface SlotRow {
  readonly position: number
  readonly key: string
  readonly start: number
  readonly end: number
  readonly state: SlotState
  readonly runId: string | undefined
  readonly note: string | undefined
  readonly startedAt: number | undefined
  readonly endedAt: number | undefined
}

/** The latest run of a run key, as the journal has it. */
export interface LatestRun {
  readonly runId: string
  readonly status: string
  readonly startedAt: number
  readonly endedAt: number | undefined
}

type BackfillRow = {
  id: string
  dag: string
  file: string
  range_from: number
  range_to: number
  identity: string
  options: string
  who: string | null
  state: string
  cancel_requested: number
  pid: number | null
  host: string | null
  created_at: number
  updated_at: number
  ended_at: number | null
}

const backfillOf = (row: BackfillRow): Backfill => ({
  id: row.id,
  dag: row.dag,
  file: row.file,
  from: Number(row.range_from),
  to: Number(row.range_to),
  identity: row.identity,
  options: row.options,
  who: row.who ?? undefined,
  state: row.state as State,
  cancelRequested: Number(row.cancel_requested) !== 0,
  pid: row.pid === null ? undefined : Number(row.pid),
  host: row.host ?? undefined,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
  endedAt: row.ended_at === null ? undefined : Number(row.ended_at)
})

type SlotRowRaw = {
  position: number
  slot_key: string
  slot_start: number
  slot_end: number
  state: string
  run_id: string | null
  note: string | null
  started_at: number | null
  ended_at: number | null
}

const slotOf = (row: SlotRowRaw): SlotRow => ({
  position: Number(row.position),
  key: row.slot_key,
  start: Number(row.slot_start),
  end: Number(row.slot_end),
  state: row.state as SlotState,
  runId: row.run_id ?? undefined,
  note: row.note ?? undefined,
  startedAt: row.started_at === null ? undefined : Number(row.started_at),
  endedAt: row.ended_at === null ? undefined : Number(row.ended_at)
})

/** A backfill id: `bf-` then the start time to the second and 6 random hex digits (sortable, like run ids). */
export const makeId = (now: number): string => {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `bf-${stamp}-${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, "0")}`
}

export const host = os.hostname()

/** Whether a backfill's process is alive (only known on its own host; another host's is assumed alive). */
export const processAlive = (backfill: Backfill): boolean => {
  if (backfill.state !== "running" || backfill.pid === undefined) return false
  if (backfill.host !== host) return true
  if (backfill.pid === process.pid) return true
  try {
    process.kill(backfill.pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Creates a backfill and its slots, pending, in one transaction; this process runs it. */
export const create = (
  backfill: Omit<Backfill, "state" | "cancelRequested" | "pid" | "host" | "updatedAt" | "endedAt">,
  slots: ReadonlyArray<{ readonly key: string; readonly start: Date; readonly end: Date }>
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`INSERT INTO backfills (id, dag, file, range_from, range_to, identity, options, who, state, pid, host,
                                        created_at, updated_at)
                 VALUES (${backfill.id}, ${backfill.dag}, ${backfill.file}, ${backfill.from}, ${backfill.to},
                         ${backfill.identity}, ${backfill.options}, ${backfill.who ?? null}, 'running', ${process.pid},
                         ${host}, ${backfill.createdAt}, ${backfill.createdAt})`
      // Chunks keep each statement under SQLite's limit on bound parameters.
      for (let i = 0; i < slots.length; i += 100) {
        const rows: Array<Record<string, unknown>> = slots.slice(i, i + 100).map((slot, j) => ({
          backfill_id: backfill.id,
          position: i + j,
          slot_key: slot.key,
          slot_start: slot.start.getTime(),
          slot_end: slot.end.getTime(),
          state: "pending"
        }))
        if (rows.length > 0) yield* sql`INSERT INTO backfill_slots ${sql.insert(rows as [Record<string, unknown>, ...Array<Record<string, unknown>>])}`
      }
    }))
  })

/** A backfill by id. */
export const get = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<BackfillRow>`SELECT * FROM backfills WHERE id = ${id}`
    return rows[0] === undefined ? undefined : backfillOf(rows[0])
  })

/** The newest backfill with this identity that did not succeed: what running the same command again continues. */
export const unfinished = (dag: string, identity: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<BackfillRow>`SELECT * FROM backfills WHERE dag = ${dag} AND identity = ${identity}
                                         ORDER BY created_at DESC, rowid DESC LIMIT 1`
    const row = rows[0]
    return row === undefined || row.state === "succeeded" ? undefined : backfillOf(row)
  })

/** The newest backfills, newest first. */
export const list = (limit: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<BackfillRow>`SELECT * FROM backfills ORDER BY created_at DESC, rowid DESC LIMIT ${limit}`
    return rows.map(backfillOf)
  })

/** A backfill's slots, in range order. */
export const slots = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<SlotRowRaw>`SELECT position, slot_key, slot_start, slot_end, state, run_id, note, started_at, ended_at
                                        FROM backfill_slots WHERE backfill_id = ${id} ORDER BY position`
    return rows.map(slotOf)
  })

/** How many of each backfill's slots are in each state. */
export const counts = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ state: string; n: number }>`SELECT state, COUNT(*) AS n FROM backfill_slots
                                                          WHERE backfill_id = ${id} GROUP BY state`
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)])) as Partial<Record<SlotState, number>>
  })

/** This process takes the backfill over (a resume): it is running again, with no cancel pending. */
export const claim = (id: string, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE backfills SET state = 'running', cancel_requested = 0, pid = ${process.pid}, host = ${host},
               updated_at = ${now}, ended_at = NULL WHERE id = ${id}`
  })

/** Records a slot's state (and, when known, its run, a note, when it started or ended). */
export const setSlot = (
  id: string,
  key: string,
  update: {
    readonly state: SlotState
    readonly runId?: string | undefined
    readonly note?: string | undefined
    readonly startedAt?: number | undefined
    readonly endedAt?: number | undefined
  }
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE backfill_slots SET state = ${update.state},
                 run_id = COALESCE(${update.runId ?? null}, run_id),
                 note = ${update.note ?? null},
                 started_at = COALESCE(${update.startedAt ?? null}, started_at),
                 ended_at = ${update.endedAt ?? null}
               WHERE backfill_id = ${id} AND slot_key = ${key}`
  })

/** Records how the backfill ended. */
export const finish = (id: string, state: State, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE backfills SET state = ${state}, updated_at = ${now}, ended_at = ${now} WHERE id = ${id}`
  })

/** Asks the process running a backfill to stop (it polls); one whose process is gone is marked cancelled at once. */
export const requestCancel = (id: string, now: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE backfills SET cancel_requested = 1, updated_at = ${now} WHERE id = ${id}`
  })

/** Whether a cancel was asked for. */
export const cancelRequested = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ cancel_requested: number }>`SELECT cancel_requested FROM backfills WHERE id = ${id}`
    return Number(rows[0]?.cancel_requested ?? 0) !== 0
  })

/** The latest run of each key of a DAG (any trigger: the scheduler, cron lines, keyed runs, backfills). */
export const latestRuns = (dag: string, keys: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const latest = new Map<string, LatestRun>()
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500)
      const rows = yield* sql<{ id: string; run_key: string; status: string; started_at: number; ended_at: number | null }>`
        SELECT id, run_key, status, started_at, ended_at FROM runs WHERE dag = ${dag} AND run_key IN ${sql.in(chunk)}
        ORDER BY started_at, rowid`
      for (const row of rows) latest.set(row.run_key, {
          runId: row.id,
          status: row.status,
          startedAt: Number(row.started_at),
          endedAt: row.ended_at === null ? undefined : Number(row.ended_at)
        })
    }
    return latest
  })
