/**
 * `runner prune` and cluster mode's tables (sql/ClusterPrune.ts): job leases of pruned runs, expired resource slots,
 * old rate-limit starts, and the engine's stored messages of workflow executions that finished before the cutoff;
 * nothing else. On SQLite (no engine tables) and PostgreSQL with and without the engine's tables (created by Effect's
 * own SqlMessageStorage migrations).
 */
import { assert, describe, it } from "@effect/vitest"
import * as MachineId from "effect/cluster/MachineId"
import * as Snowflake from "effect/cluster/Snowflake"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as TestClock from "effect/testing/TestClock"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as path from "node:path"
import * as JournalQueries from "../src/internal/sql/JournalQueries.ts"
import * as migrations from "../src/internal/sql/migrations.ts"
import * as pgMigrations from "../src/internal/sql/pgMigrations.ts"
import * as SqliteClient from "../src/internal/sql/SqliteClient.ts"
import { databases, psql, requirePostgres } from "./support/postgres.ts"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-cluster-prune-")

const day = 24 * 60 * 60 * 1000
const now = Date.now()
const cutoff = now - 2 * day

/** Two runs: `old` finished before the cutoff (pruned), `live` still running; a lease on a job of each. */
const seedJournal = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  for (const [id, status, ended] of [["old", "succeeded", cutoff - day], ["live", "running", null]] as const) {
    yield* sql`INSERT INTO runs (id, dag, status, started_at, ended_at, host, pid, runner_version, definition_hash)
               VALUES (${id}, 'd', ${status}, ${cutoff - 2 * day}, ${ended}, 'h', 1, 'v', 'x')`
    yield* sql`INSERT INTO job_leases (run_id, job_id, epoch, holder, taken_at) VALUES (${id}, 'a', 3, 'w', 1)`
  }
  // A slot whose holder died a while ago, one held now; starts from before the cutoff and from now.
  yield* sql`INSERT INTO resource_leases (resource, slot, holder, expires_at) VALUES ('db', 0, 'dead/1', ${now - 60_000})`
  yield* sql`INSERT INTO resource_leases (resource, slot, holder, expires_at) VALUES ('db', 1, 'alive/2', ${now + day})`
  yield* sql`INSERT INTO rate_slots (resource, at) VALUES ('api', ${cutoff - 1}), ('api', ${now})`
})

const remaining = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = <A extends object>(q: Effect.Effect<ReadonlyArray<A>, unknown>) =>
    Effect.map(q, (all) => all.map((row) => Object.values(row).map(String).join("|")))
  return {
    runs: yield* rows(sql`SELECT id FROM runs ORDER BY id`),
    jobLeases: yield* rows(sql`SELECT run_id FROM job_leases ORDER BY run_id`),
    resourceLeases: yield* rows(sql`SELECT holder FROM resource_leases ORDER BY slot`),
    rateSlots: yield* rows(sql`SELECT at FROM rate_slots ORDER BY at`)
  }
})

const expectedAfter = {
  runs: ["live"],
  jobLeases: ["live"],
  resourceLeases: ["alive/2"],
  rateSlots: [String(now)]
}

const pgClient = (url: string) => PgClient.layer({ url: Redacted.make(url) }).pipe(Layer.provide(Reactivity.layer))

describe("prune and the cluster's tables", () => {
  it.effect("SQLite: leases of pruned runs, expired slots and old starts go; the rest stays", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "journal.db")
      yield* TestClock.setTime(now) // expiry is the clock's (SQLite has no server clock)
      const pruned = yield* Effect.gen(function*() {
        yield* migrations.run()
        yield* seedJournal
        const pruned = yield* JournalQueries.prune(cutoff)
        assert.deepStrictEqual(yield* remaining, expectedAfter)
        return pruned
      }).pipe(Effect.provide(SqliteClient.layer({ filename: file, durability: "normal" })))
      assert.deepStrictEqual(pruned.runIds, ["old"])
      assert.deepStrictEqual(pruned.cluster, { executions: 0, jobLeases: 1, resourceLeases: 1, rateSlots: 1 })
    }))

  it("SQLite: `runner prune` says what it deleted of the cluster's rows (and nothing when there is none)", () => {
    const dir = tempDir()
    const file = path.join(dir, "journal.db")
    Effect.runSync(Effect.scoped(Effect.gen(function*() {
      yield* migrations.run()
      yield* seedJournal
    }).pipe(Effect.provide(SqliteClient.layer({ filename: file, durability: "normal" })))))
    const first = runner(["prune", "--older-than", "2d", "--journal", file], { cwd: dir })
    assert.strictEqual(first.status, 0, first.stderr)
    assert.match(
      first.stdout,
      /^deleted 1 run that ended before \S+\nkept 1 older run that is unfinished or locked\ncluster: deleted 0 finished workflow executions, 1 job lease, 1 expired resource slot, 1 old rate-limit start\n$/
    )
    const again = runner(["prune", "--older-than", "2d", "--journal", file, "--json"], { cwd: dir })
    assert.strictEqual(again.status, 0, again.stderr)
    assert.deepInclude(JSON.parse(again.stdout), {
      deleted: 0,
      cluster: { executions: 0, jobLeases: 0, resourceLeases: 0, rateSlots: 0 }
    })
  })

  describe.skipIf(pg.skip)("PostgreSQL", () => {
    it.effect("without the engine's tables: prunes runs and leases as on SQLite", () =>
      Effect.gen(function*() {
        const { url } = database()
        const pruned = yield* Effect.gen(function*() {
          yield* pgMigrations.run()
          yield* seedJournal
          const pruned = yield* JournalQueries.prune(cutoff)
          assert.deepStrictEqual(yield* remaining, expectedAfter)
          return pruned
        }).pipe(Effect.provide(pgClient(url)))
        assert.deepStrictEqual(pruned.runIds, ["old"])
        assert.deepStrictEqual(pruned.cluster, { executions: 0, jobLeases: 1, resourceLeases: 1, rateSlots: 1 })
      }), 30_000)

    it.effect("with the engine's tables: only workflow executions that finished before the cutoff are deleted, whole", () =>
      Effect.gen(function*() {
        const { name, url } = database()
        /** A snowflake id at `at` (the engine's ids carry their time). */
        let sequence = 0
        const id = (at: number) => String(Snowflake.make({ timestamp: at, machineId: MachineId.make(1), sequence: sequence++ }))
        const complete = JSON.stringify({ _tag: "Success", value: { _tag: "Complete", exit: { _tag: "Success", value: 1 } } })
        const suspended = JSON.stringify({ _tag: "Success", value: { _tag: "Suspended" } })
        const pruned = yield* Effect.gen(function*() {
          yield* pgMigrations.run()
          yield* Layer.build(SqlMessageStorage.layerMigrations({}))
          yield* seedJournal
          const sql = yield* SqlClient.SqlClient
          /** An execution: its `run` request, an ack (another message of its address), and its reply if any. */
          const execution = (
            entityType: string,
            entityId: string,
            at: number,
            reply: string | undefined
          ) =>
            Effect.gen(function*() {
              const request = id(at)
              const replyId = id(at + 10)
              const processed = reply !== undefined
              yield* sql`INSERT INTO cluster_messages (id, message_id, shard_id, entity_type, entity_id, kind, tag, payload,
                           processed, request_id, last_reply_id)
                         VALUES (${request}::bigint, ${`${entityType}/${entityId}/run`}, 'default:1', ${entityType}, ${entityId},
                           0, 'run', '{}', ${processed}, ${request}::bigint, ${processed ? sql`${replyId}::bigint` : sql`NULL`})`
              yield* sql`INSERT INTO cluster_messages (id, shard_id, entity_type, entity_id, kind, processed, request_id)
                         VALUES (${id(at + 1)}::bigint, 'default:1', ${entityType}, ${entityId}, 1, TRUE, ${request}::bigint)`
              if (reply !== undefined) {
                yield* sql`INSERT INTO cluster_replies (id, kind, request_id, payload)
                           VALUES (${replyId}::bigint, 0, ${request}::bigint, ${reply})`
              }
            })
          yield* execution("Workflow/RunWorkflow", "old-run", cutoff - day, complete)
          yield* execution("Workflow/JobWorkflow", "old-run/a", cutoff - day, complete)
          yield* execution("Workflow/JobWorkflow", "old-run/b", cutoff - day, suspended) // waiting: not finished
          yield* execution("Workflow/RunWorkflow", "recent", now - 1_000, complete) // finished after the cutoff
          yield* execution("Workflow/RunWorkflow", "running", cutoff - day, undefined)
          yield* execution("Counter", "not-a-workflow", cutoff - day, complete)
          return yield* JournalQueries.prune(cutoff)
        }).pipe(Effect.scoped, Effect.provide(pgClient(url)))
        assert.deepStrictEqual(pruned.cluster, { executions: 2, jobLeases: 1, resourceLeases: 1, rateSlots: 1 })
        assert.deepStrictEqual(
          psql(name, "SELECT DISTINCT entity_id FROM cluster_messages ORDER BY entity_id").trim().split("\n"),
          ["not-a-workflow", "old-run/b", "recent", "running"]
        )
        assert.strictEqual(psql(name, "SELECT count(*) FROM cluster_messages").trim(), "8")
        // The deleted executions' replies went with them; the others' are kept.
        assert.strictEqual(psql(name, "SELECT count(*) FROM cluster_replies").trim(), "3")
        assert.strictEqual(
          psql(name, "SELECT count(*) FROM cluster_replies WHERE request_id NOT IN (SELECT id FROM cluster_messages)").trim(),
          "0"
        )
      }), 30_000)
  })
})
