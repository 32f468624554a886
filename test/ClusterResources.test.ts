/**
 * Resources hold across a cluster (issue 15, section 3), through the real CLI: a Resource of concurrency 2 used by 20
 * jobs spread over 3 workers is never held by more than 2 jobs at once, and a rate limit counts every worker's starts.
 * Both resources are used by one run on one set of 3 workers (their start-up is most of the time), each claim read
 * from its own jobs' `start`/`end` marks (time and pid; the task file uses the public API only).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import * as cluster from "./support/cluster.ts"
import { databases, requirePostgres } from "./support/postgres.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const database = databases()
const tempDir = tempDirs("runner-resources-")

/** 20 jobs `s<i>` that hold `shared` (concurrency 2) for 400 ms, 15 jobs `p<i>` paced by `paced` (3 per second). */
const writeTasks = (dir: string) => {
  const file = path.join(dir, "resources.ts")
  fs.writeFileSync(file, `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job, Resource } from "effect-runner"
const marksFile = process.env["CHAOS_MARKS"]
const shared = Resource.make("shared", { concurrency: 2 })
const paced = Resource.make("paced", { rate: { limit: 3, per: "1 second" } })
const job = (id, resource, millis) => Job.make(id, {
  uses: [resource],
  run: () => Effect.gen(function*() {
    const mark = (what) => fs.appendFileSync(marksFile, what + " " + id + " 0 " + Date.now() + " " + process.pid + "\\n")
    mark("start")
    yield* Effect.sleep(millis)
    mark("end")
  })
})
export default Dag.make("resources", [
  ...Array.from({ length: 20 }, (_, i) => job("s" + i, shared, 400)),
  ...Array.from({ length: 15 }, (_, i) => job("p" + i, paced, 50))
])
`)
  return file
}

/** Starts 3 workers (concurrency 4 each), runs the file in the cluster at concurrency 12; the marks. */
const runOnThree = async (file: string, marksFile: string) => {
  const { url } = database()
  const env = { CHAOS_MARKS: marksFile }
  const workers = [0, 1, 2].map(() => cluster.worker({ url, files: [file], concurrency: 4, lease: "3s", env }))
  const all: Array<cluster.Proc> = [...workers]
  try {
    await Promise.all(workers.map((w) => w.joined))
    const submitter = cluster.submit({ url, file, concurrency: 12, env })
    all.push(submitter)
    const end = await submitter.done
    expect(end.status, end.output.slice(-3000)).toBe(0)
    return cluster.marks(marksFile)
  } finally {
    await cluster.killAll(all)
    cluster.keepOutputs(path.basename(path.dirname(marksFile)), all, [marksFile])
  }
}

describe.skipIf(pg.skip)("cluster-wide resources (PostgreSQL, real CLI)", () => {
  let marks: Array<cluster.Mark> = []
  beforeAll(async () => {
    const dir = tempDir()
    marks = await runOnThree(writeTasks(dir), path.join(dir, "marks"))
  }, 120_000)
  const of = (prefix: string) => marks.filter((m) => m.job.startsWith(prefix))

  it("a Resource of concurrency 2 used by 20 jobs over 3 workers: never more than 2 at once", () => {
    const shared = of("s")
    expect(shared.filter((m) => m.what === "end").length).toBe(20)
    // Holders at once, from the marks in time order (an end before a start at the same millisecond).
    const events = shared.map((m) => ({ at: m.at, delta: m.what === "start" ? 1 : -1 }))
      .sort((a, b) => a.at - b.at || a.delta - b.delta)
    let holders = 0
    let most = 0
    for (const e of events) most = Math.max(most, (holders += e.delta))
    const pids = new Set(shared.map((m) => m.pid))
    console.log(`concurrency 2: at most ${most} holders at once, on ${pids.size} workers`)
    expect(most).toBe(2)
    expect(pids.size, "the jobs ran on several workers").toBeGreaterThanOrEqual(2)
  })

  it("a rate limit of 3 per second over 3 workers: no 4 starts within a second", () => {
    const paced = of("p")
    const starts = paced.filter((m) => m.what === "start").map((m) => m.at).sort((a, b) => a - b)
    expect(starts.length).toBe(15)
    // The limiter reserves instants on the database's clock; a job writes its mark a few ms after its instant, so
    // windows measured by the marks get 200 ms of slack (per-worker limits would let 9 starts into one second).
    const tightest = Math.min(...starts.slice(3).map((at, i) => at - starts[i]!))
    const pids = new Set(paced.map((m) => m.pid))
    console.log(`rate 3/s: the tightest 4 starts span ${tightest} ms; ${starts.length} starts over ${starts.at(-1)! - starts[0]!} ms on ${pids.size} workers`)
    expect(tightest).toBeGreaterThanOrEqual(800)
    expect(pids.size, "the jobs ran on several workers").toBeGreaterThanOrEqual(2)
  })
})
