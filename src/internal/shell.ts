/** Runs one command for a shell job: argv, no shell; output lines logged; non-zero exit becomes ShellExitError. */
import * as Effect from "effect/Effect"
import * as PlatformError from "effect/PlatformError"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import { ShellExitError } from "../Errors.ts"
import * as Secrets from "../Secrets.ts"
import * as Spawn from "./spawn.ts"

export type ShellError = ShellExitError | PlatformError.PlatformError

const STDERR_TAIL_LINES = 20
const STDOUT_CAPTURE_BYTES = 64 * 1024
/** How long the process group has to exit after SIGTERM before SIGKILL, and after SIGKILL. */
const KILL_GRACE_MILLIS = 3_000
const SIGKILL_WAIT_MILLIS = 1_000
const POLL_MILLIS = 10
/** Lines waiting to be logged above which the command's output is no longer read, until they are. */
const PENDING_LINES_MAX = 1024

export interface RunOptions {
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

const unwrap = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

/**
 * Spawns argv in its own process group, streams its output to the log, and fails with the exit code and stderr tail
 * on a non-zero exit. The group gets SIGTERM, then SIGKILL 3 seconds later, when the command is interrupted, and
 * whatever is left of it once the command has exited: no orphans.
 */
export const run = (
  jobId: string,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  options: RunOptions
): Effect.Effect<{ readonly exitCode: number; readonly stdout: string }, ShellError> =>
  Effect.suspend(() => {
    const [program = "", ...args] = argv.map(unwrap)
    const env = options.env === undefined ? undefined : Object.fromEntries(Object.entries(options.env).map(([k, v]) => [k, unwrap(v)]))
    const invalid = nulCharacter(program, args, env)
    if (invalid !== undefined) {
      return Effect.fail(PlatformError.badArgument({ module: "ChildProcess", method: "spawn", description: invalid }))
    }
    const request: Spawn.Request = { program, args, cwd: options.cwd, env }
    return Effect.flatMap(Secrets.CurrentMasker, (current) => {
      // The run's secrets, and those given to the command (Redacted argv or env values), are masked if it prints them.
      const mask = current.with(Secrets.collect([...argv, ...Object.values(options.env ?? {})])).mask
      const session = new Session()
      return Effect.acquireUseRelease(
        startChild(request, session, argv),
        () => consume(jobId, argv, session, mask),
        (child) => terminate(child, session)
      )
    })
  })

// Node's own NUL check throws an error that includes the value, so NUL is rejected here to keep secrets out of errors.
const nulCharacter = (
  program: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> | undefined
): string | undefined => {
  if (program.includes("\0")) return "The command contains a NUL character"
  const index = args.findIndex((arg) => arg.includes("\0"))
  if (index !== -1) return `Argument ${index + 1} contains a NUL character`
  for (const [name, value] of Object.entries(env ?? {})) {
    if (value.includes("\0")) return `The environment variable ${name} contains a NUL character`
  }
  return undefined
}

/** Consecutive lines of one stream, waiting to be logged. */
interface Run {
  readonly stream: "stdout" | "stderr"
  readonly lines: Array<string>
}

/** What the child reported, between its callbacks and the job's fiber that logs it. */
class Session implements Spawn.Listener {
  child: Spawn.Child | undefined = undefined
  private pending: Array<Run> = []
  private pendingLines = 0
  private paused = false
  exited: Spawn.Exit | undefined = undefined
  closed: Spawn.Exit | undefined = undefined
  private wake: (() => void) | undefined = undefined
  private readonly exitWaiters: Array<() => void> = []
  private readonly out = new LineReader()
  private readonly err = new LineReader()

  readonly stdout = (chunk: Uint8Array) => this.push("stdout", this.out.read(chunk))
  readonly stderr = (chunk: Uint8Array) => this.push("stderr", this.err.read(chunk))
  readonly exit = (exit: Spawn.Exit) => {
    this.exited = exit
    // A failing command's group is ended at once, not once its output closes (background members may hold it).
    if (exit.code !== null && exit.code !== 0) this.child?.kill("SIGTERM")
    for (const waiter of this.exitWaiters.splice(0)) waiter()
  }
  readonly close = (exit: Spawn.Exit) => {
    this.push("stdout", this.out.end())
    this.push("stderr", this.err.end())
    if (this.exited === undefined) this.exit(exit)
    this.closed = exit
    this.notify()
  }

  private push(stream: Run["stream"], lines: Array<string>) {
    if (lines.length === 0) return
    const last = this.pending.at(-1)
    if (last?.stream === stream) for (const line of lines) last.lines.push(line)
    else this.pending.push({ stream, lines })
    this.pendingLines += lines.length
    if (this.pendingLines >= PENDING_LINES_MAX && !this.paused && this.closed === undefined) {
      this.paused = true
      this.child?.pause()
    }
    this.notify()
  }

  /** The lines to log now; reading resumes while they are logged. */
  take(): ReadonlyArray<Run> {
    const runs = this.pending
    this.pending = []
    this.pendingLines = 0
    if (this.paused) {
      this.paused = false
      this.child?.resume()
    }
    return runs
  }

  private notify() {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  get isEmpty(): boolean {
    return this.pendingLines === 0
  }

  /** Waits until there are lines to log or the output is closed. */
  readonly next: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pendingLines > 0 || this.closed !== undefined) return resume(Effect.void)
    this.wake = () => resume(Effect.void)
  })

  /** Waits for the process to exit (its output may stay open). */
  readonly awaitExit: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.exited !== undefined) return resume(Effect.void)
    this.exitWaiters.push(() => resume(Effect.void))
  })
}

const startChild = (
  request: Spawn.Request,
  session: Session,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>
): Effect.Effect<Spawn.Child, PlatformError.PlatformError> =>
  Effect.callback<Spawn.Child, PlatformError.PlatformError>((resume) =>
    Spawn.start(request, session, (child) => {
      session.child = child
      resume(Effect.succeed(child))
    }, (error) => resume(Effect.fail(startError(request, argv, error))))
  )

const startError = (
  request: Spawn.Request,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  error: Spawn.StartError
): PlatformError.PlatformError => {
  if (error.cwd) {
    return PlatformError.systemError({
      _tag: "NotFound",
      module: "FileSystem",
      method: "access",
      pathOrDescriptor: request.cwd,
      description: "the working directory does not exist"
    })
  }
  const [tag, description] = error.code === "ENOENT"
    ? ["NotFound", `${request.program} is not an executable on the PATH, nor a path to one`] as const
    : error.code === "EACCES" || error.code === "EPERM"
    ? ["PermissionDenied", `${request.program} cannot be executed (permission denied)`] as const
    : ["Unknown", `cannot start ${request.program} (${error.code})`] as const
  return PlatformError.systemError({
    _tag: tag,
    module: "ChildProcess",
    method: "spawn",
    pathOrDescriptor: CommandLine.display(argv),
    description
  })
}

/** Logs the output lines as they come, then turns the exit into the job's outcome. */
const consume = (
  jobId: string,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>,
  session: Session,
  mask: (text: string) => string
) =>
  Effect.gen(function*() {
    let stdout = ""
    const stderrTail: Array<string> = []
    while (true) {
      yield* session.next
      for (const run of session.take()) {
        const masked = run.lines.map(mask)
        if (run.stream === "stdout") {
          for (const line of masked) {
            if (stdout.length >= STDOUT_CAPTURE_BYTES) break
            stdout += (stdout === "" ? "" : "\n") + line
          }
          yield* Effect.annotateLogs(Effect.forEach(masked, (line) => Effect.logInfo(line), { discard: true }), "stream", "stdout")
        } else {
          stderrTail.push(...masked.slice(-STDERR_TAIL_LINES))
          stderrTail.splice(0, stderrTail.length - STDERR_TAIL_LINES)
          yield* Effect.annotateLogs(Effect.forEach(masked, (line) => Effect.logWarning(line), { discard: true }), "stream", "stderr")
        }
      }
      if (session.closed !== undefined && session.isEmpty) break
    }
    const { code, signal } = session.closed!
    if (code === null) {
      return yield* PlatformError.systemError({
        _tag: "Unknown",
        module: "ChildProcess",
        method: "exitCode",
        pathOrDescriptor: CommandLine.display(argv),
        description: `killed by ${signal}`
      })
    }
    if (code !== 0) {
      return yield* new ShellExitError({ jobId, command: CommandLine.display(argv), exitCode: code, stderrTail })
    }
    return { exitCode: code, stdout: stdout.slice(0, STDOUT_CAPTURE_BYTES) }
  })

/**
 * Ends the process group: SIGTERM, up to 3 s for every member to exit, then SIGKILL. Also after a normal exit, for
 * what the command left running in the background; then the group is usually gone already and this is one syscall.
 */
const terminate = (child: Spawn.Child, session: Session): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (child.kill("SIGTERM")) {
      yield* awaitGroup(child, KILL_GRACE_MILLIS)
      if (isAlive(child)) {
        child.kill("SIGKILL")
        yield* awaitGroup(child, SIGKILL_WAIT_MILLIS)
      }
    }
    yield* session.awaitExit
  })

const isAlive = (child: Spawn.Child): boolean => !child.hasExited() || child.kill(0)

/** Waits until the process and its group are gone, or `millis` have passed (on the native clock, as a kill does). */
const awaitGroup = (child: Spawn.Child, millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const deadline = Date.now() + millis
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = () => {
      if (Date.now() >= deadline || !isAlive(child)) return resume(Effect.void)
      timer = setTimeout(poll, POLL_MILLIS)
    }
    poll()
    return Effect.sync(() => clearTimeout(timer))
  })

/** UTF-8 decoding and line splitting as `Stream.decodeText` and `Stream.splitLines` do: \n, \r\n and \r end lines. */
class LineReader {
  private decoder: InstanceType<typeof TextDecoder> | undefined = undefined
  private partial = ""
  private afterCR = false

  read(chunk: Uint8Array): Array<string> {
    this.decoder ??= new TextDecoder()
    return this.split(this.decoder.decode(chunk, { stream: true }))
  }

  end(): Array<string> {
    const lines = this.decoder === undefined ? [] : this.split(this.decoder.decode())
    if (this.partial.length > 0) lines.push(this.partial)
    this.partial = ""
    return lines
  }

  private split(text: string): Array<string> {
    const lines: Array<string> = []
    if (text.length === 0) return lines
    let from = 0
    // A \r ending the previous chunk ended its line; a \n starting this one belongs to it.
    if (this.afterCR && text.charCodeAt(0) === 10) from = 1
    this.afterCR = false
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      lines.push(this.partial + text.substring(from, i))
      this.partial = ""
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      from = i + 1
    }
    this.partial += text.substring(from)
    return lines
  }
}
