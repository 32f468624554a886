/**
 * The runner's own `ChildProcessSpawner`: what jobs, shell jobs included, get when they start a process. Commands of
 * the kind shell jobs run (argv, no shell, stdin not piped, no extra descriptors) start through native.ts, the cheapest
 * way on each runtime; any other command (a pipeline, stdin fed from a stream, a shell) goes to Effect's
 * NodeChildProcessSpawner unchanged.
 *
 * Why not Effect's spawner for everything: a shell job's cost is mostly its spawn, and Effect's costs more per job of
 * `true` (bench/spawn.ts, bench/README.md "Spawners", 2026-12-05, in-process, CPU per job at concurrency 8): on Deno
 * 20.8 ms against 3.2 ms here (its `detached` start forks the whole runtime), on Bun 3.5 against 3.0 ms; on Node
 * 0–2 ms more of ~8–10 (Node's spawn itself is most of it). Both are `ChildProcessSpawner` layers, chosen by layer: a test or a user
 * can provide another (a fake one included) and shell jobs use it.
 *
 * Kill semantics, as NodeChildProcessSpawner documents its own: a command runs in a process group of its own; `kill`
 * signals the group and waits until every member is gone (SIGKILL `forceKillAfter` after the first signal, when set);
 * the scope's release does the same with the command's `killSignal`/`forceKillAfter`, which after a normal exit
 * is one `kill(2)`. Unlike Effect's, the waits after SIGKILL are bounded (`KILL_WAIT_MILLIS`): a process in
 * uninterruptible sleep (a hung NFS read) outlives SIGKILL, and `kill` then fails (TimedOut) saying so instead of
 * waiting forever.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node/NodeChildProcessSpawner"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import type * as Path from "effect/Path"
import * as PlatformError from "effect/PlatformError"
import type * as ChildProcess from "effect/process/ChildProcess"
import {
  ChildProcessSpawner,
  type ChildProcessHandle,
  ExitCode,
  make as makeSpawner,
  makeHandle,
  ProcessId
} from "effect/process/ChildProcessSpawner"
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { groupAlive } from "../processes.ts"
import * as Native from "./native.ts"

/** How long the group may take to vanish after SIGKILL before `kill` gives up on it. */
export const KILL_WAIT_MILLIS = 5_000
const POLL_MILLIS = 10

const unwrap = (value: string | Redacted.Redacted<string>): string =>
  Redacted.isRedacted(value) ? Redacted.value(value) : value

const display = (command: ChildProcess.StandardCommand): string => CommandLine.display([command.command, ...command.args])

/** The native request for `command`, or undefined when the fast path does not handle it. */
const requestOf = (command: ChildProcess.StandardCommand): Native.Request | undefined => {
  const { options } = command
  if (process.platform === "win32" || (options.shell !== undefined && options.shell !== false)) return undefined
  if (options.detached === false || Object.keys(options.additionalFds ?? {}).length > 0) return undefined
  const stdin = options.stdin
  const stdout = options.stdout ?? "pipe"
  const stderr = options.stderr ?? "pipe"
  if (stdin !== "ignore" && stdin !== "inherit") return undefined
  if (!isPlain(stdout) || !isPlain(stderr)) return undefined
  return {
    program: command.command,
    args: command.args.map(unwrap),
    cwd: options.cwd,
    env: environment(options),
    stdin,
    stdout,
    stderr
  }
}

const isPlain = (output: unknown): output is "pipe" | "ignore" | "inherit" =>
  output === "pipe" || output === "ignore" || output === "inherit"

/** The command's whole environment, as Effect's spawners build it: `env` over the runner's with `extendEnv`. */
const environment = (options: ChildProcess.CommandOptions): Record<string, string> | undefined => {
  if (options.env === undefined) return undefined
  const env: Record<string, string | undefined> = options.extendEnv === true ? { ...process.env } : {}
  for (const [key, value] of Object.entries(options.env)) {
    if (value === undefined) delete env[key]
    else env[key] = unwrap(value)
  }
  return env as Record<string, string>
}

// Node's own NUL check throws an error that includes the value, so NUL is rejected here to keep secrets out of errors.
const nulCharacter = (request: Native.Request): string | undefined => {
  if (request.program.includes("\0")) return "The command contains a NUL character"
  const index = request.args.findIndex((arg) => arg.includes("\0"))
  if (index !== -1) return `Argument ${index + 1} contains a NUL character`
  for (const [name, value] of Object.entries(request.env ?? {})) {
    if (value.includes("\0")) return `The environment variable ${name} contains a NUL character`
  }
  return undefined
}

const startError = (command: ChildProcess.StandardCommand, error: Native.StartError): PlatformError.PlatformError => {
  if (error.cwd) {
    return PlatformError.systemError({
      _tag: "NotFound",
      module: "FileSystem",
      method: "access",
      pathOrDescriptor: command.options.cwd,
      description: "the working directory does not exist"
    })
  }
  const program = command.command
  const [tag, description] = error.code === "ENOENT"
    ? ["NotFound", `${program} is not an executable on the PATH, nor a path to one`] as const
    : error.code === "EACCES" || error.code === "EPERM"
    ? ["PermissionDenied", `${program} cannot be executed (permission denied)`] as const
    : ["Unknown", `cannot start ${program} (${error.code})`] as const
  return PlatformError.systemError({ _tag: tag, module: "ChildProcess", method: "spawn", pathOrDescriptor: display(command), description })
}

const isAlive = (child: Native.Child): boolean => !child.hasExited() || (child.kill(0) && groupAlive(child.pid))

/** Waits until the process and its group are gone, or `millis` have passed (native timers: a kill's time is real). */
const awaitGroup = (child: Native.Child, millis: number): Effect.Effect<void> =>
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

/** How the command's exit is reported: once, to whoever waits for it. */
class Exited {
  exit: Native.Exit | undefined = undefined
  /** The process has exited and its group was then found empty. */
  groupGone = false
  private waiters: Array<() => void> = []
  readonly done = (exit: Native.Exit): void => {
    this.exit = exit
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter()
  }
  /** Waits for the exit to be reported, at most `millis`. */
  wait(millis: number): Effect.Effect<Native.Exit | undefined> {
    return Effect.callback<Native.Exit | undefined>((resume) => {
      if (this.exit !== undefined) return resume(Effect.succeed(this.exit))
      let timer: ReturnType<typeof setTimeout> | undefined
      const waiter = () => {
        clearTimeout(timer)
        resume(Effect.succeed(this.exit))
      }
      this.waiters.push(waiter)
      if (Number.isFinite(millis)) timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resume(Effect.succeed(undefined))
      }, millis)
      return Effect.sync(() => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w !== waiter)
      })
    })
  }
}

/** Sleeps on a native timer, so that a TestClock in the job's context does not stop the kill of a real process. */
export const sleep = (millis: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => resume(Effect.void), millis)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Ends the group: `signal`, then up to `forceKillAfter` for every member to exit, then SIGKILL (with no
 * `forceKillAfter`, waits for the group however long it takes). Fails, naming what is left, when something outlives
 * SIGKILL by `KILL_WAIT_MILLIS`.
 */
const terminate = (
  command: ChildProcess.StandardCommand,
  child: Native.Child,
  exited: Exited,
  options: ChildProcess.KillOptions | undefined
): Effect.Effect<void, PlatformError.PlatformError> =>
  // After a normal exit, with nothing left in the group: one kill(2), which finds nothing, and no fiber work. Once
  // found gone after the exit, the group is not signalled again: its id may since have been given to another.
  Effect.suspend(() => {
    if (exited.groupGone) return Effect.void
    if (!child.kill(options?.killSignal ?? "SIGTERM") && child.hasExited()) {
      exited.groupGone = true
      return Effect.void
    }
    return signalled(command, child, exited, options)
  })

/** `terminate` once the signal has reached something: waits for the group to end, SIGKILL after the grace. */
const signalled = (
  command: ChildProcess.StandardCommand,
  child: Native.Child,
  exited: Exited,
  options: ChildProcess.KillOptions | undefined
): Effect.Effect<void, PlatformError.PlatformError> =>
  Effect.gen(function*() {
    if (isAlive(child)) {
      const grace = options?.forceKillAfter === undefined ? undefined : Duration.toMillis(options.forceKillAfter)
      yield* awaitGroup(child, grace ?? Number.POSITIVE_INFINITY)
      if (isAlive(child)) {
        child.kill("SIGKILL")
        yield* awaitGroup(child, KILL_WAIT_MILLIS)
      }
    }
    // The group is gone but the runtime may not have reported the exit yet: that takes a moment, not a bound's worth.
    if (!child.hasExited() && !child.kill(0)) yield* exited.wait(KILL_WAIT_MILLIS)
    const seconds = `${KILL_WAIT_MILLIS / 1000} s`
    const left = !child.hasExited()
      ? `its process ${child.pid} did not exit within ${seconds} of SIGKILL`
      : isAlive(child)
      ? `its process group ${child.pid} was still alive ${seconds} after SIGKILL`
      : undefined
    if (left === undefined) exited.groupGone = true
    else {
      return yield* PlatformError.systemError({
        _tag: "TimedOut",
        module: "ChildProcess",
        method: "kill",
        pathOrDescriptor: display(command),
        description: left
      })
    }
  })

const exitCodeOf = (command: ChildProcess.StandardCommand, exit: Native.Exit) =>
  exit.code !== null ? Effect.succeed(ExitCode(exit.code)) : Effect.fail(PlatformError.systemError({
    _tag: "Unknown",
    module: "ChildProcess",
    method: "exitCode",
    pathOrDescriptor: display(command),
    description: `killed by ${exit.signal}`
  }))

/** Starts a command the fast path handles; the scope's release ends its group. */
const spawnNative = (
  start: Native.Start,
  command: ChildProcess.StandardCommand,
  request: Native.Request
): Effect.Effect<ChildProcessHandle, PlatformError.PlatformError, Scope.Scope> => {
  const invalid = nulCharacter(request)
  if (invalid !== undefined) {
    return Effect.fail(PlatformError.badArgument({ module: "ChildProcess", method: "spawn", description: invalid }))
  }
  // Plain callbacks, no Deferred or generator, a handle of a class: this runs once per shell job, and its Effect
  // work is part of the job's cost (bench/README.md "Spawners").
  const exited = new Exited()
  return Effect.map(
    Effect.acquireRelease(
      Effect.callback<Native.Child, PlatformError.PlatformError>((resume) => {
        start(
          request,
          (child) => resume(Effect.succeed(child)),
          (error) => resume(Effect.fail(startError(command, error))),
          exited.done
        )
      }),
      (child) => Effect.ignore(terminate(command, child, exited, command.options))
    ),
    (child) => new NativeHandle(command, child, exited) as unknown as ChildProcessHandle
  )
}

/** Effect's handle prototype (its type id, toJSON), taken once: `makeHandle` copies its argument into a new object. */
const HandleProto = Object.getPrototypeOf(makeHandle({} as Parameters<typeof makeHandle>[0]))

/** The handle of a command started natively; what few jobs use (`all`, `unref`) is built when asked for. */
class NativeHandle {
  readonly pid: ProcessId
  readonly exitCode: Effect.Effect<ExitCode, PlatformError.PlatformError>
  readonly stdout: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  readonly stderr: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  private readonly command: ChildProcess.StandardCommand
  private readonly child: Native.Child
  private readonly exited: Exited
  private referenced = true

  constructor(command: ChildProcess.StandardCommand, child: Native.Child, exited: Exited) {
    this.command = command
    this.child = child
    this.exited = exited
    this.pid = ProcessId(child.pid)
    this.stdout = child.stdout
    this.stderr = child.stderr
    this.exitCode = Effect.flatMap(exited.wait(Number.POSITIVE_INFINITY), (exit) => exitCodeOf(command, exit!))
  }

  get isRunning(): Effect.Effect<boolean> {
    return Effect.sync(() => !this.child.hasExited())
  }
  readonly kill = (options?: ChildProcess.KillOptions): Effect.Effect<void, PlatformError.PlatformError> =>
    terminate(this.command, this.child, this.exited, options)
  get all(): Stream.Stream<Uint8Array, PlatformError.PlatformError> {
    return Stream.merge(this.stdout, this.stderr)
  }
  get stdin(): Sink.Sink<void, Uint8Array, never, PlatformError.PlatformError> {
    return Sink.drain
  }
  getInputFd(): Sink.Sink<void, Uint8Array, never, PlatformError.PlatformError> {
    return Sink.drain
  }
  getOutputFd(): Stream.Stream<Uint8Array, PlatformError.PlatformError> {
    return Stream.empty
  }
  get unref(): Effect.Effect<Effect.Effect<void>> {
    const setRef = (value: boolean) =>
      Effect.sync(() => {
        this.referenced = value
        this.child.ref(value)
      })
    return Effect.as(setRef(false), Effect.suspend(() => this.referenced ? Effect.void : setRef(true)))
  }
}
Object.setPrototypeOf(NativeHandle.prototype, HandleProto)

/** A spawner that starts what it can with `start` and hands everything else to `fallback`. */
export const make = (start: Native.Start, fallback: ChildProcessSpawner["Service"]): ChildProcessSpawner["Service"] =>
  makeSpawner((command): Effect.Effect<ChildProcessHandle, PlatformError.PlatformError, Scope.Scope> => {
    const request = command._tag === "StandardCommand" ? requestOf(command) : undefined
    return request === undefined ? fallback.spawn(command) : spawnNative(start, command as ChildProcess.StandardCommand, request)
  })

/**
 * The runner's spawner for this runtime (native.ts picks Node, Bun or Deno), over Effect's NodeChildProcessSpawner for
 * the commands it does not handle.
 */
export const layer: Layer.Layer<ChildProcessSpawner, never, FileSystem.FileSystem | Path.Path> = Layer.effect(ChildProcessSpawner)(
  Effect.gen(function*() {
    return make(Native.start, yield* ChildProcessSpawner)
  })
).pipe(Layer.provide(NodeChildProcessSpawner.layer))
