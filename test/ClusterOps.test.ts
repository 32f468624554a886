/**
 * Operating a cluster through the CLI: `runner schedule --cluster` on two daemons fires each slot once. Task files use
 * only the public API. Needs PostgreSQL (skipped with one line without it, required when CI is set).
 */
import { afterAll, assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { killAll, markedBody, marks, type Proc, query, sleep, start, submit, worker } from "./support/cluster.ts"
import { databases, requirePostgres } from "./support/postgres.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-cluster-ops-")
const procs: Array<Proc> = []
afterAll(() => killAll(procs))

// The two tests run at once: each is mostly waiting (its processes' start-up, the jobs' sleeps, the schedule's seconds).
describe.skipIf(pg.skip)("operating a cluster", () => {
  it.concurrent("SIGTERM: the worker finishes its running jobs within --grace, exits 0; no job runs twice; the run succeeds", async () => {
    const { url } = database()
    const dir = tempDir()
    const marksFile = path.join(dir, "marks")
    const file = path.join(dir, "graceful.ts")
    const jobs = Array.from({ length: 8 }, (_, i) => `step ${i}`)
    fs.writeFileSync(file, `import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"
const marksFile = ${JSON.stringify(marksFile)}
export default Dag.make("graceful", [
${jobs.map((id) => `  Job.make(${JSON.stringify(id)}, { run: () => ${markedBody(id.replace(" ", "_"), "Effect.sleep(2000)")} })`).join(",\n")}
])
`)
    const a = worker({ url, files: [file], concurrency: 4, grace: "20s" })
    const b = worker({ url, files: [file], concurrency: 4, grace: "20s" })
    procs.push(a, b)
    await Promise.all([a.joined, b.joined])
    const run = submit({ url, file, concurrency: 8, key: "sigterm" })
    procs.push(run)
    // Once A runs jobs, stop it: they must end on A (their "end" marks by A's pid), and A must exit 0 after them.
    const deadline = Date.now() + 30_000
    while (!marks(marksFile).some((m) => m.what === "start" && m.pid === a.pid) && Date.now() < deadline) await sleep(50)
    const onA = marks(marksFile).filter((m) => m.what === "start" && m.pid === a.pid).map((m) => m.job)
    assert.isAbove(onA.length, 0, `worker A ran no job:\n${a.output()}\n${b.output()}`)
    a.process.kill("SIGTERM")
    const stopped = await a.done
    const stoppedAt = Date.now()
    assert.strictEqual(stopped.status, 0, stopped.output)
    const ended = await run.done
    assert.strictEqual(ended.status, 0, `${ended.output}\n--- A:\n${stopped.output}\n--- B:\n${b.output()}`)
    const all = marks(marksFile)
    for (const job of onA) {
      const ends = all.filter((m) => m.what === "end" && m.job === job)
      assert.deepStrictEqual(ends.map((m) => m.pid), [a.pid], `${job} finished on A, once`)
      assert.isAtMost(ends[0]!.at, stoppedAt, `${job} ended before A exited`)
    }
    // Every job ran exactly once: none was handed back or run again.
    for (const id of jobs) {
      const key = id.replace(" ", "_")
      assert.strictEqual(all.filter((m) => m.what === "start" && m.job === key).length, 1, `${id} started once: ${JSON.stringify(all)}`)
    }
    const rows = await query(url, "SELECT job_id, status, attempts FROM jobs ORDER BY job_id")
    assert.deepStrictEqual(rows, jobs.map((id) => [id, "succeeded", "1"]))
  }, 120_000)

  it.concurrent("schedule --cluster on two daemons: each slot fires once, whichever daemon is first", async () => {
    const { url } = database()
    const dir = tempDir()
    const ticks = path.join(dir, "ticks")
    const tasks = path.join(dir, "tasks")
    fs.mkdirSync(tasks)
    const file = path.join(tasks, "every-second.ts")
    fs.writeFileSync(file, `import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job, Partition } from "effect-runner"
const tick = Job.make("tick", {
  run: () => Effect.flatMap(Partition.Partition, (slot) => Effect.sync(() => fs.appendFileSync(${JSON.stringify(ticks)}, slot.key + " " + process.pid + "\\n")))
})
export default Dag.make("every-second", [tick], { schedule: "* * * * * *", timezone: "UTC", catchUp: "none" })
`)
    const w = worker({ url, files: [tasks], concurrency: 4 })
    procs.push(w)
    await w.joined
    const daemons = [0, 1].map(() => start(["schedule", tasks, "--journal", url, "--cluster", "--log-format", "plain"], {}))
    procs.push(...daemons)
    const deadline = Date.now() + 60_000
    const fired = () => fs.existsSync(ticks) ? fs.readFileSync(ticks, "utf8").split("\n").filter((l) => l !== "") : []
    while (fired().length < 3 && Date.now() < deadline) await sleep(100)
    for (const daemon of daemons) daemon.process.kill("SIGTERM")
    const ends = await Promise.all(daemons.map((d) => d.done))
    for (const end of ends) assert.include([0, 130], end.status, end.output)
    // Every run the daemons submitted is in the journal now: once they all ended, every tick that will land has.
    const open = async () => (await query(url, "SELECT count(*) FROM runs WHERE ended_at IS NULL"))[0]![0]
    for (const until = Date.now() + 5_000; (await open()) !== "0" && Date.now() < until;) await sleep(100)
    const keys = fired().map((line) => line.split(" ")[0]!)
    assert.isAtLeast(keys.length, 3, `slots fired: ${keys.join(", ")}\n${ends.map((e) => e.output).join("\n")}`)
    assert.strictEqual(new Set(keys).size, keys.length, `a slot ran twice: ${keys.join(", ")}`)
    const runs = await query(url, "SELECT run_key, count(*) FROM runs WHERE dag = 'every-second' GROUP BY run_key HAVING count(*) > 1")
    assert.deepStrictEqual(runs, [], "one run per slot key")
  }, 120_000)
})
