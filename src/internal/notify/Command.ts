/**
 * `--notify-command`: a command (argv, split like a shell would but run without one) receiving the run's JSON body on
 * stdin and RUNNER_* variables, retried as the HTTP senders are (delivery.ts). Only the program is ever named in logs:
 * its arguments may hold a token.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { InvalidOption } from "../../Errors.ts"
import * as Delivery from "../delivery.ts"
import type * as Observer from "../Observer.ts"
import * as Body from "./Body.ts"

/** 4 attempts, 0.5 s, 1 s then 2 s apart; 30 s for each run of the command. */
export const policy: Delivery.Policy = {
  attempts: 4,
  timeout: Duration.seconds(30),
  delay: (retry) => Duration.millis(500 * 2 ** (retry - 1)),
  maxRetryAfter: Duration.seconds(10)
}

/** One run of the command went wrong; `retryable` is false when running it again would fail the same way. */
export class AttemptFailed extends Schema.TaggedError<AttemptFailed>()("AttemptFailed", {
  reason: Schema.String,
  retryable: Schema.Boolean
}) {
  override get message(): string {
    return this.reason
  }
}

/** Splits `--notify-command` into argv as a POSIX shell would (quotes, backslashes); shell syntax is refused. */
export const parse = (input: string): Effect.Effect<ReadonlyArray<string>, InvalidOption> =>
  Effect.suspend(() => {
    const words = CommandLine.template(Object.assign([input], { raw: [input] }))
    if (Result.isFailure(words)) {
      // The parser's messages never repeat the input (which may hold a secret).
      const reason = words.failure.message.replace(/ in template part \d+$/, "")
      return Effect.fail(new InvalidOption({
        where: "--notify-command",
        reason: `${reason} (it runs without a shell; to use one, give ["sh", "-c", ...] as: sh -c '...')`
      }))
    }
    const argv = words.success.map((word) => Redacted.isRedacted(word) ? Redacted.value(word) : word)
    if (argv.length === 0 || argv[0] === "") {
      return Effect.fail(new InvalidOption({ where: "--notify-command", reason: "is empty" }))
    }
    return Effect.succeed(argv)
  })

const OUTPUT_LINES = 50

/** One run of the command with `body` on stdin: a non-zero exit (or a failure to start) fails the attempt. */
const runOnce = (name: string, argv: ReadonlyArray<string>, body: string, summary: Observer.Summary) =>
  Effect.scoped(Effect.gen(function*() {
    const [program, ...args] = argv
    const handle = yield* ChildProcess.make(program!, args, {
      extendEnv: true,
      env: {
        RUNNER_RUN_ID: summary.runId,
        RUNNER_DAG: summary.dag,
        RUNNER_STATUS: summary.status,
        RUNNER_RUN_KEY: summary.key
      },
      stdin: Stream.make(new TextEncoder().encode(body)),
      killSignal: "SIGTERM",
      forceKillAfter: "3 seconds"
    })
    let lines = 0
    const log = (stream: Stream.Stream<Uint8Array, unknown>, level: "info" | "warn") =>
      stream.pipe(
        Stream.decodeText(),
        Stream.splitLines,
        Stream.runForEach((line) => {
          lines++
          if (lines > OUTPUT_LINES) return lines === OUTPUT_LINES + 1 ? Effect.logInfo(`${name}: (more output not shown)`) : Effect.void
          return level === "info" ? Effect.logInfo(`${name}: ${line}`) : Effect.logWarning(`${name}: ${line}`)
        }),
        Effect.ignore,
        Effect.forkScoped
      )
    const out = yield* log(handle.stdout, "info")
    const err = yield* log(handle.stderr, "warn")
    const exitCode = yield* handle.exitCode
    yield* Fiber.join(out)
    yield* Fiber.join(err)
    if (exitCode !== 0) return yield* new AttemptFailed({ reason: `exited with code ${exitCode}`, retryable: true })
  })).pipe(
    Effect.catchTag("PlatformError", (error) =>
      Effect.fail(
        new AttemptFailed({
          // Not error.message: it quotes the whole command line, whose arguments may hold a token.
          reason: `${error.reason._tag}: ${error.reason.module}.${error.reason.method}` +
            (error.reason.description === undefined ? "" : `: ${error.reason.description}`),
          // A program that does not exist (or may not be run) will not appear by retrying.
          retryable: !(error.reason._tag === "NotFound" || error.reason._tag === "PermissionDenied")
        })
      )),
    Effect.timeoutOrElse({
      duration: policy.timeout,
      orElse: () => Effect.fail(new AttemptFailed({ reason: `did not finish within ${Duration.format(policy.timeout)}`, retryable: true }))
    })
  )

const describe = (error: AttemptFailed): Delivery.Failure => ({ reason: error.reason, retryable: error.retryable })

/** Runs the command until it succeeds, fails for good, or the attempts are spent. */
export const deliver = (name: string, argv: ReadonlyArray<string>, summary: Observer.Summary) => {
  const body = Body.encode(summary)
  return Delivery.counted(name, describe, (count) =>
    Effect.andThen(count, runOnce(name, argv, body, summary)).pipe(
      Effect.retry({ schedule: Delivery.schedule(name, policy, describe), while: (error) => error.retryable })
    ))
}

/** The name logs give the command: the program only. */
export const nameOf = (argv: ReadonlyArray<string>): string => `notify-command (${argv[0]})`

/** The command's observer; the spawner is the one of the context it is made in. */
export const observer = (
  argv: ReadonlyArray<string>,
  fires: (status: Observer.Summary["status"]) => boolean
): Effect.Effect<Observer.Observer, never, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.map(Effect.context<ChildProcessSpawner.ChildProcessSpawner>(), (services) => {
    const name = nameOf(argv)
    return {
      name,
      onFinish: (summary) => fires(summary.status) ? deliver(name, argv, summary).pipe(Effect.provideContext(services)) : Effect.void
    }
  })
