/**
 * What differs between Node, Bun and Deno, and nothing else: which runtime this is, how task files are imported
 * so that `effect` and `effect-runner` resolve to the runner's own copy, and process-level facts.
 */
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import * as Processes from "../processes.ts"
import * as render from "../render.ts"
import * as stall from "../stall.ts"

export type Name = "node" | "bun" | "deno"

export const name: Name = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

export const version: string = name === "bun"
  ? `bun ${(globalThis as any).Bun.version}`
  : name === "deno"
  ? `deno ${(globalThis as any).Deno.version.deno}`
  : `node ${process.versions.node}`

/** The default job concurrency: the number of CPUs. */
export const cpuCount = (): number => Math.max(1, os.availableParallelism?.() ?? os.cpus().length)

/** Whether the runner runs compiled (from dist/), rather than from its TypeScript sources (a clone). */
const compiled = import.meta.url.endsWith(".js")

let prepared: Promise<void> | undefined

/**
 * Installs the runtime's import hooks for task files, once; every caller, also a concurrent one (task files loaded
 * together), waits until they are installed. Cheap: no transpiler is loaded until a file needs it.
 */
export const prepareTaskImports = (): Promise<void> => prepared ??= install()

const install = async (): Promise<void> => {
  if (name === "bun") (await import("./bunPlugin.ts")).register()
  else if (name === "node" || compiled) (await import("./nodeHooks.ts")).register()
  // Deno from the sources (a clone): deno.json (found next to src/bin.ts whatever the current directory) maps
  // `effect`, `@effect/platform-node` and `effect-runner` for every importer, uses the runner's node_modules and turns
  // on sloppy imports. Compiled, Deno runs the module hooks, as Node does.
}

/**
 * Imports a task file (after `prepareTaskImports`). A failure is rethrown as Node would report it, so the loader
 * prints the same thing on every runtime: a parse error becomes a `SyntaxError` whose stack starts with `file:line`
 * (Bun throws an AggregateError of BuildMessages, Deno a TypeError whose message starts with "SyntaxError:"), Deno's
 * colours are removed, and Bun's ResolveMessage becomes a plain Error.
 */
export const importTaskFile = async (url: string): Promise<Record<string, unknown>> => {
  try {
    return await import(url)
  } catch (error) {
    throw name === "node" ? error : asNodeWould(error)
  }
}

const ansi = /\x1b\[[0-9;]*m/g

const syntaxError = (message: string, file: string, line: number, lineText: string | undefined): SyntaxError => {
  const error = new SyntaxError(message)
  error.stack = `${file}:${line}\n${lineText ?? ""}\n\nSyntaxError: ${message}`
  return error
}

const asNodeWould = (error: unknown): unknown => {
  if (!(error instanceof Error)) return error
  if (name === "bun") {
    const messages: ReadonlyArray<any> = error instanceof AggregateError ? error.errors : [error]
    const build = messages.find((m) => m?.name === "BuildMessage" && m.position != null)
    if (build !== undefined) {
      return syntaxError(build.message, build.position.file, build.position.line, build.position.lineText)
    }
    if (error.name === "ResolveMessage") {
      // It has no position, and its stack is its message again: without a stack the loader prints it once.
      return Object.defineProperties(new Error(error.message), {
        code: { value: (error as { code?: string }).code },
        stack: { value: undefined }
      })
    }
    return error
  }
  const message = error.message.replace(ansi, "")
  const stack = error.stack?.replace(ansi, "")
  const syntax = /^SyntaxError: ([^\n]*)[\s\S]*?\n\s*\d+ \| ?([^\n]*)[\s\S]*\bat (file:\/\/\S+?):(\d+):\d+\s*$/.exec(message)
  if (error instanceof TypeError && syntax !== null) {
    return syntaxError(syntax[1]!, fileURLToPath(syntax[3]!), Number(syntax[4]), syntax[2])
  }
  // Deno appends the importing location to the message ("\n    at file:///...:1:19"); the stack has it already.
  const cleaned = message.replace(/\n\s+at file:\/\/\S+$/, "")
  if (cleaned === error.message && stack === error.stack) return error
  return Object.defineProperties(error, { message: { value: cleaned }, stack: { value: stack } })
}

let signalHandler: ((count: number) => boolean) | undefined

/**
 * Lets a long-running command handle SIGINT/SIGTERM itself: `handler(n)` is called with the number of signals so far
 * and returns true when it took care of it (then runMain does not interrupt the program). Returns the unregister.
 */
export const onSignal = (handler: (count: number) => boolean): () => void => {
  signalHandler = handler
  return () => {
    if (signalHandler === handler) signalHandler = undefined
  }
}

/** After a second signal, how long the program has to finish its interruption (journal how the run ended). */
const FORCED_EXIT_MILLIS = 10_000

/**
 * Runs the program as the process: SIGINT/SIGTERM interrupt it (finalizers run, child processes get SIGTERM, then
 * SIGKILL after their grace) and exit 130. A second signal SIGKILLs every command's process group at once, so the
 * interruption ends now and still records how the run ended; the process exits 130 when it has, or 10 s later
 * whatever, or at a third signal. A program that can no longer make progress (see internal/stall.ts) exits 70 with
 * what each unfinished job waits for. Writes to a closed stdout (`runner ... | head`) are ignored.
 */
export const runMain = (
  program: import("effect/Effect").Effect<number>,
  runFork: (program: import("effect/Effect").Effect<number>) => {
    readonly addObserver: (f: (exit: import("effect/Exit").Exit<number>) => void) => void
    readonly interruptUnsafe: () => void
  }
): void => {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error
    })
  }
  const fiber = runFork(program)
  let signalled = false
  let forced = false
  let count = 0
  const onSignal = () => {
    count++
    // A program that stops by itself on a signal (the scheduler's graceful stop) says so; a third signal always exits.
    if (count < 3 && signalHandler?.(count) === true) return
    if (forced) {
      Processes.killAll()
      process.exit(130)
    }
    if (signalled) {
      // Nothing ignores SIGKILL: the commands' finalizers return at once and the journal is written before the exit.
      forced = true
      Processes.killAll()
      setTimeout(() => process.exit(130), FORCED_EXIT_MILLIS)
      return
    }
    signalled = true
    fiber.interruptUnsafe()
  }
  // The event loop is empty and the program has not finished: no fiber can ever resume (Effect keeps no handle open
  // for a fiber that waits), and the process would exit 0 with its work unfinished. Fail loudly instead.
  const onStall = () => {
    process.stderr.write(stall.message())
    process.exit(70)
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("beforeExit", onStall)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.off("beforeExit", onStall)
    const code = exit._tag === "Success" ? exit.value : signalled ? 130 : 70
    if (exit._tag === "Failure" && !signalled) process.stderr.write(`runner: internal error\n${render.cause(exit.cause)}\n`)
    process.exitCode = code
    // Exit now rather than wait for timers a task file may have left behind.
    process.stdout.write("", () => process.exit(code))
  })
}
