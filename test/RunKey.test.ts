/** `--key`: an empty or blank run key is refused before anything runs (a failing `$(date ...)` in cron passes ""). */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-key-")

describe("runner <file> --key", () => {
  it.each([["an empty", ""], ["a blank", "  \t"]])("%s key exits 2 with a message, runs nothing and journals nothing", (_, key) => {
    const journal = path.join(tempDir(), "j.db")
    const result = runner(["test/fixtures/ok.ts", "--journal", journal, "--key", key, "--log-format", "plain"])
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.match(result.stderr, /^runner: --key: must not be empty or blank/m)
    assert.notMatch(result.stdout, /started/, "no job ran")
    assert.isFalse(fs.existsSync(journal), "no journal written")
  })

  it("a key with text runs, and the same key does not run twice", () => {
    const journal = path.join(tempDir(), "j.db")
    const first = runner(["test/fixtures/ok.ts", "--journal", journal, "--key", "2026-01-01T00:00", "--log-format", "plain"])
    assert.strictEqual(first.status, 0, first.stdout + first.stderr)
    const second = runner(["test/fixtures/ok.ts", "--journal", journal, "--key", "2026-01-01T00:00", "--log-format", "plain"])
    assert.strictEqual(second.status, 0, second.stdout + second.stderr)
    assert.match(second.stdout, /already succeeded; nothing to do/)
  })
})
