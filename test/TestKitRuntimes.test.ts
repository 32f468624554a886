/**
 * The test kit's examples (examples/testing/): the vitest file the README shows runs here, and the same DAG's tests
 * run under `bun test` and `deno test` (the kit depends on no test runner). The README shows the vitest file verbatim.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { bins, root } from "./support/spawn.ts"
// Registers the example's own tests in this file.
import "../examples/testing/etl.test.ts"

const run = (command: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } })
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` }
}

describe("the test kit's examples", () => {
  it("runs under bun test", () => {
    const result = run(bins.bun, ["test", "examples/testing/etl.bun.test.ts"])
    assert.strictEqual(result.status, 0, result.output)
    assert.match(result.output, /1 pass/)
    assert.match(result.output, /0 fail/)
  })

  it("runs under deno test", () => {
    const result = run(bins.deno, ["test", "-A", "--no-check", "examples/testing/etl.deno.test.ts"])
    assert.strictEqual(result.status, 0, result.output)
    assert.match(result.output, /ok \| 1 passed \| 0 failed/)
  })

  it("the README's \"Testing your jobs\" shows examples/testing/etl.ts and etl.test.ts verbatim", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    for (const file of ["examples/testing/etl.ts", "examples/testing/etl.test.ts"]) {
      const block = new RegExp(`<!-- test-example: ${file.replace(/\./g, "\\.")} -->\\n\`\`\`ts\\n([\\s\\S]*?)\\n\`\`\``).exec(readme)
      assert.isNotNull(block, `README has no block for ${file}`)
      assert.strictEqual(block![1], fs.readFileSync(path.join(root, file), "utf8").trimEnd(), `${file} differs from its README block`)
    }
  })
})
