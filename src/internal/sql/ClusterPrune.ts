/**
 * What `runner prune` deletes of cluster mode's rows, beside the runs (JournalQueries.prune): leases of jobs of runs no
 * longer kept, resource slots that expired, rate-limit starts older than the cutoff, and the cluster engine's stored
 * messages of workflow executions that finished before the cutoff (SqlMessageStorage, table prefix `cluster`). Each
 * table is pruned only where it exists: a SQLite journal, or a database no worker ever used, prunes as before.
 *
 * A workflow execution is finished when its `run` request has its final reply (`processed`) and that reply is not
 * `Suspended` (ClusterWorkflowEngine's own test); it finished before the cutoff when that reply's snowflake id is
 * older. Such an execution is deleted whole, as the engine's `clearAddress` does (every message of its address, and
 * their replies). Effect's MessageRetention is not used: it must not be used for workflows, whose stored replies say
 * what already ran. The same applies here, so only finished executions are touched: one submitted again with the
 * same execution id after its deletion runs again (as a run pruned from the journal would be started afresh).
 */
import * as Clock from "effect/Clock"
import * as Snowflake from "effect/cluster/Snowflake"
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"

/** What was deleted of the cluster's rows (0 for a table that does not exist). */
export interface ClusterPruned {
  /** Workflow executions (a run's, a job's) that finished before the cutoff, with their messages and replies. */
  readonly executions: number
  /** Job leases of runs no longer in the journal. */
  readonly jobLeases: number
  /** Resource slots whose lease had expired (their holder is gone). */
  readonly resourceLeases: number
  /** Rate-limit starts older than the cutoff. */
  readonly rateSlots: number
}

const MESSAGES = "cluster_messages"
const REPLIES = "cluster_replies"
const TABLES = ["job_leases", "resource_leases", "rate_slots", MESSAGES, REPLIES] as const

/** How many ids one `IN (...)` lists. */
const CHUNK = 1_000

/** Deletes the cluster's prunable rows; `cutoff` in epoch millis. Meant to run in prune's transaction. */
export const prune = Effect.fn("ClusterPrune.prune")(function*(cutoff: number) {
  const sql = yield* SqlClient.SqlClient
  const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const present = new Set((pg
    ? yield* sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables
        WHERE table_schema = current_schema() AND table_name IN ${sql.in(TABLES)}`
    : yield* sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ${sql.in(TABLES)}`
  ).map((row) => row.name))

  const jobLeases = present.has("job_leases")
    ? (yield* sql`DELETE FROM job_leases WHERE run_id NOT IN (SELECT id FROM runs) RETURNING run_id`).length
    : 0
  // Expiry is the database's clock on PostgreSQL, as cluster/Limits.ts writes it.
  const now = yield* Clock.currentTimeMillis
  const resourceLeases = !present.has("resource_leases") ? 0 : (pg
    ? yield* sql`DELETE FROM resource_leases WHERE expires_at < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
        RETURNING resource`
    : yield* sql`DELETE FROM resource_leases WHERE expires_at < ${now} RETURNING resource`).length
  const rateSlots = present.has("rate_slots")
    ? (yield* sql`DELETE FROM rate_slots WHERE at < ${cutoff} RETURNING resource`).length
    : 0

  let executions = 0
  if (present.has(MESSAGES) && present.has(REPLIES) && cutoff > Snowflake.constEpochMillis) {
    // The smallest snowflake id of the cutoff's millisecond: replies with a lower id were saved before it.
    const before = (BigInt(Math.floor(cutoff) - Snowflake.constEpochMillis) << 22n).toString()
    const messages = sql(MESSAGES)
    const replies = sql(REPLIES)
    const notSuspended = pg
      ? sql`coalesce(r.payload::jsonb #>> '{value,_tag}', '') <> 'Suspended'`
      : sql`coalesce(json_extract(r.payload, '$.value._tag'), '') <> 'Suspended'`
    const deleted = yield* sql<{ id: string | number | bigint; kind: number; tag: string | null }>`
      DELETE FROM ${messages} WHERE (entity_type, entity_id) IN (
        SELECT m.entity_type, m.entity_id FROM ${messages} m JOIN ${replies} r ON r.request_id = m.id AND r.kind = 0
        WHERE m.entity_type LIKE 'Workflow/%' AND m.tag = 'run' AND m.kind = 0
          AND m.processed = ${pg ? sql.literal("TRUE") : sql.literal("1")}
          AND m.last_reply_id < ${pg ? sql`${before}::bigint` : sql.literal(before)} AND ${notSuspended}
      )
      RETURNING id, kind, tag`
    executions = deleted.filter((row) => Number(row.kind) === 0 && row.tag === "run").length
    const ids = deleted.map((row) => String(row.id))
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = sql.literal(ids.slice(i, i + CHUNK).join(","))
      yield* sql`DELETE FROM ${replies} WHERE request_id IN (${chunk})`
    }
  }
  return { executions, jobLeases, resourceLeases, rateSlots } satisfies ClusterPruned
})
