/**
 * Starts a shell job's command in a process group of its own and signals that group: the one thing shell jobs need
 * from the runtime. Node and Bun use node:child_process; Deno uses `Deno.Command` through `setsid`, because Deno's
 * own way to start a new group (`detached`, also behind its node:child_process) forks the whole runtime, which costs
 * it three times as much as a plain spawn.
 */
import * as NodeChildProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export interface Request {
  readonly program: string
  readonly args: ReadonlyArray<string>
  /** The working directory. Default: the runner's. */
  readonly cwd: string | undefined
  /** Variables added to the runner's environment. Default: none. */
  readonly env: Readonly<Record<string, string>> | undefined
}

/** How the process ended: an exit code, or the signal that killed it. */
export interface Exit {
  readonly code: number | null
  readonly signal: string | null
}

/** What a started command reports, in this order: output chunks, then `exit`, then more output, then `close`. */
export interface Listener {
  readonly stdout: (chunk: Uint8Array) => void
  readonly stderr: (chunk: Uint8Array) => void
  /** The process has exited; its output stays open while other members of its group hold it. */
  readonly exit: (exit: Exit) => void
  /** The process has exited and its stdout and stderr are closed: nothing more comes. */
  readonly close: (exit: Exit) => void
}

/** Why a command did not start: the errno code (ENOENT, EACCES, ...) and whether its `cwd` was the problem. */
export interface StartError {
  readonly code: string
  readonly cwd: boolean
  readonly cause: unknown
}

export interface Child {
  readonly pid: number
  readonly hasExited: () => boolean
  /**
   * Sends `signal` (0 probes) to the process group, or to the process alone if it has not made its group yet.
   * Returns false when nothing received it.
   */
  readonly kill: (signal: NodeJS.Signals | 0) => boolean
  /** Stops reading output until `resume` (the listener gets lines faster than they are logged). */
  readonly pause: () => void
  readonly resume: () => void
}

/** Starts a command with stdin ignored and stdout/stderr piped; calls `started` or `failed`, once, maybe at once. */
export type Start = (
  request: Request,
  listener: Listener,
  started: (child: Child) => void,
  failed: (error: StartError) => void
) => void

const errorCode = (error: unknown): string => {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : "UNKNOWN"
}

const signalGroup = (pid: number, hasExited: () => boolean, signal: NodeJS.Signals | 0): boolean => {
  try {
    process.kill(-pid, signal)
    return true
  } catch (error) {
    const code = errorCode(error)
    // A group whose remaining members are zombies (macOS) cannot be signalled but still exists.
    if (code === "EPERM") return true
    // No group: the process has not called setsid yet, or everything has exited. Once the runtime has reaped the
    // process its pid may belong to someone else, so it is signalled alone only before that.
    if (code !== "ESRCH" || hasExited()) return false
    try {
      process.kill(pid, signal)
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
// Node and Bun: node:child_process, `detached` (setsid in the child before exec)

const startNode: Start = (request, listener, started, failed) => {
  let child: NodeChildProcess.ChildProcess
  try {
    child = NodeChildProcess.spawn(request.program, request.args as Array<string>, {
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
      ...(request.env === undefined ? {} : { env: { ...process.env, ...request.env } }),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true
    })
  } catch (error) {
    // Most errors come as an `error` event; a few (EMFILE on some paths, invalid options) are thrown.
    return failed({ code: errorCode(error), cwd: false, cause: error })
  }
  let spawned = false
  const hasExited = () => child.exitCode !== null || child.signalCode !== null
  child.on("error", (error) => {
    // After the start, errors are pipe errors, and `close` follows.
    if (spawned) return
    // Node reports a missing cwd as a missing program (ENOENT, syscall "spawn <program>").
    failed({ code: errorCode(error), cwd: cwdMissing(request.cwd), cause: error })
  })
  child.on("spawn", () => {
    spawned = true
    started({
      pid: child.pid!,
      hasExited,
      kill: (signal) => signalGroup(child.pid!, hasExited, signal),
      pause: () => {
        child.stdout!.pause()
        child.stderr!.pause()
      },
      resume: () => {
        child.stdout!.resume()
        child.stderr!.resume()
      }
    })
  })
  // Null only when the start failed for lack of file descriptors (EMFILE, ENFILE).
  child.stdout?.on("data", listener.stdout)
  child.stderr?.on("data", listener.stderr)
  child.on("exit", (code, signal) => {
    if (spawned) listener.exit({ code, signal })
  })
  child.on("close", (code, signal) => {
    if (spawned) listener.close({ code, signal })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Deno: Deno.Command (posix_spawn, vfork) through `setsid`, which makes the group and then execs the program

interface DenoChildProcess {
  readonly pid: number
  readonly stdout: ReadableStream<Uint8Array>
  readonly stderr: ReadableStream<Uint8Array>
  readonly status: Promise<{ readonly code: number; readonly signal: string | null }>
}

interface DenoApi {
  readonly Command: new(command: string, options: {
    readonly args: ReadonlyArray<string>
    readonly cwd?: string
    readonly env?: Record<string, string>
    readonly stdin: "null"
    readonly stdout: "piped"
    readonly stderr: "piped"
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

/** Lets readers wait while the output is paused. */
class Gate {
  private waiting: Promise<void> | undefined = undefined
  private open: (() => void) | undefined = undefined

  readonly pause = () => {
    this.waiting ??= new Promise((resolve) => (this.open = resolve))
  }
  readonly resume = () => {
    const open = this.open
    this.waiting = this.open = undefined
    open?.()
  }
  get closed(): Promise<void> | undefined {
    return this.waiting
  }
}

const drain = (stream: ReadableStream<Uint8Array>, onChunk: (chunk: Uint8Array) => void, gate: Gate): Promise<void> => {
  const reader = stream.getReader()
  const read = (): Promise<void> =>
    reader.read().then((result) => {
      if (result.done) return
      onChunk(result.value)
      return next()
    })
  const next = (): Promise<void> => gate.closed?.then(read) ?? read()
  // A read error ends the stream as a close would; the exit status still decides how the command went.
  return next().catch(() => {})
}

const startDeno = (deno: DenoApi): Start => (request, listener, started, failed) => {
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
      ...(request.env === undefined ? {} : { env: { ...request.env } }),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
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
  const gate = new Gate()
  const output = Promise.all([drain(child.stdout, listener.stdout, gate), drain(child.stderr, listener.stderr, gate)])
  const status = child.status.then((status) => {
    exit = status.signal === null ? { code: status.code, signal: null } : { code: null, signal: status.signal }
    listener.exit(exit)
    return exit
  })
  Promise.all([status, output]).then(([exit]) => listener.close(exit))
  started({
    pid: child.pid,
    hasExited,
    kill: (signal) => signalGroup(child.pid, hasExited, signal),
    pause: gate.pause,
    resume: gate.resume
  })
}

/** The way to start commands on this runtime. */
export const start: Start = "Deno" in globalThis ? startDeno((globalThis as unknown as { Deno: DenoApi }).Deno) : startNode
