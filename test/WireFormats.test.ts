/**
 * The wire formats read back as JSON, decoded with their Schemas: `--log-format json` lines, the `runner logs --json`
 * document, the journal's audit records (`runs.executions`) and journaled outputs. What is well-formed decodes; what
 * is malformed fails with a message naming the field (or the run and column), never a crash.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import * as Audit from "../src/internal/Audit.ts"
import * as Encoding from "../src/internal/Encoding.ts"
import * as LogLines from "../src/internal/LogLines.ts"
import { withDb } from "./support/db.ts"
import { root, runner } from "./support/spawn.ts"

const fixture = (name: string) => path.join(root, "test/fixtures", `${name}.ts`)

describe("--log-format json lines and runner logs --json, through the CLI", () => {
  let dir: string
  let journal: string
  let runId: string
  let lines: ReadonlyArray<typeof LogLines.JsonLine.Type>

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-wire-"))
    journal = path.join(dir, "j.db")
    const result = runner([fixture("ok"), "--journal", journal, "--log-format", "json"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    lines = result.stdout.trimEnd().split("\n").map((line) => Schema.decodeUnknownSync(LogLines.JsonLineText)(line))
    runId = lines[0]!.runId!
  })

  it("every line of --log-format json decodes with its Schema, from RunStarted to RunFinished, with the job's log", () => {
    assert.strictEqual(lines[0]!.event, "RunStarted")
    assert.strictEqual(lines.at(-1)!.event, "RunFinished")
    assert.include(lines.at(-1)!, { dag: "ok", runId, level: "info", status: "succeeded" })
    const logged = lines.find((line) => line.event === "Log")
    assert.include(logged, { jobId: "b", attempt: 1, message: "b got 1" })
  })

  it("the runner logs --json document decodes with its Schema", () => {
    const result = runner(["logs", runId, "--json", "--journal", journal], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    const doc = Schema.decodeUnknownSync(LogLines.JournalLinesText)(result.stdout)
    assert.strictEqual(doc.runId, runId)
    assert.deepInclude(doc.lines.map((line) => [line.jobId, line.attempt, line.message]), ["b", 1, "b got 1"])
  })

  it("a malformed line fails naming the field, not with a crash", () => {
    const bad = JSON.stringify({ ...lines[0], level: "loud", attempt: "1" })
    const result = Schema.decodeUnknownExit(LogLines.JsonLineText)(bad)
    assert.isTrue(result._tag === "Failure")
    assert.match(String(result), /level/)
  })
})

describe("the journal's audit records (runs.executions), through runner show and history", () => {
  let dir: string
  let journal: string
  let runId: string
  const op = (args: ReadonlyArray<string>) => runner([...args, "--journal", journal], { cwd: dir })
  const setExecutions = (json: string) =>
    withDb(journal, (db) => db.prepare("UPDATE runs SET executions = ? WHERE id = ?").run(json, runId))

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-wire-"))
    journal = path.join(dir, "j.db")
    const result = runner([fixture("ok"), "--journal", journal], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    runId = /^run (\S+) succeeded/m.exec(result.stdout)![1]!
  })

  it("a record decodes with Audit.Record; a field a later runner adds is kept; an older one without gitTracked reads", () => {
    const [record] = withDb(journal, (db) =>
      JSON.parse((db.prepare("SELECT executions FROM runs WHERE id = ?").get(runId) as { executions: string }).executions))
    assert.doesNotThrow(() => Schema.decodeUnknownSync(Audit.Record)(record))
    const { gitTracked: _, ...older } = record as Record<string, unknown>
    setExecutions(JSON.stringify([{ ...older, addedLater: { x: 1 } }]))
    const result = op(["show", runId, "--json"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout).executions[0].addedLater, { x: 1 })
    assert.strictEqual(op(["history"]).status, 0)
  })

  it("malformed records make show and history exit 2 naming the run, the column and the field", () => {
    setExecutions(JSON.stringify([{ at: "yesterday", user: "u" }]))
    for (const args of [["show", runId], ["history"]]) {
      const result = op(args)
      assert.strictEqual(result.status, 2, result.stdout + result.stderr)
      assert.match(result.stderr, new RegExp(`run ${runId}: its audit records \\(runs\\.executions\\) are malformed: .*\\bat\\b`))
    }
    setExecutions("[{not json")
    const result = op(["show", runId])
    assert.strictEqual(result.status, 2)
    assert.match(result.stderr, /runs\.executions\) are malformed: .*JSON/)
  })
})

describe("journaled outputs", () => {
  it("a job's journaled output damaged on disk: resume runs the job again, saying why, instead of crashing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-wire-"))
    const journal = path.join(dir, "j.db")
    const env = { COUNTS: path.join(dir, "counts"), FAIL: path.join(dir, "fail"), SEEN: path.join(dir, "seen.json") }
    const args = [fixture("typed-resume"), "--journal", journal, "--log-format", "plain"]
    fs.writeFileSync(env.FAIL, "")
    assert.strictEqual(runner(args, { env }).status, 1)
    fs.rmSync(env.FAIL)
    withDb(journal, (db) => db.prepare("UPDATE jobs SET output = ? WHERE job_id = ?").run("{\"broken", "extract: users/☃ (v2)"))
    const resumed = runner([...args, "--resume"], { env })
    assert.strictEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    assert.match(resumed.stdout, /"extract: users\/☃ \(v2\)" runs again: .*the journaled JSON is malformed/)
    assert.strictEqual(fs.readFileSync(env.COUNTS, "utf8").trim().split("\n").filter((r) => r === "stamp").length, 2)
  })

  it("a journaled output that is not JSON fails with a reason instead of throwing", async () => {
    const error = await Effect.runPromise(Effect.flip(Encoding.decode(undefined, "{\"a\": 1")))
    assert.match(error, /^the journaled JSON is malformed: /)
    const withSchema = await Effect.runPromise(Effect.flip(Encoding.decode(Schema.Struct({ a: Schema.Number }), "[1")))
    assert.match(withSchema, /^the journaled JSON is malformed: /)
    assert.deepStrictEqual(await Effect.runPromise(Encoding.decode(undefined, "{\"a\":1}")), { a: 1 })
  })

  it("a damaged unrestorable marker still reads as unrestorable, saying the JSON is malformed", () => {
    assert.strictEqual(Encoding.unrestorableReason("{\"~effect-runner/unrestorable\": "), "the journal holds malformed JSON for it")
    assert.strictEqual(Encoding.unrestorableReason(Encoding.unrestorable("a Map").json), "a Map")
  })
})
