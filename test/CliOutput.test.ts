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
    assert.match(history.stderr, /journal schema \d+ is current: no migration to run/)
  })
})

describe("a folder given as the task file", () => {
  it("exits 2 saying it is a folder, listing its task files (not sub-folders, not other files)", () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "mytasks", "nested"), { recursive: true })
    for (const name of ["nightly.ts", "etl.mts", "types.d.ts", "README.md", "nested/deep.ts"]) {
      fs.writeFileSync(path.join(dir, "mytasks", name), "")
    }
    const result = runner(["mytasks/"], { cwd: dir })
    assert.strictEqual(result.status, 2, result.stderr)
    assert.strictEqual(result.stdout, "")
    assert.strictEqual(
      result.stderr,
      "runner: mytasks/: is a folder, not a task file; give one of its task files:\n  mytasks/etl.mts\n  mytasks/nightly.ts\n"
    )
    const none = runner(["graph", "mytasks/nested"], { cwd: dir })
    assert.strictEqual(none.status, 2)
    assert.strictEqual(none.stderr, "runner: mytasks/nested: is a folder, not a task file; give one of its task files:\n  mytasks/nested/deep.ts\n")
    fs.rmSync(path.join(dir, "mytasks", "nested", "deep.ts"))
    const bare = runner(["mytasks/nested"], { cwd: dir })
    assert.strictEqual(bare.stderr, "runner: mytasks/nested: is a folder, not a task file, and holds no task files (*.ts)\n")
  })
})

describe("the audit of a run names a task file git does not track as untracked", () => {
  it("an untracked task file in a git repository: no commit in show --json or show, which says untracked", () => {
    const dir = tempDir()
    const git = (...args: ReadonlyArray<string>) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir, encoding: "utf8" })
    git("init", "-q")
    fs.writeFileSync(path.join(dir, "tracked.ts"), fs.readFileSync(fixture("ok"), "utf8").replace(`Dag.make("ok"`, `Dag.make("tracked"`))
    git("add", "tracked.ts")
    git("commit", "-q", "-m", "tasks")
    fs.writeFileSync(path.join(dir, "scratch.ts"), fs.readFileSync(fixture("ok"), "utf8"))
    const commit = git("rev-parse", "HEAD").trim()
    const journal = path.join(dir, "j.db")
    const show = (file: string) => {
      const run = runner([file, "--journal", journal], { cwd: dir })
      assert.strictEqual(run.status, 0, run.stderr)
      const runId = /^run (\S+) succeeded/m.exec(run.stdout)![1]!
      return {
        json: JSON.parse(runner(["show", runId, "--journal", journal, "--json"], { cwd: dir }).stdout),
        text: runner(["show", runId, "--journal", journal], { cwd: dir }).stdout
      }
    }
    const scratch = show("scratch.ts")
    assert.deepInclude(scratch.json.executions[0], { gitTracked: false })
    assert.notProperty(scratch.json.executions[0], "gitCommit")
    assert.match(scratch.text, /scratch\.ts \(untracked: not in git\)$/m)
    assert.notInclude(scratch.text, commit.slice(0, 12))
    const tracked = show("tracked.ts")
    assert.deepInclude(tracked.json.executions[0], { gitTracked: true, gitCommit: commit, gitDirty: false })
    assert.match(tracked.text, new RegExp(`tracked\\.ts at commit ${commit.slice(0, 12)}$`, "m"))
  })
})
