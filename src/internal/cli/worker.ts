/**
 * `runner worker <file|dir>... --journal postgres://...`: a cluster worker that runs the jobs of those task files
 * which `--cluster` runs give it (see cluster/Worker.ts). SIGTERM or SIGINT: it stops taking work, lets its jobs
 * finish within `--grace` (the rest are handed back to the other workers), and exits 0; a second signal exits at once.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as os from "node:os"
import { InvalidOption } from "../../Errors.ts"
import * as duration from "../duration.ts"
import * as Runtime from "../runtime/Runtime.ts"
import * as Dialect from "../sql/Dialect.ts"
import { journalFlag, journalPath, requirePositive } from "./common.ts"
import { InFile } from "./exit.ts"
import { expand } from "./scheduled.ts"

/** The port a worker listens on unless `--listen` says otherwise. */
export const DEFAULT_PORT = 34431

const flags = {
  targets: Argument.String("file-or-dir").pipe(
    Argument.withDescription("task files, or folders whose *.ts files are loaded: the DAGs this worker can run"),
    Argument.variadic({ min: 1 })
  ),
  journal: journalFlag,
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withDescription("at most N jobs at once on this worker (default: the CPU count)"),
    Flag.optional
  ),
  listen: Flag.String("listen").pipe(
    Flag.withDescription(`HOST:PORT the worker listens on for the other cluster members (default 0.0.0.0:${DEFAULT_PORT})`),
    Flag.optional
  ),
  advertise: Flag.String("advertise").pipe(
    Flag.withDescription("HOST:PORT the other members reach this worker at (default: --listen, with this host's name for 0.0.0.0)"),
    Flag.optional
  ),
  grace: Flag.String("grace").pipe(
    Flag.withDescription("on SIGTERM, how long running jobs may take to finish before they are handed back (default 30s; $RUNNER_CLUSTER_GRACE)"),
    Flag.optional
  ),
  lease: Flag.String("lease").pipe(
    Flag.withDescription(
      "how long a silent worker keeps its jobs before the others take them over (default 5s; $RUNNER_CLUSTER_LEASE); " +
        "the same on every member"
    ),
    Flag.optional
  )
}

const parseDuration = (flag: string, value: Option.Option<string>): Effect.Effect<Option.Option<Duration.Duration>, InvalidOption> =>
  Option.match(value, {
    onNone: () => Effect.succeedNone,
    onSome: (text) => Effect.map(Effect.try({ try: () => duration.parse(text as Duration.Input, flag), catch: (error) => error as InvalidOption }), Option.some)
  })

/** The journal URL of a cluster command: a postgres:// URL, else exit 2 naming the flag. */
export const requirePostgres = (flag: Option.Option<string>, command: string): Effect.Effect<string, InvalidOption> => {
  const url = journalPath(flag)
  return Dialect.isPostgresUrl(url)
    ? Effect.succeed(url)
    : Effect.fail(new InvalidOption({
      where: "--journal",
      reason: `${command} needs a postgres://user@host:port/db journal (the cluster's database), got ${JSON.stringify(Dialect.redact(url))}`
    }))
}

const handler = (input: {
  readonly targets: ReadonlyArray<string>
  readonly journal: Option.Option<string>
  readonly concurrency: Option.Option<number>
  readonly listen: Option.Option<string>
  readonly advertise: Option.Option<string>
  readonly grace: Option.Option<string>
  readonly lease: Option.Option<string>
}) =>
  Effect.gen(function*() {
    const url = yield* requirePostgres(input.journal, "runner worker")
    yield* requirePositive("--concurrency", input.concurrency)
    const [Settings, Worker] = yield* Effect.promise(() => Promise.all([import("../cluster/Settings.ts"), import("../cluster/Worker.ts")]))
    const settings = yield* Settings.resolve({
      lease: yield* parseDuration("--lease", input.lease),
      grace: yield* parseDuration("--grace", input.grace)
    })
    const listen = yield* Settings.parseAddress("--listen", Option.getOrElse(input.listen, () => `0.0.0.0:${DEFAULT_PORT}`))
    const advertise = Option.isSome(input.advertise)
      ? yield* Settings.parseAddress("--advertise", input.advertise.value)
      : listen.host === "0.0.0.0" || listen.host === "::"
      ? { ...listen, host: os.hostname() } as typeof listen
      : listen
    const stop = Deferred.makeUnsafe<void>()
    let signals = 0
    const unregister = Runtime.onSignal(() => {
      signals++
      Deferred.doneUnsafe(stop, Effect.void)
      // A second signal: leave now, without waiting for the jobs (the others take them over after the lease).
      if (signals > 1) process.exit(130)
      return true
    })
    yield* Worker.run({
      files: expand(input.targets),
      url,
      concurrency: Option.getOrElse(input.concurrency, () => Runtime.cpuCount()),
      addresses: { listen, advertise },
      settings,
      print: (line) => void process.stdout.write(line + "\n")
    }, stop).pipe(
      Effect.ensuring(Effect.sync(unregister)),
      Effect.mapError((error) =>
        error instanceof InFile || error instanceof InvalidOption
          ? error
          : listenFailed(error)
          ? new InvalidOption({ where: "--listen", reason: `cannot listen on ${listen.host}:${listen.port}: ${causeText(error)}` })
          : new InFile({ file: Dialect.redact(url), error: new InvalidOption({ where: "cluster", reason: String((error as { message?: unknown })?.message ?? error) }) })
      )
    )
  })

/** The engine's socket server could not open its listening socket (the port taken, the address not this host's). */
const listenFailed = (error: unknown): boolean => {
  const reason = (error as { reason?: { _tag?: unknown } } | undefined)?.reason
  return (error as { _tag?: unknown } | undefined)?._tag === "SocketServerError" && reason?._tag === "SocketServerOpenError"
}

/** The operating system's words for why (e.g. `listen EADDRINUSE: address already in use 0.0.0.0:34431`). */
const causeText = (error: unknown): string => {
  const cause = (error as { reason?: { cause?: unknown } }).reason?.cause
  return cause instanceof Error ? cause.message : String(cause ?? "the address is taken or not this host's")
}

export const command = Command.make("worker", flags, handler).pipe(
  Command.withDescription("Join the cluster as a worker that runs the jobs of these task files (--cluster runs)")
)
