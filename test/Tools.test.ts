/**
 * Tests that need a system tool: skipped with one line naming the tool and how to install it when it is missing,
 * required (a failure) when CI is set. Checked by running vitest on a fixture test file as `npm test` would.
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { bins, root } from "./support/spawn.ts"
import { isCI, onPath } from "./support/tools.ts"

const vitest = (env: Record<string, string | undefined>) => {
  const { CI: _, ...inherited } = process.env
  const result = spawnSync(bins.node, [path.join(root, "node_modules/vitest/vitest.mjs"), "run", "--config", "test/fixtures/tools/vitest.config.ts"], {
    cwd: root,
    env: { ...inherited, NO_COLOR: "1", ...env },
    encoding: "utf8",
    timeout: 60_000
  })
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` }
}

describe("requireTool", () => {
  it("without CI: the tests needing a missing tool are skipped, with one line saying how to install it", () => {
    const result = vitest({})
    assert.strictEqual(result.status, 0, result.output)
    const lines = result.output.split("\n").filter((line) => line.startsWith("skipped: "))
    assert.deepStrictEqual(lines, [
      "skipped: runner-test-no-such-tool not found (apt-get install no-such-tool); CI=1 makes it required"
    ])
    assert.match(result.output, /Tests\s+1 passed \| 1 skipped \(2\)/)
  })

  it("with CI set: a missing tool fails the run, naming the tool", () => {
    const result = vitest({ CI: "1" })
    assert.strictEqual(result.status, 1, result.output)
    assert.match(result.output, /runner-test-no-such-tool is installed \(required because CI is set\)/)
    assert.match(result.output, /runner-test-no-such-tool not found on PATH; install it: apt-get install no-such-tool/)
    assert.notInclude(result.output, "skipped: ")
  })

  it("finds executables on PATH and reads CI as set unless empty, 0 or false", () => {
    assert.isTrue(onPath("sh", { PATH: `/nonexistent${path.delimiter}/bin${path.delimiter}/usr/bin` }))
    assert.isFalse(onPath("sh", { PATH: "/nonexistent" }))
    assert.isFalse(onPath("sh", {}))
    assert.deepStrictEqual(["1", "true", "yes", "", "0", "false", " False "].map((CI) => isCI({ CI })), [true, true, true, false, false, false, false])
    assert.isFalse(isCI({}))
  })
})
