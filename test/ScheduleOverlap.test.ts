/**
 * `runner schedule` reporting overlapping runs of two DAGs whose jobs share an id: each run's lines carry its own run
 * id and DAG, and each attempt its own duration (the reporter's state is per run, not the last started run's).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { withDb } from "./support/db.ts"
import { type Result, runnerAsync, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-overlap-")

/** A DAG every second whose job "work" logs a line naming its DAG, then sleeps `millis`. */
const taskFile = (name: string, millis: number) =>
  `import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"
export const work = Job.make("work", { run: () => Effect.andThen(Effect.log("work of ${name}"), Effect.sleep(${millis})) })
export default Dag.make("${name}", [work], { schedule: "*/1 * * * * *", timezone: "UTC" })
`

/** Runs the daemon on a folder with a slow and a quick DAG until each finished two runs, then stops it (SIGTERM). */
const overlapping = async (format: "plain" | "json") => {
  const dir = tempDir()
  fs.mkdirSync(path.join(dir, "tasks"))
  fs.writeFileSync(path.join(dir, "tasks", "slow.ts"), taskFile("slow", 1500))
  fs.writeFileSync(path.join(dir, "tasks", "quick.ts"), taskFile("quick", 300))
  const journal = path.join(dir, "j.db")
  const daemon = runnerAsync(["schedule", path.join(dir, "tasks"), "--journal", journal, "--log-format", format, "--log-level", "debug"])
  let out = ""
  daemon.process.stdout!.on("data", (chunk) => (out += chunk))
  const finished = (dag: string): number => {
    try {
      return withDb(journal, (db) =>
        (db.prepare("SELECT count(*) AS n FROM runs WHERE dag = ? AND status = 'succeeded'").get(dag) as { n: number }).n)
    } catch {
      return 0 // not created or not migrated yet
    }
  }
  try {
    await waitUntil(() => finished("slow") >= 2 && finished("quick") >= 2, 30_000)
  } finally {
    daemon.process.kill("SIGTERM")
  }
  const result: Result = await daemon.done
  assert.strictEqual(result.status, 0, result.stdout + result.stderr)
  const dagOf = new Map(withDb(journal, (db) =>
    (db.prepare("SELECT id, dag FROM runs").all() as Array<{ id: string; dag: string }>).map((r) => [r.id, r.dag] as const)))
  return { stdout: result.stdout, dagOf }
}

describe("runner schedule: overlapping runs of two DAGs", () => {
  it("plain: each attempt reports its own duration (the slow job ~1.5 s, the quick one ~0.3 s; never 0ms)", async () => {
    const { stdout } = await overlapping("plain")
    const durations = [...stdout.matchAll(/^\S+ work ✓ succeeded in (\d+ms|[\d.]+s)$/gm)].map((m) =>
      m[1]!.endsWith("ms") ? Number(m[1]!.slice(0, -2)) : Number(m[1]!.slice(0, -1)) * 1000
    )
    assert.isAtLeast(durations.length, 4, stdout)
    for (const ms of durations) assert.isAtLeast(ms, 250, stdout)
    assert.isTrue(durations.some((ms) => ms >= 1400), `the slow job's duration is its own: ${durations.join(", ")}`)
    assert.isTrue(durations.some((ms) => ms < 1400), `the quick job's duration is its own: ${durations.join(", ")}`)
  }, 60_000)

  it("json: every stdout line is JSON, and each carries its own run id and that run's DAG", async () => {
    const { dagOf, stdout } = await overlapping("json")
    const lines = stdout.trimEnd().split("\n").filter((line) => line.startsWith("{"))
    // The daemon's banner (the schedules and next fire times) comes first, as text; then only JSON lines.
    const first = stdout.split("\n").findIndex((line) => line.startsWith("{"))
    for (const line of stdout.trimEnd().split("\n").slice(first)) assert.doesNotThrow(() => JSON.parse(line), undefined, line)
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, string | undefined>)
    const ofRuns = parsed.filter((line) => line["runId"] !== undefined)
    assert.isAtLeast(ofRuns.length, 16)
    for (const line of ofRuns) {
      assert.strictEqual(line["dag"], dagOf.get(line["runId"]!), JSON.stringify(line))
      if (line["event"] === "Log") assert.strictEqual(line["message"], `work of ${line["dag"]}`, JSON.stringify(line))
    }
    const logs = ofRuns.filter((line) => line["event"] === "Log")
    assert.includeMembers([...new Set(logs.map((line) => line["dag"]))], ["slow", "quick"])
  }, 60_000)
})
