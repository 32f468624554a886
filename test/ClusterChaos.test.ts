/**
 * Cluster mode under failure, through the real CLI (issue 15, section 3): workers killed with -9 several times in one
 * run, a worker frozen (SIGSTOP) past its lease and woken, and a worker cut off by a network partition. The task files
 * are written here with the public API only; their jobs append `start`/`end` marks (job, lease epoch, time, pid) to a
 * file, the side effect whose repetitions are counted. Each test has its own PostgreSQL database.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as cluster from "./support/cluster.ts"
import { makeNetwork, relay, requireNetns } from "./support/netns.ts"
import { databases, requirePostgres } from "./support/postgres.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const netns = requireNetns()
const database = databases()
const tempDir = tempDirs("runner-chaos-")

/** A task file of `count` independent jobs j0..j<count-1>; each logs a line, sleeps `millis`, logs another. */
const writeTasks = (dir: string, count: number, millis: number) => {
  const file = path.join(dir, "chaos.ts")
  fs.writeFileSync(file, `
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import { Dag, Job } from "effect-runner"
const marksFile = process.env["CHAOS_MARKS"]
const job = (id) => Job.make(id, {
  run: () => Effect.gen(function*() {
    const epoch = yield* Job.fencingToken
    const mark = (what) => fs.appendFileSync(marksFile, what + " " + id + " " + epoch + " " + Date.now() + " " + process.pid + "\\n")
    mark("start")
    yield* Effect.logInfo("before the sleep: epoch " + epoch + " pid " + process.pid)
    yield* Effect.sleep(${millis})
    mark("end")
    yield* Effect.logInfo("after the sleep: epoch " + epoch + " pid " + process.pid)
  })
})
export default Dag.make("chaos", Array.from({ length: ${count} }, (_, i) => job("j" + i)))
`)
  return file
}

/** Every attempt row of the run's jobs, by job: number, start, end. */
const attemptRows = async (url: string) => {
  const rows = await cluster.query(url, "SELECT job_id, attempt, started_at, coalesce(ended_at, -1), status FROM attempts ORDER BY job_id, attempt")
  const byJob = new Map<string, Array<{ attempt: number; start: number; end: number; status: string }>>()
  for (const [job, attempt, start, end, status] of rows) {
    const list = byJob.get(job!) ?? []
    list.push({ attempt: Number(attempt), start: Number(start), end: Number(end), status: status! })
    byJob.set(job!, list)
  }
  return byJob
}

/** Overlaps visible in the journal: two attempts of one job whose start..end intersect, or one attempt number twice. */
const overlaps = (byJob: Map<string, Array<{ attempt: number; start: number; end: number }>>) => {
  const found: Array<string> = []
  for (const [job, attempts] of byJob) {
    const numbers = new Set<number>()
    for (const a of attempts) {
      if (numbers.has(a.attempt)) found.push(`${job}: attempt ${a.attempt} twice`)
      numbers.add(a.attempt)
    }
    const sorted = [...attempts].sort((x, y) => x.start - y.start)
    for (let i = 1; i < sorted.length; i++) {
      const before = sorted[i - 1]!
      if (before.end === -1 || before.end > sorted[i]!.start) {
        found.push(`${job}: attempt ${before.attempt} (${before.start}..${before.end}) overlaps attempt ${sorted[i]!.attempt} (from ${sorted[i]!.start})`)
      }
    }
  }
  return found
}

const succeededJobs = async (url: string) =>
  new Set((await cluster.query(url, "SELECT job_id FROM jobs WHERE status = 'succeeded'")).map(([job]) => job!))

describe.skipIf(pg.skip)("cluster chaos (PostgreSQL, real CLI)", () => {
  it("kill -9 of a worker three times in one run: every job completes, only the killed worker's in-flight jobs run again, takeover <= 8 s", async () => {
    const seed = Number(process.env["CHAOS_SEED"] ?? Date.now() % 100_000)
    const random = cluster.seeded(seed)
    const { url } = database()
    const dir = tempDir()
    const marksFile = path.join(dir, "marks")
    const jobs = 80
    const file = writeTasks(dir, jobs, 2_000)
    const env = { CHAOS_MARKS: marksFile }
    // The default lease (5 s): the takeover bound is the default's.
    const spawnWorker = () => cluster.worker({ url, files: [file], concurrency: 4, env })
    // Four workers from the start, three of them killed: no worker joins mid-run. (A worker that joins takes shards
    // over, and the jobs running on them are run again there: at-least-once, as the README says; not what this
    // test counts.)
    const workers = [spawnWorker(), spawnWorker(), spawnWorker(), spawnWorker()]
    const all: Array<cluster.Proc> = [...workers]
    const kills: Array<{ pid: number; at: number; inFlight: Set<string>; takeover?: number }> = []
    try {
      await Promise.all(workers.map((w) => w.joined))
      const submitter = cluster.submit({ url, file, concurrency: 8, env })
      all.push(submitter)
      for (let k = 0; k < 3; k++) {
        await cluster.sleep(1_500 + random() * 2_500)
        // The victim: a live worker (in a seeded order) with jobs started on it and not yet committed.
        let committed = new Set<string>()
        const open = (pid: number) =>
          new Set(cluster.marks(marksFile).filter((m) => m.what === "start" && m.pid === pid && !committed.has(m.job)).map((m) => m.job))
        const order = [...workers].sort(() => random() - 0.5)
        let victim: cluster.Worker | undefined
        for (const until = Date.now() + 15_000; victim === undefined && Date.now() < until;) {
          committed = await succeededJobs(url)
          victim = order.find((w) => w.process.exitCode === null && open(w.pid).size > 0)
          if (victim === undefined) await cluster.sleep(100)
        }
        expect(victim, `a worker with jobs in flight at kill ${k + 1} (seed ${seed})`).toBeDefined()
        victim!.process.kill("SIGKILL")
        const at = Date.now()
        await victim!.done
        // After the kill the victim commits nothing more: what it had started and not committed is in flight.
        const done = await succeededJobs(url)
        const inFlight = new Set([...open(victim!.pid)].filter((job) => !done.has(job)))
        const kill: (typeof kills)[number] = { pid: victim!.pid, at, inFlight }
        kills.push(kill)
        workers.splice(workers.indexOf(victim!), 1)
        // Takeover: the kill until another process starts the first of the lost jobs.
        const deadline = Date.now() + 30_000
        while (kill.takeover === undefined && inFlight.size > 0 && Date.now() < deadline) {
          const restarted = cluster.marks(marksFile).filter((m) => m.what === "start" && m.at >= at && m.pid !== victim!.pid && inFlight.has(m.job))
          if (restarted.length > 0) kill.takeover = Math.min(...restarted.map((m) => m.at)) - at
          else await cluster.sleep(50)
        }
      }
      const end = await submitter.done
      const summary = kills.map((k) => `kill of ${k.pid}: ${k.inFlight.size} in flight, takeover ${k.takeover} ms`)
      console.log(`chaos seed ${seed}: ${summary.join("; ")}`)
      expect(end.status, end.output.slice(-3000)).toBe(0)

      const all_marks = cluster.marks(marksFile)
      const starts = new Map<string, number>()
      for (const m of all_marks) if (m.what === "start") starts.set(m.job, (starts.get(m.job) ?? 0) + 1)
      const ended = new Set(all_marks.filter((m) => m.what === "end").map((m) => m.job))
      expect(ended.size).toBe(jobs)
      expect((await succeededJobs(url)).size).toBe(jobs)
      expect((await cluster.query(url, "SELECT status FROM runs"))).toEqual([["succeeded"]])
      // Re-executed jobs: only ones in flight on a killed worker, at most as many as were in flight.
      const lost = new Set(kills.flatMap((k) => [...k.inFlight]))
      const again = [...starts].filter(([, n]) => n > 1).map(([job]) => job)
      const rerun = again.reduce((sum, job) => sum + starts.get(job)! - 1, 0)
      expect(again.filter((job) => !lost.has(job)), "jobs run again that were not in flight on a killed worker").toEqual([])
      expect(rerun).toBeLessThanOrEqual(kills.reduce((sum, k) => sum + k.inFlight.size, 0))
      // The journal's attempt rows agree with the marks, and none overlap.
      const attempts = await attemptRows(url)
      // (an attempt killed before its start was committed leaves a start mark and no row: at most one row per mark)
      for (const [job, n] of starts) {
        expect(attempts.get(job)?.length ?? 0, job).toBeGreaterThanOrEqual(1)
        expect(attempts.get(job)!.length, job).toBeLessThanOrEqual(n)
      }
      expect(overlaps(attempts)).toEqual([])
      for (const k of kills) {
        expect(k.inFlight.size).toBeGreaterThan(0)
        expect(k.takeover, `takeover after the kill of ${k.pid} (seed ${seed})`).toBeDefined()
        expect(k.takeover!).toBeLessThanOrEqual(8_000)
      }
    } finally {
      await cluster.killAll(all)
      cluster.keepOutputs("kill", all, [marksFile])
    }
  }, 150_000)

  it("SIGSTOP of a worker past its lease, then SIGCONT: its late journal writes do not land, its jobs ran once more elsewhere, the run succeeds", async () => {
    const { url } = database()
    const dir = tempDir()
    const marksFile = path.join(dir, "marks")
    const jobs = 24
    const file = writeTasks(dir, jobs, 6_000)
    const env = { CHAOS_MARKS: marksFile }
    // A short lease (3 s) keeps the test fast; the worker is frozen for 2.5 leases.
    const lease = "3s"
    const workers = [0, 1].map(() => cluster.worker({ url, files: [file], concurrency: 4, lease, env }))
    const all: Array<cluster.Proc> = [...workers]
    try {
      await Promise.all(workers.map((w) => w.joined))
      const submitter = cluster.submit({ url, file, concurrency: 8, env: { ...env, RUNNER_CLUSTER_LEASE: "3 seconds" } })
      all.push(submitter)
      // Freeze a worker a second after it started jobs.
      let frozen: cluster.Worker | undefined
      for (const until = Date.now() + 20_000; frozen === undefined && Date.now() < until;) {
        const started = cluster.marks(marksFile).filter((m) => m.what === "start")
        frozen = workers.find((w) => started.some((m) => m.pid === w.pid))
        if (frozen === undefined) await cluster.sleep(100)
      }
      expect(frozen, `a worker that started jobs: ${submitter.output()}`).toBeDefined()
      await cluster.sleep(1_000)
      frozen!.process.kill("SIGSTOP")
      const stoppedAt = Date.now()
      const inFlight = new Map(cluster.marks(marksFile).filter((m) => m.what === "start" && m.pid === frozen!.pid).map((m) => [m.job, m.epoch]))
      for (const m of cluster.marks(marksFile)) if (m.what === "end" && m.pid === frozen!.pid) inFlight.delete(m.job)
      expect(inFlight.size).toBeGreaterThan(0)
      // Frozen for at least 2.5 leases, and until its jobs were taken over (the engine moves a frozen worker's shards
      // once its health check fails: its PostgreSQL session, alive, keeps nothing from expiring by itself).
      await cluster.sleep(7_500)
      const takenOver = () => [...inFlight.keys()].every((job) =>
        cluster.marks(marksFile).some((m) => m.what === "start" && m.job === job && m.pid !== frozen!.pid && m.at > stoppedAt))
      while (!takenOver() && Date.now() - stoppedAt < 40_000) await cluster.sleep(100)
      const frozenFor = Date.now() - stoppedAt
      frozen!.process.kill("SIGCONT")
      const end = await submitter.done
      // Give the woken worker time to try its late writes before the journal is read.
      await cluster.sleep(3_000)
      console.log(`sigstop: ${inFlight.size} jobs in flight on the frozen worker ${frozen!.pid}, frozen ${frozenFor} ms`)
      expect(end.status, end.output.slice(-3000)).toBe(0)
      expect((await succeededJobs(url)).size).toBe(jobs)
      const marks = cluster.marks(marksFile)
      const attempts = await attemptRows(url)
      for (const [job, epoch] of inFlight) {
        // Ran once more on another worker, after the freeze, under a newer epoch.
        const again = marks.filter((m) => m.what === "start" && m.job === job && m.pid !== frozen!.pid && m.at > stoppedAt)
        expect(again.length, `${job} ran again elsewhere`).toBe(1)
        expect(again[0]!.epoch).toBeGreaterThan(epoch)
        // None of the frozen worker's late writes landed: its log line after the sleep, nor its success.
        const late = await cluster.query(url, `SELECT count(*) FROM logs WHERE job_id = '${job}' AND message = 'after the sleep: epoch ${epoch} pid ${frozen!.pid}'`)
        expect(late, `${job}: the frozen worker's late log line`).toEqual([["0"]])
        const rows = attempts.get(job)!
        expect(rows.filter((a) => a.status === "succeeded").length, `${job}: one success`).toBe(1)
        expect(rows.at(-1)!.status).toBe("succeeded")
        expect(rows.length, `${job}: the takeover's attempt row`).toBeGreaterThanOrEqual(2)
        expect(rows[0]!.status).not.toBe("succeeded")
      }
      // The frozen worker's own end marks (an external side effect, not fenced) show it did finish the bodies.
      const lateEnds = marks.filter((m) => m.what === "end" && m.pid === frozen!.pid && inFlight.has(m.job) && m.at > stoppedAt).length
      // Known and not asserted: on waking, the worker may still act on shards it lost (until its next refresh) and
      // re-run a job that moved, under a newer epoch, fencing the rightful attempt (journal stays consistent).
      const extra = [...new Set(marks.filter((m) => m.what === "start").map((m) => m.job))]
        .filter((job) => !inFlight.has(job) && marks.filter((m) => m.what === "start" && m.job === job).length > 1)
      console.log(`sigstop: the frozen worker finished ${lateEnds} bodies of those jobs after SIGCONT (none of their writes landed); ` +
        `jobs run twice though not in flight on it: ${extra.length} (${extra.join(", ")})`)
      expect(overlaps(attempts)).toEqual([])
    } finally {
      await cluster.killAll(all)
      cluster.keepOutputs("stop", all, [marksFile])
    }
  }, 120_000)

  it.skipIf(netns.skip)("a partition: a worker host's link cut for 2 leases, then healed: no overlapping attempts in the journal, every job completes", async () => {
    const { url, name } = database()
    const dir = tempDir()
    const marksFile = path.join(dir, "marks")
    const jobs = 30
    const file = writeTasks(dir, jobs, 4_000)
    const env = { CHAOS_MARKS: marksFile }
    const network = makeNetwork(3)
    const pgRelay = await relay(network.gateway, { host: "127.0.0.1", port: 5432 })
    // Workers reach PostgreSQL over their link, through the relay at the gateway; the submitter directly.
    const hostUrl = `postgres://postgres@${network.gateway}:${pgRelay.port}/${name}`
    const lease = 3_000
    const workers = network.hosts.map((host) =>
      cluster.worker({ url: hostUrl, files: [file], concurrency: 3, host: host.address, exec: host.exec, lease: "3s", env })
    )
    const all: Array<cluster.Proc> = [...workers]
    try {
      await Promise.all(workers.map((w) => w.joined))
      const submitter = cluster.submit({ url, file, concurrency: 9, env: { ...env, RUNNER_CLUSTER_LEASE: "3 seconds" } })
      all.push(submitter)
      let cut: number | undefined
      for (const until = Date.now() + 30_000; cut === undefined && Date.now() < until;) {
        const started = cluster.marks(marksFile).filter((m) => m.what === "start")
        cut = workers.findIndex((w) => started.some((m) => m.pid === w.pid))
        if (cut < 0) cut = undefined
        if (cut === undefined) await cluster.sleep(100)
      }
      expect(cut, `a worker that started jobs: ${submitter.output()}`).toBeDefined()
      await cluster.sleep(1_000)
      const host = network.hosts[cut!]!
      const pid = workers[cut!]!.pid
      network.cut(host)
      const cutAt = Date.now()
      const inFlight = new Set(cluster.marks(marksFile).filter((m) => m.what === "start" && m.pid === pid).map((m) => m.job))
      for (const m of cluster.marks(marksFile)) if (m.what === "end" && m.pid === pid) inFlight.delete(m.job)
      await cluster.sleep(2 * lease)
      network.heal(host)
      const end = await submitter.done
      await cluster.sleep(2_000)
      expect(end.status, end.output.slice(-3000)).toBe(0)
      expect((await succeededJobs(url)).size).toBe(jobs)
      const attempts = await attemptRows(url)
      const found = overlaps(attempts)
      // Executions that ran at once by their marks (what no journal can prevent, only fence): reported.
      const marks = cluster.marks(marksFile)
      let physical = 0
      for (const job of new Set(marks.map((m) => m.job))) {
        const runs = marks.filter((m) => m.job === job && m.what === "start").map((s) => ({
          start: s.at,
          end: marks.find((e) => e.what === "end" && e.job === job && e.pid === s.pid && e.epoch === s.epoch)?.at ?? Infinity
        })).sort((a, b) => a.start - b.start)
        for (let i = 1; i < runs.length; i++) if (runs[i - 1]!.end > runs[i]!.start) physical++
      }
      const rerun = [...inFlight].filter((job) => marks.some((m) => m.what === "start" && m.job === job && m.pid !== pid && m.at > cutAt))
      console.log(`partition: cut ${host.address} (pid ${pid}) with ${inFlight.size} jobs in flight for ${2 * lease} ms; ` +
        `${rerun.length} of them ran again elsewhere; overlapping attempts in the journal: ${found.length}; ` +
        `bodies overlapping by their marks: ${physical}`)
      expect(found).toEqual([])
      expect(new Set(marks.filter((m) => m.what === "end").map((m) => m.job)).size).toBe(jobs)
    } finally {
      await cluster.killAll(all)
      cluster.keepOutputs("partition", all, [marksFile])
      await pgRelay.close()
      network.dispose()
    }
  }, 120_000)
})
