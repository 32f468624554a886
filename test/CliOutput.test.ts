/** What the real `runner` prints where: JSON-only stdout in json mode, folders given as task files, the run's audit. */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { root, runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-output-")
const fixture = (name: string) => path.join(root, "test/fixtures", `${name}.ts`)

describe("--log-format json: stdout holds only JSON lines, whatever the level", () => {
  it.each<RuntimeName>(["node", "bun", "deno"])("a fresh journal at --log-level debug (migrations included), on %s", (runtime) => {
    const dir = tempDir()
    for (const level of ["debug", "info"]) {
      const result = runner([fixture("ok"), "--journal", path.join(dir, `${level}.db`), "--log-format", "json", "--log-level", level], {
        runtime,
        cwd: dir
      })
      assert.strictEqual(result.status, 0, result.stderr)
      const lines = result.stdout.trimEnd().split("\n")
      for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), undefined, `not JSON: ${line}`)
      const parsed = lines.map((line) => JSON.parse(line))
      assert.strictEqual(parsed.at(-1).event, "RunFinished")
      // At debug, the journal's migrations are shown as the runner's own JSON log lines; at info, not at all.
      const migrations = parsed.filter((l) => l.event === "Log" && /^Running migration/.test(l.message))
      if (level === "debug") {
        assert.isAbove(migrations.length, 0, result.stdout)
        assert.deepInclude(migrations[0], { level: "debug", message: "Running migration migration_name=journal migration_id=1" })
      } else assert.strictEqual(migrations.length, 0)
    }
  }, 60_000)

  it("operator commands' --json documents stay parseable at --log-level debug (Effect's own lines go to stderr)", () => {
    const dir = tempDir()
    const journal = path.join(dir, "j.db")
    assert.strictEqual(runner([fixture("ok"), "--journal", journal], { cwd: dir }).status, 0)
    const history = runner(["history", "--journal", journal, "--json", "--log-level", "debug"], { cwd: dir })
    assert.strictEqual(history.status, 0, history.stderr)
    assert.strictEqual(JSON.parse(history.stdout).runs.length, 1)
    assert.match(history.stderr, /Migrations complete/)
  })
})
