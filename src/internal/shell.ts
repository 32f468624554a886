/** Runs one command for a shell job: argv, no shell; output lines logged; non-zero exit becomes ShellExitError. */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as PlatformError from "effect/PlatformError"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import { ShellExitError } from "../Errors.ts"
import * as Secrets from "./Secrets.ts"
import * as Processes from "./processes.ts"
import * as Spawn from "./spawn.ts"

export type ShellError = ShellExitError | PlatformError.PlatformError

const STDERR_TAIL_LINES = 20
const STDOUT_CAPTURE_BYTES = 64 * 1024
const POLL_MILLIS = 10
/** Lines waiting to be logged above which the command's output is no longer read, until they are. */
const PENDING_LINES_MAX = 1024

export interface RunOptions {
  readonly cwd: string | undefined
  readonly env: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
}

/** How commands are started and ended; tests change it. */
export interface Settings {
  readonly start: Spawn.Start
  /** How long the process group has to exit after SIGTERM before SIGKILL. Default: 3 s. */
  readonly graceMillis: number
  /**
   * How long to wait for the group to vanish after SIGKILL. A process in uninterruptible sleep (a hung NFS read)
   * outlives SIGKILL until the kernel returns: past this bound the runner stops waiting and the job is interrupted,
   * saying so. Default: 5 s.
   */
  readonly killWaitMillis: number
  /**
   * Once the command has exited (and its group been sent SIGTERM), how long its output is still read while other
   * processes hold it open. Default: 200 ms.
   */
  readonly drainMillis: number
}

export const CurrentSettings = Context.Reference<Settings>("effect-runner/shell/Settings", {
  defaultValue: () => ({ start: Spawn.start, graceMillis: 3_000, killWaitMillis: 5_000, drainMillis: 200 })
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
): Effect.Effect<{ readonly exitCode: number; readonly stdout: string }, ShellError> =>
  Effect.suspend(() => {
    const [program = "", ...args] = argv.map(unwrap)
    const env = options.env === undefined ? undefined : Object.fromEntries(Object.entries(options.env).map(([k, v]) => [k, unwrap(v)]))
    const invalid = nulCharacter(program, args, env)
    if (invalid !== undefined) {
      return Effect.fail(PlatformError.badArgument({ module: "ChildProcess", method: "spawn", description: invalid }))
    }
    const request: Spawn.Request = { program, args, cwd: options.cwd, env }
    return Effect.gen(function*() {
      const current = yield* Secrets.CurrentMasker
      const settings = yield* CurrentSettings
      const tracker = yield* Processes.CurrentTracker
      // The run's secrets, and those given to the command (Redacted argv or env values), are masked if it prints them.
      const mask = current.with(Secrets.collect([...argv, ...Object.values(options.env ?? {})])).mask
      const session = new Session(settings.drainMillis)
      return yield* Effect.acquireUseRelease(
        Effect.flatMap(startChild(settings.start, request, session, argv), (child) => track(child, tracker)),
        () => consume(jobId, argv, session, mask),
        (started) => terminate(started, session, settings, tracker)
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
  private readonly drainMillis: number
  constructor(drainMillis: number) {
    this.drainMillis = drainMillis
  }
  child: Spawn.Child | undefined = undefined
  private pending: Array<Run> = []
  private pendingLines = 0
  private paused = false
  exited: Spawn.Exit | undefined = undefined
  closed: Spawn.Exit | undefined = undefined
  /** The command exited `drainMillis` ago and its output is still open: it is no longer waited for. */
  drained = false
  private drainTimer: ReturnType<typeof setTimeout> | undefined = undefined
  private wake: (() => void) | undefined = undefined
  private readonly exitWaiters: Array<() => void> = []
  private readonly out = new LineReader()
  private readonly err = new LineReader()

  readonly stdout = (chunk: Uint8Array) => this.push("stdout", this.out.read(chunk))
  readonly stderr = (chunk: Uint8Array) => this.push("stderr", this.err.read(chunk))
  readonly exit = (exit: Spawn.Exit) => {
    this.exited = exit
    // What the command leaves running is ended as it exits, not once its output closes: a background member may hold
    // the output open for as long as it runs (`sleep 15 & echo started`).
    this.child?.kill("SIGTERM")
    for (const waiter of this.exitWaiters.splice(0)) waiter()
    if (this.closed === undefined) {
      this.drainTimer = setTimeout(() => {
        this.drained = true
        this.notify()
      }, this.drainMillis)
    }
  }
  readonly close = (exit: Spawn.Exit) => {
    this.push("stdout", this.out.end())
    this.push("stderr", this.err.end())
    this.closed = exit
    if (this.exited === undefined) this.exit(exit)
    clearTimeout(this.drainTimer)
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

  /** The output is closed, or no longer waited for: nothing more is logged once the pending lines are. */
  get finished(): boolean {
    return this.closed !== undefined || this.drained
  }

  /** Waits until there are lines to log or the output is finished. */
  readonly next: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.pendingLines > 0 || this.finished) return resume(Effect.void)
    this.wake = () => resume(Effect.void)
  })

  /** Stops the drain timer (the command is being ended). */
  stop(): void {
    clearTimeout(this.drainTimer)
  }

  /** Waits for the process to exit (its output may stay open). */
  readonly awaitExit: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.exited !== undefined) return resume(Effect.void)
    this.exitWaiters.push(() => resume(Effect.void))
  })
}

const startChild = (
  start: Spawn.Start,
  request: Spawn.Request,
  session: Session,
  argv: ReadonlyArray<string | Redacted.Redacted<string>>
): Effect.Effect<Spawn.Child, PlatformError.PlatformError> =>
  Effect.callback<Spawn.Child, PlatformError.PlatformError>((resume) =>
    start(request, session, (child) => {
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
      if (session.finished && session.isEmpty) break
    }
    const { code, signal } = session.closed ?? session.exited!
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

/** A started command: its process, and its group as journaled. */
interface Started {
  readonly child: Spawn.Child
  readonly group: Processes.Group
  readonly unregister: () => void
}

/** Journals the new group, and registers it for a second Ctrl-C, which SIGKILLs every live group at once. */
const track = (child: Spawn.Child, tracker: Processes.Tracker | undefined): Effect.Effect<Started> =>
  Effect.gen(function*() {
    const group = Processes.groupOf(child.pid, yield* Clock.currentTimeMillis)
    const unregister = Processes.register(() => void child.kill("SIGKILL"))
    if (tracker !== undefined) yield* tracker.started(group)
    return { child, group, unregister }
  })

/**
 * Ends the process group: SIGTERM, up to 3 s for every member to exit, then SIGKILL. Also after a normal exit, for
 * what the command left running in the background; then the group is usually gone already and this is one syscall.
 * What outlives SIGKILL by `killWaitMillis` (uninterruptible sleep) is given up on, and the job is interrupted with
 * the reason: the wait has a bound.
 */
const terminate = (
  { child, group, unregister }: Started,
  session: Session,
  settings: Settings,
  tracker: Processes.Tracker | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    session.stop()
    if (child.kill("SIGTERM")) {
      yield* awaitGroup(child, settings.graceMillis)
      if (isAlive(child)) {
        child.kill("SIGKILL")
        yield* awaitGroup(child, settings.killWaitMillis)
      }
    }
    // The group is gone but the runtime may not have reported the exit yet: that takes a moment, not a bound's worth.
    if (!child.hasExited() && !child.kill(0)) yield* awaitExit(session, settings.killWaitMillis)
    unregister()
    const seconds = `${settings.killWaitMillis / 1000} s`
    const how: Processes.Ended = !child.hasExited()
      ? { _tag: "Abandoned", reason: `its process ${child.pid} did not exit within ${seconds} of SIGKILL` }
      : isAlive(child)
      ? { _tag: "Abandoned", reason: `its process group ${group.pgid} was still alive ${seconds} after SIGKILL` }
      : { _tag: "Exited" }
    if (tracker !== undefined) yield* tracker.ended(group, how)
  })

const isAlive = (child: Spawn.Child): boolean => !child.hasExited() || (child.kill(0) && Processes.groupAlive(child.pid))

/** Waits for the exit to be reported, at most `millis` (on the native clock, as `awaitGroup`). */
const awaitExit = (session: Session, millis: number): Effect.Effect<void> =>
  Effect.raceFirst(
    session.awaitExit,
    Effect.callback<void>((resume) => {
      const timer = setTimeout(() => resume(Effect.void), millis)
      return Effect.sync(() => clearTimeout(timer))
    })
  )

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
