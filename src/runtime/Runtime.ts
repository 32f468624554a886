/**
 * What differs between Node, Bun and Deno, and nothing else: which runtime this is, how task files are imported
 * so that `effect` and `effect-runner` resolve to the runner's own copy, and process-level facts.
 */
import * as os from "node:os"

export type Name = "node" | "bun" | "deno"

export const name: Name = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"

export const version: string = name === "bun"
  ? `bun ${(globalThis as any).Bun.version}`
  : name === "deno"
  ? `deno ${(globalThis as any).Deno.version.deno}`
  : `node ${process.versions.node}`

/** The default job concurrency: the number of CPUs. */
export const cpuCount = (): number => Math.max(1, os.availableParallelism?.() ?? os.cpus().length)

let prepared = false

/** Installs the runtime's import hooks for task files, once. Cheap: no transpiler is loaded until a file needs it. */
export const prepareTaskImports = async (): Promise<void> => {
  if (prepared) return
  prepared = true
  if (name === "node") (await import("./nodeHooks.ts")).register()
  else if (name === "bun") (await import("./bunPlugin.ts")).register()
  // Deno: deno.json maps `effect` and `effect-runner` and turns on sloppy imports; nothing to do at run time.
}

/**
 * Runs the program as the process: SIGINT/SIGTERM interrupt it (finalizers run, child processes are killed) and
 * exit 130; a second signal exits at once. Writes to a closed stdout (`runner ... | head`) are ignored.
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
  const onSignal = () => {
    if (signalled) process.exit(130)
    signalled = true
    fiber.interruptUnsafe()
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    const code = exit._tag === "Success" ? exit.value : signalled ? 130 : 70
    if (exit._tag === "Failure" && !signalled) process.stderr.write(`runner: internal error\n${String(exit.cause)}\n`)
    process.exitCode = code
    // Exit now rather than wait for timers a task file may have left behind.
    process.stdout.write("", () => process.exit(code))
  })
}
