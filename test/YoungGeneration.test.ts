/**
 * bin/runner.js caps Node's young generation at 8 MiB semi-spaces (issue 18: a 10,000-job run peaked at 270-290 MB
 * RSS with V8's default of 32 MiB): a job that allocates the way a large run does, in many turns of the event loop,
 * sees a new space of at most 16 MiB under the runner, and the default growth when the user sets a semi-space flag.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { runner } from "./support/spawn.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "young-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

// 300 turns of 40,000 small objects each, a rolling tenth of them kept alive a while: enough surviving allocation
// for V8 to grow its young generation to the default 64 MiB when nothing caps it.
fs.writeFileSync(
  path.join(dir, "allocate.ts"),
  `import * as fs from "node:fs"
import * as v8 from "node:v8"
import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0))
let kept: Array<unknown> = []

export default Dag.make("young", [
  Job.make("allocate", {
    run: () =>
      Effect.promise(async () => {
        for (let round = 0; round < 300; round++) {
          for (let i = 0; i < 40_000; i++) {
            const item = { round, i, tags: [String(i), round] }
            if (i % 10 === 0) kept.push(item)
          }
          if (kept.length > 40_000) kept = kept.slice(20_000)
          await turn()
        }
        const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!
        fs.writeFileSync(process.env.YOUNG_OUT!, String(space.space_size))
      })
  })
])
`
)

const newSpaceAfter = (env: Record<string, string>) => {
  const out = path.join(dir, `new-space-${Object.keys(env).length}.txt`)
  const result = runner([path.join(dir, "allocate.ts"), "--journal", "none"], { cwd: dir, env: { YOUNG_OUT: out, ...env } })
  assert.strictEqual(result.status, 0, result.stderr)
  return Number(fs.readFileSync(out, "utf8"))
}

describe("Node's young generation under the runner", () => {
  it("stops growing at 8 MiB semi-spaces (a new space of 16 MiB)", () => {
    const bytes = newSpaceAfter({})
    assert.isAtMost(bytes, 16 * 1024 * 1024)
    assert.isAtLeast(bytes, 4 * 1024 * 1024, "it still grows past its smallest size")
  }, 60_000)

  it("leaves the young generation to the user's own semi-space flag", () => {
    const bytes = newSpaceAfter({ NODE_OPTIONS: "--max-semi-space-size=32" })
    assert.isAbove(bytes, 16 * 1024 * 1024)
  }, 60_000)
})
