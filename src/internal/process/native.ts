/**
 * How the runner's ChildProcessSpawner (Spawner.ts) starts a command on each runtime, in a process group of its own,
 * and signals that group. Node uses node:child_process with `detached`; Bun uses `Bun.spawn` with `detached` (a new
 * session, as Node's): its node:child_process is a layer over the same spawn with Node streams for the pipes, which
 * cost a shell job of `true` about as much CPU again as the spawn itself. Deno uses `Deno.Command` through `setsid`,
 * because Deno's own way to start a new group (`detached`, also behind its node:child_process, which is what Effect's
 * NodeChildProcessSpawner uses there) forks the whole runtime, which costs it three times as much as a plain spawn.
 */
import type * as PlatformError from "effect/PlatformError"
import * as Stream from "effect/Stream"
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { Output } from "./output.ts"

/** What to start: the program, its arguments, where, with which environment, and which of its outputs to read. */
export interface Request {
  readonly program: string
  readonly args: ReadonlyArray<string>
  /** The working directory. Default: the runner's. */
  readonly cwd: string | undefined
  /** The whole environment of the command. Default: the runner's. */
  readonly env: Readonly<Record<string, string>> | undefined
  readonly stdin: "ignore" | "inherit"
  readonly stdout: "pipe" | "ignore" | "inherit"
  readonly stderr: "pipe" | "ignore" | "inherit"
}

/** How the process ended: an exit code, or the signal that killed it. */
export interface Exit {
  readonly code: number | null
  readonly signal: string | null
}

/** Why a command did not start: the errno code (ENOENT, EACCES, ...) and whether its `cwd` was the problem. */
export interface StartError {
  readonly code: string
  readonly cwd: boolean
  readonly cause: unknown
}

/** A started command. Its output streams are empty unless piped; they end once every holder of the pipe has closed it. */
export interface Child {
  readonly pid: number
  readonly hasExited: () => boolean
  /**
   * Sends `signal` (0 probes) to the process group, or to the process alone if it has not made its group yet.
   * Returns false when nothing received it.
   */
  readonly kill: (signal: NodeJS.Signals | 0) => boolean
  readonly stdout: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  readonly stderr: Stream.Stream<Uint8Array, PlatformError.PlatformError>
  /** Whether the child keeps the runner's event loop alive. */
  readonly ref: (referenced: boolean) => void
}

/**
 * Starts a command; calls `started` or `failed`, once, maybe at once, then `exited` once the process has exited
 * (its output may stay open while other members of its group hold it).
 */
export type Start = (
  request: Request,
  started: (child: Child) => void,
  failed: (error: StartError) => void,
  exited: (exit: Exit) => void
) => void

const errorCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : "UNKNOWN"
}

/**
 * `process.kill` without the stack trace of its error: every job signals its group once after the exit, and finding
 * it gone (ESRCH) is the usual outcome, whose stack would cost more than the syscall.
 */
const kill = (pid: number, signal: NodeJS.Signals | 0): void => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    process.kill(pid, signal)
  } finally {
    Error.stackTraceLimit = limit
  }
}

const signalGroup = (pid: number, hasExited: () => boolean, signal: NodeJS.Signals | 0): boolean => {
  try {
    kill(-pid, signal)
    return true
  } catch (error) {
    const code = errorCode(error)
    // A group whose remaining members are zombies (macOS) cannot be signalled but still exists.
    if (code === "EPERM") return true
    // No group: the process has not called setsid yet, or everything has exited. Once the runtime has reaped the
    // process its pid may belong to someone else, so it is signalled alone only before that.
    if (code !== "ESRCH" || hasExited()) return false
    try {
      kill(pid, signal)
      return true
    } catch {
      return false
    }
  }
}

const cwdMissing = (cwd: string | undefined): boolean => {
  if (cwd === undefined) return false
  try {
    return !fs.statSync(cwd).isDirectory()
  } catch {
    return true
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Node: node:child_process, `detached` (setsid in the child before exec)

const startNode: Start = (request, started, failed, exited) => {
  let child: NodeChildProcess.ChildProcess
  try {
    child = NodeChildProcess.spawn(request.program, request.args as Array<string>, {
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
      ...(request.env === undefined ? {} : { env: request.env }),
      stdio: [request.stdin, request.stdout, request.stderr],
      detached: true
    })
  } catch (error) {
    // Most errors come as an `error` event; a few (EMFILE on some paths, invalid options) are thrown.
    return failed({ code: errorCode(error), cwd: false, cause: error })
  }
  let spawned = false
  const hasExited = () => child.exitCode !== null || child.signalCode !== null
  child.on("error", (error) => {
    // After the start, errors are pipe errors, which end the output streams.
    if (spawned) return
    // Node reports a missing cwd as a missing program (ENOENT, syscall "spawn <program>").
    failed({ code: errorCode(error), cwd: cwdMissing(request.cwd), cause: error })
  })
  const output = (readable: NodeJS.ReadableStream | null, name: string) => {
    if (readable === null) return Stream.empty
    const output = new Output(name, () => readable.pause(), () => readable.resume())
    readable.on("data", output.push)
    readable.on("end", () => output.end())
    readable.on("close", () => output.end())
    readable.on("error", output.end)
    return output.stream
  }
  child.on("spawn", () => {
    spawned = true
    started({
      pid: child.pid!,
      hasExited,
      kill: (signal) => signalGroup(child.pid!, hasExited, signal),
      stdout: output(child.stdout, "stdout"),
      stderr: output(child.stderr, "stderr"),
      ref: (referenced) => referenced ? child.ref() : child.unref()
    })
  })
  child.on("exit", (code, signal) => {
    if (spawned) exited({ code, signal })
  })
}

/** An output read from a web ReadableStream (Bun's and Deno's pipes), one chunk at a time, paused while the job lags. */
const webOutput = (readable: ReadableStream<Uint8Array> | null | undefined, name: string) => {
  if (readable == null) return Stream.empty
  const reader = readable.getReader()
  const read = (): void => {
    if (output.paused) return
    reader.read().then((result) => {
      if (result.done) return output.end()
      output.push(result.value)
      read()
    }, output.end)
  }
  const output = new Output(name, () => {}, read)
  read()
  return output.stream
}

// ---------------------------------------------------------------------------------------------------------------
// Bun: Bun.spawn (posix_spawn), `detached` (a new session, POSIX_SPAWN_SETSID)

interface BunSubprocess {
  readonly pid: number
  readonly stdout: ReadableStream<Uint8Array> | number | undefined
  readonly stderr: ReadableStream<Uint8Array> | number | undefined
  ref(): void
  unref(): void
}

interface BunApi {
  readonly spawn: (argv: Array<string>, options: {
    readonly cwd?: string
    readonly env?: Readonly<Record<string, string>>
    readonly stdin: "ignore" | "inherit"
    readonly stdout: "pipe" | "ignore" | "inherit"
    readonly stderr: "pipe" | "ignore" | "inherit"
    readonly detached: boolean
    readonly onExit: (subprocess: unknown, exitCode: number | null, signalCode: string | null, error?: unknown) => void
  }) => BunSubprocess
}

const startBun = (bun: BunApi): Start => (request, started, failed, exited) => {
  let exit: Exit | undefined
  let child: BunSubprocess
  let spawned = false
  try {
    child = bun.spawn([request.program, ...request.args], {
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
      ...(request.env === undefined ? {} : { env: request.env }),
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      detached: true,
      // Called once the process is reaped: from then on its pid may be another's, and is not signalled alone.
      onExit: (_, exitCode, signalCode) => {
        exit = signalCode === null ? { code: exitCode, signal: null } : { code: null, signal: signalCode }
        if (spawned) exited(exit)
      }
    })
  } catch (error) {
    // Bun throws what Node reports as an `error` event: ENOENT for a missing program or cwd, EACCES, ...
    const code = errorCode(error)
    return failed({ code, cwd: code === "ENOENT" && cwdMissing(request.cwd), cause: error })
  }
  const hasExited = () => exit !== undefined
  spawned = true
  started({
    pid: child.pid,
    hasExited,
    kill: (signal) => signalGroup(child.pid, hasExited, signal),
    stdout: webOutput(request.stdout === "pipe" ? child.stdout as ReadableStream<Uint8Array> : null, "stdout"),
    stderr: webOutput(request.stderr === "pipe" ? child.stderr as ReadableStream<Uint8Array> : null, "stderr"),
    ref: (referenced) => referenced ? child.ref() : child.unref()
  })
  // Reaped before `started` returned (onExit may run during the spawn call when the program exits at once).
  if (exit !== undefined) exited(exit)
}

// ---------------------------------------------------------------------------------------------------------------
// Deno: Deno.Command (posix_spawn, vfork) through `setsid`, which makes the group and then execs the program

interface DenoChildProcess {
  readonly pid: number
  readonly stdout: ReadableStream<Uint8Array>
  readonly stderr: ReadableStream<Uint8Array>
  readonly status: Promise<{ readonly code: number; readonly signal: string | null }>
  ref(): void
  unref(): void
}

interface DenoApi {
  readonly Command: new(command: string, options: {
    readonly args: ReadonlyArray<string>
    readonly cwd?: string
    readonly env?: Record<string, string>
    readonly clearEnv?: boolean
    readonly stdin: "null" | "inherit"
    readonly stdout: "piped" | "null" | "inherit"
    readonly stderr: "piped" | "null" | "inherit"
    readonly detached?: boolean
  }) => { spawn(): DenoChildProcess }
}

const isExecutableFile = (file: string): "yes" | "missing" | "denied" => {
  // existsSync first: a thrown ENOENT costs more than the check itself (Deno), and most PATH entries miss.
  if (!fs.existsSync(file)) return "missing"
  try {
    if (!fs.statSync(file).isFile()) return "missing"
    fs.accessSync(file, fs.constants.X_OK)
    return "yes"
  } catch (error) {
    return errorCode(error) === "EACCES" ? "denied" : "missing"
  }
}

/**
 * Programs found before, by PATH, directory and name: most jobs run the same few, and the search costs more than the
 * start of `true`. Only hits are remembered; a program deleted since makes `setsid` exit with 127 and say so.
 */
const foundPrograms = new Set<string>()

/**
 * Where `execvp` would find `program` with this PATH, as an errno code when it would not: the program must be
 * checked before it is started, since `setsid` would report it only as an exit code and a message.
 */
const lookUp = (program: string, pathVariable: string | undefined, cwd: string | undefined): string | undefined => {
  if (program === "") return "ENOENT"
  const key = `${pathVariable}\0${path.resolve(cwd ?? ".")}\0${program}`
  if (foundPrograms.has(key)) return undefined
  const missing = search(program, pathVariable, cwd)
  if (missing === undefined) {
    if (foundPrograms.size >= 1000) foundPrograms.clear()
    foundPrograms.add(key)
  }
  return missing
}

const search = (program: string, pathVariable: string | undefined, cwd: string | undefined): string | undefined => {
  if (program.includes("/")) {
    const result = isExecutableFile(path.resolve(cwd ?? ".", program))
    return result === "yes" ? undefined : result === "denied" ? "EACCES" : "ENOENT"
  }
  let denied = false
  // execvp's default when PATH is unset; an empty entry means the current directory.
  for (const dir of (pathVariable ?? "/bin:/usr/bin").split(":")) {
    const result = isExecutableFile(path.resolve(cwd ?? ".", dir === "" ? "." : dir, program))
    if (result === "yes") return undefined
    if (result === "denied") denied = true
  }
  return denied ? "EACCES" : "ENOENT"
}

let setsidPath: string | null | undefined

/** The `setsid` program (util-linux, busybox), or null where there is none (macOS). */
const setsid = (): string | null => {
  if (setsidPath === undefined) {
    const dirs = [...(process.env["PATH"] ?? "").split(":").filter((dir) => dir.startsWith("/")), "/usr/bin", "/bin"]
    setsidPath = dirs.map((dir) => path.join(dir, "setsid")).find((file) => isExecutableFile(file) === "yes") ?? null
  }
  return setsidPath
}

const denoStdio = (option: "pipe" | "ignore" | "inherit") => option === "pipe" ? "piped" : option === "ignore" ? "null" : "inherit"

const startDeno = (deno: DenoApi): Start => (request, started, failed, exited) => {
  const trampoline = setsid()
  if (trampoline !== null) {
    const missing = lookUp(request.program, request.env?.["PATH"] ?? process.env["PATH"], request.cwd)
    if (missing !== undefined) {
      const cwd = cwdMissing(request.cwd)
      return failed({ code: cwd ? "ENOENT" : missing, cwd, cause: undefined })
    }
  }
  let child: DenoChildProcess
  try {
    child = new deno.Command(trampoline ?? request.program, {
      args: trampoline === null ? request.args : ["--", request.program, ...request.args],
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
      ...(request.env === undefined ? {} : { env: { ...request.env }, clearEnv: true }),
      stdin: request.stdin === "ignore" ? "null" : "inherit",
      stdout: denoStdio(request.stdout),
      stderr: denoStdio(request.stderr),
      ...(trampoline === null ? { detached: true } : {})
    }).spawn()
  } catch (error) {
    const cwd = cwdMissing(request.cwd)
    const name = (error as { name?: string } | undefined)?.name
    const code = cwd || name === "NotFound" ? "ENOENT" : name === "PermissionDenied" ? "EACCES" : errorCode(error)
    return failed({ code, cwd, cause: error })
  }
  let exit: Exit | undefined
  const hasExited = () => exit !== undefined
  child.status.then((status) => {
    exit = status.signal === null ? { code: status.code, signal: null } : { code: null, signal: status.signal }
    exited(exit)
  })
  started({
    pid: child.pid,
    hasExited,
    kill: (signal) => signalGroup(child.pid, hasExited, signal),
    stdout: webOutput(request.stdout === "pipe" ? child.stdout : null, "stdout"),
    stderr: webOutput(request.stderr === "pipe" ? child.stderr : null, "stderr"),
    ref: (referenced) => referenced ? child.ref() : child.unref()
  })
}

/** The way to start commands on this runtime. */
export const start: Start = "Deno" in globalThis
  ? startDeno((globalThis as unknown as { Deno: DenoApi }).Deno)
  : "Bun" in globalThis
  ? startBun((globalThis as unknown as { Bun: BunApi }).Bun)
  : startNode
