/**
 * Tests that need a system tool (promtool, a Pushgateway, git; later PostgreSQL or Chromium). On a machine without it
 * they are skipped, with one line naming the tool and how to install it, so `npm ci && npm test` passes on a fresh
 * machine. With `CI` set they are required: a missing tool is a failing test (.ci/run installs the tools).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { it } from "vitest"

/** Whether `CI` is set (to anything but "", "0" or "false"), making every tool required. */
export const isCI = (env: NodeJS.ProcessEnv = process.env): boolean => {
  const ci = env["CI"]?.trim().toLowerCase()
  return ci !== undefined && ci !== "" && ci !== "0" && ci !== "false"
}

/** Whether an executable `name` is in one of the folders of `PATH`. */
export const onPath = (name: string, env: NodeJS.ProcessEnv = process.env): boolean =>
  (env["PATH"] ?? "").split(path.delimiter).some((dir) => {
    if (dir === "") return false
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK)
      return fs.statSync(path.join(dir, name)).isFile()
    } catch {
      return false
    }
  })

export interface Requirement {
  /** True when the tool is missing and CI is not set: pass to `it.skipIf` / `describe.skipIf`. */
  readonly skip: boolean
}

/**
 * Call at the top of a test file: `const promtool = requireTool("promtool", "apt-get install prometheus")`, then
 * `it.skipIf(promtool.skip)(...)` for each test that needs it. Missing without CI: one line on stderr, tests skipped.
 * Missing with CI: a failing test saying so (and the dependent tests run, and fail, too).
 */
export const requireTool = (name: string, install: string, env: NodeJS.ProcessEnv = process.env): Requirement => {
  if (onPath(name, env)) return { skip: false }
  if (isCI(env)) {
    it(`${name} is installed (required because CI is set)`, () => {
      throw new Error(`${name} not found on PATH; install it: ${install}`)
    })
    return { skip: false }
  }
  process.stderr.write(`skipped: ${name} not found (${install}); CI=1 makes it required\n`)
  return { skip: true }
}
