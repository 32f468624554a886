/**
 * The cluster's timing settings and a runner's addresses, with defaults chosen for batch work: a worker that dies is
 * replaced within ~8 s (shard lease 5 s, assignments refreshed every second, storage polled every 250 ms), rather than the
 * engine's defaults (35 s lease, 10 s poll), made for long-lived services. Addresses come only from flags: the
 * engine's own `layerFromEnv` reads HOST and PORT, which a process often has for something else.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import { InvalidOption } from "../../Errors.ts"
import * as duration from "../duration.ts"

/** The lease of a worker's shards (`--lease`, `RUNNER_CLUSTER_LEASE`). Default 5 s: takeover of a dead worker ≤ 8 s. */
export const DEFAULT_LEASE = Duration.seconds(5)
/** How long a stopping worker lets its jobs finish before handing them back (`--grace`, `RUNNER_CLUSTER_GRACE`). */
export const DEFAULT_GRACE = Duration.seconds(30)
/**
 * Storage polls: how soon a worker sees a new message, and a client its workflow's reply. Each job takes a few such
 * hops (its dispatch, its activity, its reply): at 250 ms (not 1 s) 40 jobs of 1 s at concurrency 8 on one worker
 * took 6.9 s instead of 8.2 s (a loaded 2-core machine). The cost is one cheap query per worker per poll.
 */
export const MESSAGE_POLL = Duration.millis(250)
export const REPLY_POLL = Duration.millis(100)
/** How long finished workflows' messages are kept before `MessageRetention` deletes them. */
export const RETENTION = Duration.hours(24)

export interface Settings {
  /** Shard lock expiration: a worker silent this long loses its shards (and its jobs' leases) to the others. */
  readonly lease: Duration.Duration
  /** Entity termination timeout: how long a stopping worker waits for its jobs. */
  readonly grace: Duration.Duration
}

/** Where a worker listens and the address it tells the others. */
export interface Addresses {
  readonly listen: RunnerAddress.RunnerAddress
  readonly advertise: RunnerAddress.RunnerAddress
}

/** `--lease` / `--grace` if given, else `RUNNER_CLUSTER_LEASE` / `RUNNER_CLUSTER_GRACE`, else the defaults. */
export const resolve = (flags: {
  readonly lease: Option.Option<Duration.Duration>
  readonly grace: Option.Option<Duration.Duration>
}): Effect.Effect<Settings, InvalidOption> =>
  Effect.gen(function*() {
    // The same forms as the flags ("5s", "5 seconds"): the variable is read as text and parsed as `--lease` is.
    const fromEnv = (name: string, fallback: Duration.Duration) =>
      Effect.flatMap(
        Effect.mapError(
          Config.option(Config.String(name)),
          () => new InvalidOption({ where: name, reason: "must be a duration, e.g. 5s" })
        ),
        (text) =>
          Option.isNone(text) || text.value.trim() === ""
            ? Effect.succeed(fallback)
            : Effect.try({ try: () => duration.parse(text.value.trim() as Duration.Input, name), catch: (error) => error as InvalidOption })
      )
    const lease = Option.isSome(flags.lease) ? flags.lease.value : yield* fromEnv("RUNNER_CLUSTER_LEASE", DEFAULT_LEASE)
    const grace = Option.isSome(flags.grace) ? flags.grace.value : yield* fromEnv("RUNNER_CLUSTER_GRACE", DEFAULT_GRACE)
    if (Duration.toMillis(lease) < 1_000) {
      return yield* new InvalidOption({ where: "--lease", reason: `must be at least 1 second, got ${Duration.format(lease)}` })
    }
    return { lease, grace }
  })

/** Parses `HOST:PORT` (IPv6 in brackets: `[::1]:7000`). */
export const parseAddress = (flag: string, text: string): Effect.Effect<RunnerAddress.RunnerAddress, InvalidOption> => {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim())
  const port = match === null ? NaN : Number(match[2])
  if (match === null || !(port >= 0 && port <= 65535)) {
    return Effect.fail(new InvalidOption({ where: flag, reason: `must be HOST:PORT, got ${JSON.stringify(text)}` }))
  }
  return Effect.succeed(RunnerAddress.make(match[1]!.replace(/^\[|\]$/g, ""), port))
}

/** The engine's options for a worker (`addresses`) or a client-only member (none: it runs no entities). */
export const sharding = (settings: Settings, addresses: Addresses | undefined): Partial<ShardingConfig.ShardingConfig["Service"]> => ({
  runnerAddress: addresses === undefined ? Option.none() : Option.some(addresses.advertise),
  runnerListenAddress: addresses === undefined ? Option.none() : Option.some(addresses.listen),
  shardLockExpiration: settings.lease,
  shardLockRefreshInterval: Duration.millis(Math.max(250, Math.floor(Duration.toMillis(settings.lease) / 3))),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: MESSAGE_POLL,
  entityReplyPollInterval: REPLY_POLL,
  entityTerminationTimeout: settings.grace,
  // Runners are health-checked by the singleton's host; a crash of any runner is found by its expired heartbeat.
  runnerHealthCheckInterval: Duration.seconds(5)
})
