/**
 * Resource limits that hold across a cluster: a `Resource` with concurrency 2 means 2 holders in the whole cluster,
 * and a rate limit counts every worker's starts. Each is rows of the journal's PostgreSQL database (migration 0012):
 *
 * - permits: a resource of concurrency n is n rows `resource_leases(resource, slot)`. A holder takes a free or
 *   expired slot with one upsert, renews its expiry every TTL/3 while it holds it, and deletes it when done (on
 *   success, failure or interruption). A worker killed while holding one loses it after at most the TTL: then another
 *   takes it. Waiting is polling (every 100-250 ms, jittered); each worker polls with its oldest waiter only, so
 *   workers get freed slots about equally often and a worker's own waiters are served first come, first served. A
 *   slot freed in this worker wakes its poller at once.
 * - rate limits: the sliding-window log of resources.ts, its log being `rate_slots` rows: each start reserves the
 *   earliest instant the window allows, under a transaction-scoped advisory lock on the resource's name (so two
 *   workers never reserve against the same view), then sleeps until it. Expired rows are deleted as it goes.
 *
 * Times are the database's clock (`clock_timestamp()`), never a worker's: workers whose clocks disagree still agree on
 * expiries and windows. Circuit breakers stay per worker (resources.ts): each worker sees a failing dependency itself.
 * A holder that could not renew its slot past the TTL (a stalled or cut-off worker) finds it taken: the holder is
 * stopped with a defect saying so, since the limit no longer covers it.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as crypto from "node:crypto"
import type { RateLimit } from "../../Resource.ts"
import * as resources from "../resources.ts"

/** A waiting holder polls for a free slot this often (jittered in this range, so pollers do not move in step). */
const POLL_MIN_MILLIS = 100
const POLL_MAX_MILLIS = 250
/** The first key of the advisory locks rate limits take (the second is the name's hash): apart from other locks. */
const RATE_LOCK_CLASS = 0x72756e72

/** The database's clock, in epoch milliseconds. */
const DB_NOW = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

/** A holder found its slot taken by another after it could not renew it for the lease's TTL (a defect: it is stopped). */
export class ResourceLeaseLost extends Schema.TaggedError<ResourceLeaseLost>()("ResourceLeaseLost", {
  resource: Schema.String,
  slot: Schema.Number
}) {
  override get message(): string {
    return `lost slot ${this.slot} of resource "${this.resource}": this worker did not renew it within the lease ` +
      `(stopped or cut off?) and another took it; stopped the holder so the resource's limit holds`
  }
}

/** A random pause in the polling range. */
const pollPause = Effect.suspend(() =>
  Effect.sleep(POLL_MIN_MILLIS + Math.floor(Math.random() * (POLL_MAX_MILLIS - POLL_MIN_MILLIS)))
)

/**
 * A resources Registry whose permits and rate limits are shared through the database of the SqlClient (PostgreSQL).
 * `ttl`: how long a slot outlives its holder's last renewal (cluster mode uses its lease, `--lease`). `holder`: this
 * worker's name, written on the slots it holds (with a random suffix per holding). On another database (SQLite: one
 * machine) the registry is this process's own, as without cluster mode.
 */
export const registry = (
  options: { readonly ttl: Duration.Input; readonly holder: string }
): Effect.Effect<resources.Registry, never, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    if (!pg) return new resources.Registry()
    const ttlMillis = Math.max(1, Math.round(Duration.toMillis(Duration.fromInputUnsafe(options.ttl))))
    return new resources.Registry({
      permits: (name, concurrency) => permits(sql, name, concurrency, ttlMillis, options.holder),
      throttle: (name, rate) => throttle(sql, name, rate)
    })
  })

/** The cluster's `concurrency` slots of the resource `name`. */
const permits = (
  sql: SqlClient.SqlClient,
  name: string,
  concurrency: number,
  ttlMillis: number,
  holder: string
) => {
  /** This worker's waiters poll one at a time, oldest first (the semaphore is fair). */
  const gate = Semaphore.makeUnsafe(1)
  let queued = 0
  /** Completed when a slot is freed here: the poller tries again without waiting out its pause. */
  let freed = Deferred.makeUnsafe<void>()

  /** Takes a free slot (or one whose holder let it expire) for `token`, if any: its number. */
  const take = (token: string): Effect.Effect<number | undefined> =>
    sql<{ slot: number | string }>`
      INSERT INTO resource_leases (resource, slot, holder, expires_at)
      SELECT ${name}, s, ${token}, ${sql.literal(DB_NOW)} + ${ttlMillis}::bigint
      FROM generate_series(0, ${concurrency - 1}::int) AS s
      WHERE NOT EXISTS (SELECT 1 FROM resource_leases r
                        WHERE r.resource = ${name} AND r.slot = s AND r.expires_at > ${sql.literal(DB_NOW)})
      ORDER BY random() LIMIT 1
      ON CONFLICT (resource, slot) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
      WHERE resource_leases.expires_at <= excluded.expires_at - ${ttlMillis}::bigint
      RETURNING slot`.pipe(
      Effect.map((rows) => rows.length === 0 ? undefined : Number(rows[0]!.slot)),
      // The database is unreachable for a moment: keep waiting, as for a busy resource.
      Effect.orElseSucceed(() => undefined)
    )

  /** Extends the slot's expiry; false when it is no longer `token`'s. */
  const renew = (slot: number, token: string) =>
    sql<{ slot: number }>`UPDATE resource_leases SET expires_at = ${sql.literal(DB_NOW)} + ${ttlMillis}::bigint
      WHERE resource = ${name} AND slot = ${slot} AND holder = ${token} RETURNING slot`.pipe(
      Effect.map((rows) => rows.length > 0)
    )

  const release = (slot: number, token: string) =>
    sql`DELETE FROM resource_leases WHERE resource = ${name} AND slot = ${slot} AND holder = ${token}`.pipe(
      Effect.ignore,
      Effect.andThen(Effect.sync(() => {
        const waking = freed
        freed = Deferred.makeUnsafe<void>()
        Deferred.doneUnsafe(waking, Effect.void)
      }))
    )

  /** Renews every TTL/3 until interrupted; dies once the slot is found to be another's. Missed renewals are retried. */
  const keep = (slot: number, token: string): Effect.Effect<never> =>
    Effect.forever(Effect.andThen(
      Effect.sleep(Math.max(1, Math.floor(ttlMillis / 3))),
      renew(slot, token).pipe(
        Effect.catch(() => Effect.succeed(true)),
        Effect.flatMap((held) => held ? Effect.void : Effect.die(new ResourceLeaseLost({ resource: name, slot })))
      )
    ))

  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const token = `${holder}/${crypto.randomUUID()}`
        // Taking a slot is never interrupted half-way (a slot taken and then forgotten would stay out until it
        // expires); the waits between tries are.
        let slot = queued === 0 ? yield* take(token) : undefined
        if (slot === undefined) {
          const waits = yield* resources.CurrentWaits
          const wait: resources.Wait = { resource: name, kind: "permit", until: undefined }
          yield* waits.waiting(wait)
          queued++
          slot = yield* gate.withPermit(Effect.gen(function*() {
            while (true) {
              const taken = yield* take(token)
              if (taken !== undefined) return taken
              yield* restore(Effect.raceFirst(pollPause, Deferred.await(freed)))
            }
          })).pipe(Effect.ensuring(Effect.sync(() => void queued--)))
          yield* waits.admitted(wait)
        }
        const held = slot
        return yield* restore(Effect.raceFirst(effect, keep(held, token))).pipe(
          Effect.ensuring(release(held, token))
        )
      })
    )
}

/** The cluster's rate limit of the resource `name`: at most `rate.limit` starts in any window of `rate.per`. */
const throttle = (sql: SqlClient.SqlClient, name: string, rate: RateLimit): Effect.Effect<void> => {
  const perMillis = Math.max(1, Math.round(Duration.toMillis(rate.per)))
  /** Reserves the earliest start the window allows: its time and the database's time now. */
  const reserve = sql.withTransaction(Effect.gen(function*() {
    // Not waited for on disk: a commit's flush (~20 ms here) would delay each start by a varying amount after the
    // instant it was logged at, letting starts seen by the holders crowd a window. A crash of the database loses at
    // most the last few starts: a window may then admit that many more, once.
    yield* sql`SET LOCAL synchronous_commit = off`
    yield* sql`SELECT pg_advisory_xact_lock(${RATE_LOCK_CLASS}::int, hashtext(${name}))`
    // The clock is read once the lock is held: a transaction's start time may be long before.
    const [clock] = yield* sql<{ now: number | string }>`SELECT ${sql.literal(DB_NOW)} AS now`
    const now = Number(clock!.now)
    yield* sql`DELETE FROM rate_slots WHERE resource = ${name} AND at <= ${now - perMillis}::bigint`
    const recent = yield* sql<{ at: number | string }>`SELECT at FROM rate_slots WHERE resource = ${name}
      ORDER BY at DESC LIMIT ${rate.limit}::int`
    const earliest = recent.length < rate.limit ? now : Math.max(now, Number(recent[rate.limit - 1]!.at) + perMillis)
    // The clock read again by the last statement: a start that need not wait is logged as late as it can be known
    // (the statements before took time), so later windows are measured from when it really began.
    const [slot] = yield* sql<{ at: number | string; now: number | string }>`INSERT INTO rate_slots (resource, at)
      VALUES (${name}, greatest(${earliest}::bigint, ${sql.literal(DB_NOW)})) RETURNING at, ${sql.literal(DB_NOW)} AS now`
    return { at: Number(slot!.at), now: Number(slot!.now) }
  }))
  const reserved: Effect.Effect<{ at: number; now: number }> = reserve.pipe(
    // The database is unreachable for a moment: try again, as a holder waiting for its slot would.
    Effect.catch(() => Effect.andThen(pollPause, Effect.suspend(() => reserved)))
  )
  return Effect.gen(function*() {
    const { at, now } = yield* reserved
    if (at <= now) return
    const waits = yield* resources.CurrentWaits
    const wait: resources.Wait = { resource: name, kind: "rate", until: (yield* Clock.currentTimeMillis) + (at - now) }
    yield* waits.waiting(wait)
    yield* Effect.sleep(at - now)
    yield* waits.admitted(wait)
  })
}
