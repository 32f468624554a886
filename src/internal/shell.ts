/** Runs one command for a shell job: argv, no shell; output lines logged; non-zero exit becomes ShellExitError. */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as PlatformError from "effect/PlatformError"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { ShellExitError } from "../Errors.ts"
import * as Secrets from "../Secrets.ts"

export type ShellError = ShellExitError | PlatformError.PlatformError

const STDERR_TAIL_LINES = 20
const STDOUT_CAPTURE_BYTES = 64 * 1024

export interface RunOptions {
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

/** Spawns argv, streams its output to the log, and fails with the exit code and stderr tail on a non-zero exit. */
export const run = (
  jobId: string,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  options: RunOptions
): Effect.Effect<{ readonly exitCode: number; readonly stdout: string }, ShellError, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(Effect.gen(function*() {
    const [program, ...args] = argv
    const command = ChildProcess.make(program as string, args, {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: { ...options.env } }),
      extendEnv: true,
      stdin: "ignore",
      // The spawner runs the command in its own process group and signals the whole group on interruption.
      killSignal: "SIGTERM",
      forceKillAfter: "3 seconds"
    })
    const handle = yield* command
    // The run's secrets, and those given to the command (Redacted argv or env values), are masked if it prints them.
    const masker = (yield* Secrets.CurrentMasker).with(Secrets.collect([...argv, ...Object.values(options.env ?? {})]))
    const mask = masker.mask
    let stdout = ""
    const stderrTail: Array<string> = []
    const stdoutFiber = yield* handle.stdout.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((raw) => {
        const line = mask(raw)
        if (stdout.length < STDOUT_CAPTURE_BYTES) stdout += (stdout === "" ? "" : "\n") + line
        return Effect.logInfo(line).pipe(Effect.annotateLogs("stream", "stdout"))
      }),
      Effect.forkScoped
    )
    const stderrFiber = yield* handle.stderr.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((raw) => {
        const line = mask(raw)
        stderrTail.push(line)
        if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift()
        return Effect.logWarning(line).pipe(Effect.annotateLogs("stream", "stderr"))
      }),
      Effect.forkScoped
    )
    const exitCode = yield* handle.exitCode
    yield* Fiber.join(stdoutFiber)
    yield* Fiber.join(stderrFiber)
    if (exitCode !== 0) {
      return yield* new ShellExitError({ jobId, command: CommandLine.display(argv), exitCode, stderrTail })
    }
    return { exitCode, stdout: stdout.slice(0, STDOUT_CAPTURE_BYTES) }
  }))
