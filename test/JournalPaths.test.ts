/**
 * Journal paths that cannot be used, through the real CLI on each runtime: the run stops at once with exit 2 and the
 * system's own reason (never a spin at 100% CPU), and a damaged journal says what to do.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, it } from "vitest"
import { runnerAsync, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-journal-paths-")

/** Runs test/fixtures/ok.ts with `--journal file`; a runner still alive after 20 s is killed and fails the test. */
const runWith = async (journal: string, runtime: RuntimeName) => {
  const child = runnerAsync(["test/fixtures/ok.ts", "--journal", journal, "--log-format", "plain"], {}, runtime)
  const started = Date.now()
  const timer = setTimeout(() => child.process.kill("SIGKILL"), 20_000)
  const result = await child.done
  clearTimeout(timer)
  return { ...result, millis: Date.now() - started }
}

const expectRefused = (result: Awaited<ReturnType<typeof runWith>>, journal: string, reason: RegExp) => {
  assert.strictEqual(result.status, 2, `${result.stdout}\n${result.stderr}`)
  assert.include(result.stderr, journal)
  assert.match(result.stderr, reason)
  assert.notMatch(result.stdout, /run \S+ of ok/, "nothing ran")
}

describe.each<RuntimeName>(["node", "bun", "deno"])("a journal path that cannot be used, on %s", (runtime) => {
  it("under /proc (mkdir says ENOENT while the parent exists): exit 2 with ENOENT at once, no spin", async () => {
    const journal = "/proc/nope/j.db"
    const result = await runWith(journal, runtime)
    expectRefused(result, journal, /ENOENT/)
    assert.isBelow(result.millis, 15_000)
  })

  it("whose folder is a regular file: exit 2 with ENOTDIR", async () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "file"), "")
    for (const journal of [path.join(dir, "file", "j.db"), path.join(dir, "file", "deeper", "j.db")]) {
      expectRefused(await runWith(journal, runtime), journal, /ENOTDIR/)
    }
  })

  it("in a folder nobody may write (/sys): exit 2 with EACCES", async () => {
    expectRefused(await runWith("/sys/j.db", runtime), "/sys/j.db", /EACCES/)
  })

  it("a file that is not a database: exit 2, says so and what to do", async () => {
    const journal = path.join(tempDir(), "j.db")
    fs.writeFileSync(journal, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256)))
    const result = await runWith(journal, runtime)
    expectRefused(result, journal, /file is not a database/)
    assert.match(result.stderr, /move it aside/i)
    assert.include(result.stderr, `runner doctor --journal ${journal}`)
  })

  it("a damaged journal: exit 2 with 'database disk image is malformed' and what to do", async () => {
    const journal = path.join(tempDir(), "j.db")
    const db = new DatabaseSync(journal)
    db.exec("CREATE TABLE t (x); INSERT INTO t VALUES (1)")
    db.close()
    // Overwrite the schema page after the 100-byte header: the file still says it is SQLite.
    const fd = fs.openSync(journal, "r+")
    fs.writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 100)
    fs.closeSync(fd)
    const result = await runWith(journal, runtime)
    expectRefused(result, journal, /database disk image is malformed/)
    assert.match(result.stderr, /restore it from a backup/)
    assert.include(result.stderr, `runner doctor --journal ${journal}`)
  })
})
