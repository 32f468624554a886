/**
 * Runs one command for a shell job: argv, no shell, through the `ChildProcessSpawner` in context (the runner's own,
 * process/Spawner.ts, unless a test or the user provides another); output lines logged; non-zero exit becomes
 * ShellExitError. The command gets the current span as `TRACEPARENT` (process/traceContext.ts).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import { type ChildProcessHandle, ChildProcessSpawner } from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ShellExitError } from "../Errors.ts"
import { sleep } from "./process/Spawner.ts"
import { LineReader } from "./process/lines.ts"
import * as TraceContext from "./process/traceContext.ts"
import * as Secrets from "./Secrets.ts"
import * as Processes from "./processes.ts"

export type ShellError = ShellExitError | PlatformError.PlatformError

const STDERR_TAIL_LINES = 20
const STDOUT_CAPTURE_BYTES = 64 * 1024

export interface RunOptions {
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

/** How commands are ended; tests change it. */
export interface Settings {
  /** How long the process group has to exit after SIGTERM before SIGKILL. Default: 3 s. */
  readonly graceMillis: number
  /**
   * How long to wait for the group to vanish after SIGKILL. A process in uninterruptible sleep (a hung NFS read)
   * outlives SIGKILL until the kernel returns: past this bound the runner stops waiting and the job is interrupted,
   * saying so. Default: 5 s.
   */
  readonly killWaitMillis: number
  /**
   * Once the command has exited, how long its output is still read while other processes hold it open; then its
   * group is ended. Default: 200 ms.
   */
  readonly drainMillis: number
}

export const CurrentSettings = Context.Reference<Settings>("effect-runner/shell/Settings", {
  defaultValue: () => ({ graceMillis: 3_000, killWaitMillis: 5_000, drainMillis: 200 })
})

const unwrap = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

/**
 * Spawns argv in its own process group, streams its output to the log, and fails with the exit code and stderr tail
 * on a non-zero exit. The group gets SIGTERM, then SIGKILL 3 seconds later, when the command is interrupted, and
 * whatever is left of it once the command has exited: no orphans. The group is journaled while it runs (through
 * `Processes.CurrentTracker`), so that a runner killed meanwhile can end it when the run resumes.
 */
export const run = (
  jobId: string,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  options: RunOptions
): Effect.Effect<{ readonly exitCode: number; readonly stdout: string }, ShellError, ChildProcessSpawner> =>
  // The job's services read at once from its context (one effect, not one per service: this runs once per job).
  Effect.contextWith((context: Context.Context<ChildProcessSpawner>) => {
    const spawner = Context.get(context, ChildProcessSpawner)
    const settings = Context.get(context, CurrentSettings)
    const tracker = Context.get(context, Processes.CurrentTracker)
    // The run's secrets, and those given to the command (Redacted argv or env values), are masked if it prints them.
    const mask = Context.get(context, Secrets.CurrentMasker).with(Secrets.collect([...argv, ...Object.values(options.env ?? {})])).mask
    const [program = "", ...args] = argv
    const command = ChildProcess.make(unwrap(program), args, {
      cwd: options.cwd,
      env: TraceContext.withTraceparentFrom(context, options.env),
      extendEnv: true,
      stdin: "ignore",
      forceKillAfter: Duration.millis(settings.graceMillis)
    })
    return Effect.acquireUseRelease(
      start(spawner, command, tracker),
      (started) => consume(jobId, argv, started, settings, mask),
      (started) => end(started, settings, tracker)
    )
  })

/** A started command: its handle, the scope the spawner ends it in, and its group as journaled. */
interface Started {
  readonly handle: ChildProcessHandle
  readonly scope: Scope.Closeable
  readonly group: Processes.Group
  readonly unregister: () => void
  /** How its group ended, once it has: at the command's exit, or when the job was interrupted before. */
  ended: Processes.Ended | undefined
}

/** Starts the command, journals its group, and registers it for a second Ctrl-C, which SIGKILLs every live group. */
const start = (
  spawner: ChildProcessSpawner["Service"],
  command: ChildProcess.Command,
  tracker: Processes.Tracker | undefined
): Effect.Effect<Started, PlatformError.PlatformError> =>
  // Combinators rather than a generator, here and below: this runs once per job (bench/README.md "Spawners").
  Effect.flatMap(Scope.make(), (scope) =>
    Effect.flatMap(
      spawner.spawn(command).pipe(
        Scope.provide(scope),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      ),
      (handle) => {
        const unregister = Processes.register(() => void Effect.runFork(handle.kill({ killSignal: "SIGKILL" })))
        return Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Started> => {
          // Outside a run nothing is journaled, and the leader's start time (a read of /proc) is not needed.
          if (tracker === undefined) {
            return Effect.succeed({ handle, scope, group: Processes.groupOf(handle.pid, now, undefined), unregister, ended: undefined })
          }
          return Effect.flatMap(Processes.childGroupOf(handle.pid, now), (group) => {
            const started: Started = { handle, scope, group, unregister, ended: undefined }
            return Effect.as(tracker.started(group), started)
          })
        })
      }
    ))

/** What a command printed, as the job keeps it: the first 64 KiB of stdout and the last 20 lines of stderr. */
class Kept {
  stdout = ""
  readonly stderrTail: Array<string> = []
  /** When output was last read and logged (native clock). */
  lastRead = 0
  /** Lines are being logged: the output is not silent, the runner is behind. */
  logging = false
}

const logLines = (kept: Kept, stream: "stdout" | "stderr", mask: (text: string) => string) =>
(lines: ReadonlyArray<string>): Effect.Effect<void> => {
  kept.logging = true
  const masked = lines.map(mask)
  let log: Effect.Effect<void>
  if (stream === "stdout") {
    for (const line of masked) {
      if (kept.stdout.length >= STDOUT_CAPTURE_BYTES) break
      kept.stdout += (kept.stdout === "" ? "" : "\n") + line
    }
    log = Effect.annotateLogs(Effect.forEach(masked, (line) => Effect.logInfo(line), { discard: true }), "stream", "stdout")
  } else {
    kept.stderrTail.push(...masked.slice(-STDERR_TAIL_LINES))
    kept.stderrTail.splice(0, kept.stderrTail.length - STDERR_TAIL_LINES)
    log = Effect.annotateLogs(Effect.forEach(masked, (line) => Effect.logWarning(line), { discard: true }), "stream", "stderr")
  }
  return Effect.ensuring(log, Effect.sync(() => {
    kept.logging = false
    kept.lastRead = Date.now()
  }))
}

/** UTF-8 lines (\n, \r\n and \r end one; the last needs no newline) of one output, logged as they come. */
const readLines = (
  output: Stream.Stream<Uint8Array, PlatformError.PlatformError>,
  log: (lines: ReadonlyArray<string>) => Effect.Effect<void>
): Effect.Effect<void> =>
  Effect.suspend(() => {
    const reader = new LineReader()
    // A read error ends the output as a close would; the exit status still decides how the command went.
    return Effect.andThen(
      Effect.ignore(Stream.runForEachArray(output, (chunks) => {
        const lines = reader.read(chunks)
        return lines.length === 0 ? Effect.void : log(lines)
      })),
      Effect.suspend(() => {
        const lines = reader.end()
        return lines.length === 0 ? Effect.void : log(lines)
      })
    )
  })

/**
 * Waits until both outputs have ended, or no output has come for `millis` while the readers waited for more (fiber
 * observers and one timer: this runs once per job).
 */
const outputEnd = (reading: ReadonlyArray<Fiber.Fiber<void>>, kept: Kept, millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const running = reading.filter((fiber) => fiber.pollUnsafe() === undefined)
    let left = running.length
    let done = false
    const removers: Array<() => void> = []
    const finish = () => {
      if (done) return
      done = true
      clearTimeout(timer)
      for (const remove of removers) remove()
      resume(Effect.void)
    }
    const check = () => {
      const quiet = kept.logging ? 0 : Date.now() - kept.lastRead
      if (quiet >= millis) return finish()
      timer = setTimeout(check, millis - quiet)
    }
    for (const fiber of running) {
      removers.push(fiber.addObserver(() => {
        if (--left === 0) finish()
      }))
    }
    if (left === 0) finish()
    else check()
    return Effect.sync(() => {
      clearTimeout(timer)
      for (const remove of removers) remove()
    })
  })

/**
 * Logs the output lines as they come; at the exit ends what the command left running in its group (a background
 * member may hold the output open for as long as it runs: `sleep 15 & echo started`), reads the output to its end (or
 * until it has been silent for `drainMillis`, when a process that left the group holds it), then turns the exit into
 * the job's outcome.
 */
const consume = (
  jobId: string,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  started: Started,
  settings: Settings,
  mask: (text: string) => string
) =>
  Effect.suspend(() => {
    const { handle } = started
    const kept = new Kept()
    // Started at once rather than on the scheduler's next turn: the readers run until they wait for output.
    const read = (output: "stdout" | "stderr") =>
      Effect.forkChild(readLines(handle[output], logLines(kept, output, mask)), { startImmediately: true })
    return Effect.flatMap(read("stdout"), (stdout) =>
      Effect.flatMap(read("stderr"), (stderr) =>
        Effect.flatMap(Effect.exit(handle.exitCode), (exit) =>
          Effect.flatMap(endGroup(started, settings), (ended) => {
            started.ended = ended
            const reading = [stdout, stderr]
            const outcome = Effect.suspend((): Effect.Effect<{ readonly exitCode: number; readonly stdout: string }, ShellError> => {
              if (Exit.isFailure(exit)) return Effect.failCause(exit.cause)
              const code = exit.value
              if (code !== 0) {
                return Effect.fail(
                  new ShellExitError({ jobId, command: CommandLine.display(argv), exitCode: code, stderrTail: kept.stderrTail })
                )
              }
              return Effect.succeed({ exitCode: code as number, stdout: kept.stdout.slice(0, STDOUT_CAPTURE_BYTES) })
            })
            if (reading.every((fiber) => fiber.pollUnsafe() !== undefined)) return outcome
            kept.lastRead = Date.now()
            return Effect.andThen(
              Effect.andThen(outputEnd(reading, kept, settings.drainMillis), Fiber.interruptAll(reading)),
              outcome
            )
          }))))
  })

/**
 * Ends the process group: SIGTERM, up to `graceMillis` for every member to exit, then SIGKILL (the spawner's `kill`
 * with `forceKillAfter`). Also after a normal exit, for what the command left running in the background; then the
 * group is usually gone already and this is one syscall. What outlives SIGKILL by `killWaitMillis` (uninterruptible
 * sleep) is given up on, and the job is interrupted with the reason: the wait has a bound, whatever the spawner does.
 */
const endGroup = (started: Started, settings: Settings): Effect.Effect<Processes.Ended> =>
  Effect.flatMap(
    Effect.forkChild(started.handle.kill({ forceKillAfter: Duration.millis(settings.graceMillis) }), { startImmediately: true }),
    (killing) => {
      // Usually done at once (the group is gone; the fiber ran at once): the bound's timer is set only when it is not.
      const killed = killing.pollUnsafe()
      return killed !== undefined && Exit.isSuccess(killed) ? Effect.succeed(exited) : endGroupSlowly(started, settings, killing, killed)
    }
  )

const exited: Processes.Ended = { _tag: "Exited" }

/** `endGroup` when the spawner's kill took time or failed. */
const endGroupSlowly = (
  { group, handle }: Started,
  settings: Settings,
  killing: Fiber.Fiber<void, PlatformError.PlatformError>,
  polled: Exit.Exit<void, PlatformError.PlatformError> | undefined
): Effect.Effect<Processes.Ended> =>
  Effect.gen(function*() {
    const killed = polled ?? (yield* Effect.raceFirst(
      Fiber.await(killing),
      Effect.as(sleep(settings.graceMillis + settings.killWaitMillis), undefined)
    ))
    if (killed !== undefined && Exit.isSuccess(killed)) return { _tag: "Exited" } as const
    yield* Fiber.interrupt(killing)
    const running = yield* Effect.orElseSucceed(handle.isRunning, () => true)
    // A spawner's kill may fail because there was nothing left to signal (Effect's, after the exit); the runner's
    // fails with TimedOut when something outlived SIGKILL.
    const seconds = `${settings.killWaitMillis / 1000} s`
    return killed !== undefined && !running && !timedOut(killed)
      ? { _tag: "Exited" } as const
      : running
      ? { _tag: "Abandoned", reason: `its process ${handle.pid} did not exit within ${seconds} of SIGKILL` } as const
      : { _tag: "Abandoned", reason: `its process group ${group.pgid} was still alive ${seconds} after SIGKILL` } as const
  })

/** Once the job is done with the command: its group ended (if the exit did not already), journaled, released. */
const end = (started: Started, settings: Settings, tracker: Processes.Tracker | undefined): Effect.Effect<void> => {
  const finish = (how: Processes.Ended): Effect.Effect<void> => {
    started.unregister()
    // The spawner's own release ends what is left; for what outlived SIGKILL it would wait again, so not here.
    const close = how._tag === "Abandoned"
      ? Effect.asVoid(Effect.forkDetach(Scope.close(started.scope, Exit.void)))
      : Scope.close(started.scope, Exit.void)
    return tracker === undefined ? close : Effect.andThen(tracker.ended(started.group, how), close)
  }
  return Effect.suspend(() => started.ended === undefined ? Effect.flatMap(endGroup(started, settings), finish) : finish(started.ended))
}

const timedOut = (exit: Exit.Exit<unknown, PlatformError.PlatformError>): boolean =>
  Exit.isFailure(exit) && exit.cause.reasons.some((reason) => reason._tag === "Fail" && reason.error.reason._tag === "TimedOut")
