/**
 * The runner's command line run in this process: `main` of src/internal/cli/main.ts, the function bin/runner.js
 * starts, with the same argument parsing, messages and exit codes. For matrices of bad flags, where a spawned runner
 * would cost a runtime's start-up (about a second of CPU) per case; each such feature keeps a spawned test as well.
 * What it prints is captured: its own lines (process.stdout/stderr) and the CLI's (console.log/error). `env` is set in
 * this process's environment for the call and put back after.
 */
import * as Effect from "effect/Effect"
import { main } from "../../src/internal/cli/main.ts"
import { setEnv } from "./env.ts"
import type { Result } from "./spawn.ts"

export const runnerInProcess = async (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Promise<Result> => {
  let stdout = ""
  let stderr = ""
  const saved = { out: process.stdout.write, err: process.stderr.write, log: console.log, error: console.error }
  const restoreEnv = setEnv(env)
  const line = (parts: ReadonlyArray<unknown>) => parts.map(String).join(" ") + "\n"
  process.stdout.write = ((chunk: string | Uint8Array) => (stdout += String(chunk), true)) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => (stderr += String(chunk), true)) as typeof process.stderr.write
  console.log = (...parts: Array<unknown>) => void (stdout += line(parts))
  console.error = (...parts: Array<unknown>) => void (stderr += line(parts))
  try {
    const status = await Effect.runPromise(main(args))
    return { status, stdout, stderr }
  } finally {
    process.stdout.write = saved.out
    process.stderr.write = saved.err
    console.log = saved.log
    console.error = saved.error
    restoreEnv()
  }
}
