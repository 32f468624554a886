/** `runner logs` of a run that printed a lot: every line, in order, in bounded memory, on each runtime. */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import { spawnSync } from "node:child_process"
import { runnerCommand, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-logs-")
const LINES = 200_000

/** The runner, with room for its large output (spawnSync keeps 1 MB by default). */
const runner = (args: ReadonlyArray<string>, options: { cwd: string; env?: Record<string, string>; runtime?: RuntimeName }) => {
  const [command, ...prefix] = runnerCommand(options.runtime ?? "node")
  const result = spawnSync(command!, [...prefix, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 90_000
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe("runner logs of a job that printed 200,000 lines", () => {
  let dir: string
  let journal: string
  let runId: string

  beforeAll(() => {
    dir = tempDir()
    journal = path.join(dir, "j.db")
    fs.writeFileSync(
      path.join(dir, "chatty.ts"),
      `import { Dag, Job } from "effect-runner"\nexport default Dag.make("chatty", [Job.shell("print", ["seq", "1", "${LINES}"])])\n`
    )
    const run = runner([path.join(dir, "chatty.ts"), "--journal", journal], { cwd: dir })
    assert.strictEqual(run.status, 0, run.stderr)
    runId = /^run (\S+) succeeded/m.exec(run.stdout)![1]!
  }, 120_000)

  // A heap far smaller than the lines (the JSON document is ~30 MB): only paging through them fits.
  const capped = { NODE_OPTIONS: "--max-old-space-size=48" }

  it("prints every line in order, aligned, without a crash, in a 48 MB heap (Node)", () => {
    const result = runner(["logs", runId, "--journal", journal], { cwd: dir, env: capped })
    assert.strictEqual(result.status, 0, result.stderr.slice(0, 2000))
    const lines = result.stdout.split("\n")
    assert.strictEqual(lines.pop(), "")
    assert.strictEqual(lines.length, LINES)
    lines.forEach((line, i) => {
      if (!line.endsWith(`  print#1  info  ${i + 1}`)) assert.fail(`line ${i + 1}: ${line}`)
    })
  }, 60_000)

  it("--json is one document with every line, in a 48 MB heap (Node)", () => {
    const result = runner(["logs", runId, "--journal", journal, "--json"], { cwd: dir, env: capped })
    assert.strictEqual(result.status, 0, result.stderr.slice(0, 2000))
    const doc = JSON.parse(result.stdout)
    assert.deepStrictEqual(Object.keys(doc), ["journal", "runId", "jobId", "lines"])
    assert.strictEqual(doc.runId, runId)
    assert.strictEqual(doc.lines.length, LINES)
    assert.deepStrictEqual(doc.lines[LINES - 1], { ...doc.lines[LINES - 1], jobId: "print", attempt: 1, level: "info", message: String(LINES) })
    doc.lines.forEach((line: { message: string }, i: number) => {
      if (line.message !== String(i + 1)) assert.fail(`line ${i + 1}: ${line.message}`)
    })
  }, 60_000)

  it.each<RuntimeName>(["bun", "deno"])("prints every line on %s too, text and --json", (runtime) => {
    const text = runner(["logs", runId, "--journal", journal], { cwd: dir, runtime })
    assert.strictEqual(text.status, 0, text.stderr.slice(0, 2000))
    assert.strictEqual(text.stdout.split("\n").length - 1, LINES)
    assert.match(text.stdout, new RegExp(`  print#1  info  ${LINES}\\n$`))
    const json = runner(["logs", runId, "print", "--journal", journal, "--json"], { cwd: dir, runtime })
    assert.strictEqual(json.status, 0, json.stderr.slice(0, 2000))
    assert.strictEqual(JSON.parse(json.stdout).lines.length, LINES)
  }, 120_000)
})
