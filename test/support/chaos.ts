/**
 * The chaos scenarios of cluster mode (issue 15, section 3) as functions of their size, so that one copy of each serves
 * both: test/ClusterChaos.test.ts runs them small in `npm test`, bench/cluster-chaos.ts runs the full-size campaign
 * (more jobs, more rounds). Each scenario drives real processes (`runner worker`, `runner <file> --cluster`) on the
 * PostgreSQL database it is given and returns what happened, with `violations`: every claim it checks that did not
 * hold, as a sentence (empty when all hold). The jobs append `start`/`end` marks (job, lease epoch, time, pid) to a
 * file, the side effect whose repetitions are counted. No test API is used: the bench runs these under plain Node.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as cluster from "./cluster.ts"
import { makeNetwork, relay } from "./netns.ts"

/** Issue 15's bound on a takeover: the kill of a worker until another process restarts the first job it lost. */
export const TAKEOVER_BOUND_MILLIS = 8_000

/**
 * A task file of `count` independent jobs j0..j<count-1>; each marks its start, logs a line, sleeps `millis`, marks its
 * end and logs another. `name` names the file and its DAG (default "chaos"); `log: false` leaves the log lines out
 * (bench/cluster.ts: the no-op jobs' throughput without the journal's log writes).
 */
export const writeTasks = (
  dir: string,
  count: number,
  millis: number,
  options: { readonly name?: string; readonly log?: boolean } = {}
) => {
  const name = options.name ?? "chaos"
  const log = (text: string) => options.log === false ? "" : `yield* Effect.logInfo(${text})`
  const file = path.join(dir, `${name}.ts`)
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
    ${log(`"before the sleep: epoch " + epoch + " pid " + process.pid`)}
    ${millis > 0 ? `yield* Effect.sleep(${millis})` : ""}
    mark("end")
    ${log(`"after the sleep: epoch " + epoch + " pid " + process.pid`)}
  })
})
export default Dag.make(${JSON.stringify(name)}, Array.from({ length: ${count} }, (_, i) => job("j" + i)))
`)
  return file
}

interface AttemptRow {
  readonly attempt: number
  readonly start: number
  readonly end: number
  readonly status: string
}

/** Every attempt row of the run's jobs, by job: number, start, end (-1 while open), status. */
export const attemptRows = async (url: string) => {
  const rows = await cluster.query(url, "SELECT job_id, attempt, started_at, coalesce(ended_at, -1), status FROM attempts ORDER BY job_id, attempt")
  const byJob = new Map<string, Array<AttemptRow>>()
  for (const [job, attempt, start, end, status] of rows) {
    const list = byJob.get(job!) ?? []
    list.push({ attempt: Number(attempt), start: Number(start), end: Number(end), status: status! })
    byJob.set(job!, list)
  }
  return byJob
}

/** Overlaps visible in the journal: two attempts of one job whose start..end intersect, or one attempt number twice. */
export const overlaps = (byJob: ReadonlyMap<string, ReadonlyArray<AttemptRow>>) => {
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

export const succeededJobs = async (url: string) =>
  new Set((await cluster.query(url, "SELECT job_id FROM jobs WHERE status = 'succeeded'")).map(([job]) => job!))

/** Waits until `ready()` (polled every `every` ms) or `timeout` ms passed; whether it became ready. */
const until = async (ready: () => boolean | Promise<boolean>, timeout: number, every = 100) => {
  for (const deadline = Date.now() + timeout; ;) {
    if (await ready()) return true
    if (Date.now() >= deadline) return false
    await cluster.sleep(every)
  }
}

/** The first worker whose jobs have started (by the marks), within `timeout` ms. */
const firstBusy = async <W extends cluster.Worker>(workers: ReadonlyArray<W>, marksFile: string, timeout: number) => {
  let busy: W | undefined
  await until(() => {
    const started = new Set(cluster.marks(marksFile).filter((m) => m.what === "start").map((m) => m.pid))
    busy = workers.find((w) => started.has(w.pid))
    return busy !== undefined
  }, timeout)
  return busy
}

/** Jobs started by `pid` and not ended there (by the marks). */
const openOn = (marksFile: string, pid: number) => {
  const marks = cluster.marks(marksFile).filter((m) => m.pid === pid)
  const ended = new Set(marks.filter((m) => m.what === "end").map((m) => m.job))
  return new Map(marks.filter((m) => m.what === "start" && !ended.has(m.job)).map((m) => [m.job, m.epoch]))
}

/** Jobs started by `pid` (by the marks), their bodies ended or not. */
const startedOn = (marksFile: string, pid: number) =>
  new Set(cluster.marks(marksFile).filter((m) => m.pid === pid && m.what === "start").map((m) => m.job))

/** The end of every scenario: the run's exit, every job ended (marks) and succeeded (journal), the run succeeded. */
const outcome = async (url: string, marksFile: string, jobs: number, end: { status: number | null; output: string }) => {
  const violations: Array<string> = []
  if (end.status !== 0) violations.push(`the run exited ${end.status}: ${end.output.slice(-3000)}`)
  const ended = new Set(cluster.marks(marksFile).filter((m) => m.what === "end").map((m) => m.job)).size
  if (ended !== jobs) violations.push(`${ended} of ${jobs} jobs ended`)
  const succeeded = (await succeededJobs(url)).size
  if (succeeded !== jobs) violations.push(`${succeeded} of ${jobs} jobs succeeded in the journal`)
  const runs = (await cluster.query(url, "SELECT status FROM runs")).map(([status]) => status)
  if (runs.join() !== "succeeded") violations.push(`the run's status in the journal: ${runs.join()}`)
  return violations
}

export interface KillOptions {
  readonly url: string
  readonly dir: string
  /**
   * Independent jobs of `millis` each, at `concurrency` (the submitter's) over `workers` workers of as many slots each:
   * the last survivor alone can run them all, so the kills do not slow the run's end down.
   */
  readonly jobs: number
  readonly millis: number
  readonly concurrency: number
  readonly workers: number
  /** Workers killed one after another (fewer than `workers`: one survives). */
  readonly kills: number
  /** Random pause (ms, min and max) before each kill: after the first job start, then after the previous takeover. */
  readonly pause: readonly [number, number]
  readonly seed: number
}

/** Where a scenario's time went (ms): its workers' start until all joined, the run (submit to exit), in all. */
export interface Timings {
  readonly joined: number
  readonly run: number
  readonly total: number
}

export interface KillReport {
  readonly seed: number
  readonly kills: ReadonlyArray<{ readonly pid: number; readonly inFlight: ReadonlyArray<string>; readonly takeover: number | undefined }>
  /** Executions beyond each job's first. */
  readonly rerun: number
  readonly millis: Timings
  readonly violations: ReadonlyArray<string>
}

/**
 * kill -9 of a worker `kills` times in one run, at seeded random moments, each victim a worker with jobs in flight (started,
 * success not committed). Claims: every job completes and the run exits 0; the only jobs run again were in flight on
 * a killed worker, no more runs again than were in flight; the journal's attempt rows agree with the marks and none
 * overlap; each takeover (the kill until another process starts the first lost job) within 8 s. All workers start before
 * the run: a worker that joins mid-run takes shards over and re-runs the jobs on them (at-least-once, as the README
 * says), which is not what this counts. The lease is the default (5 s): the takeover bound is the default's.
 */
export const kill = async (options: KillOptions): Promise<KillReport> => {
  const began = Date.now()
  const random = cluster.seeded(options.seed)
  const { url } = options
  const marksFile = path.join(options.dir, "marks")
  const file = writeTasks(options.dir, options.jobs, options.millis)
  const env = { CHAOS_MARKS: marksFile }
  const workers = Array.from({ length: options.workers }, () => cluster.worker({ url, files: [file], concurrency: options.concurrency, env }))
  const all: Array<cluster.Proc> = [...workers]
  const kills: Array<{ pid: number; at: number; inFlight: Set<string>; takeover?: number }> = []
  const violations: Array<string> = []
  const pause = () => cluster.sleep(options.pause[0] + random() * (options.pause[1] - options.pause[0]))
  try {
    await Promise.all(workers.map((w) => w.joined))
    const joined = Date.now()
    const submitter = cluster.submit({ url, file, concurrency: options.concurrency, env })
    all.push(submitter)
    if (await firstBusy(workers, marksFile, 30_000) === undefined) violations.push(`no job started: ${submitter.output()}`)
    for (let k = 0; k < options.kills && violations.length === 0; k++) {
      await pause()
      // The victim: a live worker (in a seeded order) with jobs started on it and not yet committed.
      let committed = new Set<string>()
      const open = (pid: number) => new Set([...openOn(marksFile, pid).keys()].filter((job) => !committed.has(job)))
      const order = [...workers].sort(() => random() - 0.5)
      let victim: cluster.Worker | undefined
      await until(async () => {
        committed = await succeededJobs(url)
        victim = order.find((w) => w.process.exitCode === null && open(w.pid).size > 0)
        return victim !== undefined
      }, 15_000)
      if (victim === undefined) {
        violations.push(`kill ${k + 1}: no worker had jobs in flight (seed ${options.seed})`)
        break
      }
      victim.process.kill("SIGKILL")
      const at = Date.now()
      await victim.done
      // After the kill the victim commits nothing more: what it had started and not committed is in flight, its body
      // ended or not (a body that ended a moment before the kill, its success not yet committed, runs again too).
      const done = await succeededJobs(url)
      const inFlight = new Set([...startedOn(marksFile, victim.pid)].filter((job) => !done.has(job)))
      const lost: (typeof kills)[number] = { pid: victim.pid, at, inFlight }
      kills.push(lost)
      workers.splice(workers.indexOf(victim), 1)
      // Takeover: the kill until another process starts the first of the lost jobs.
      await until(() => {
        const restarted = cluster.marks(marksFile)
          .filter((m) => m.what === "start" && m.at >= at && m.pid !== lost.pid && inFlight.has(m.job))
        if (restarted.length > 0) lost.takeover = Math.min(...restarted.map((m) => m.at)) - at
        return inFlight.size === 0 || lost.takeover !== undefined
      }, 30_000, 50)
    }
    const end = await submitter.done
    const ran = Date.now()
    violations.push(...await outcome(url, marksFile, options.jobs, end))

    const marks = cluster.marks(marksFile)
    const starts = new Map<string, number>()
    for (const m of marks) if (m.what === "start") starts.set(m.job, (starts.get(m.job) ?? 0) + 1)
    // Re-executed jobs: only ones in flight on a killed worker, at most as many as were in flight.
    const lost = new Set(kills.flatMap((k) => [...k.inFlight]))
    const again = [...starts].filter(([, n]) => n > 1).map(([job]) => job)
    const rerun = again.reduce((sum, job) => sum + starts.get(job)! - 1, 0)
    const strays = again.filter((job) => !lost.has(job))
    if (strays.length > 0) {
      // Each stray's marks against the kills (pid, ms after the run's first kill), for telling where it ran again.
      const first = kills[0]?.at ?? 0
      const told = strays.map((job) =>
        `${job} (${marks.filter((m) => m.job === job).map((m) => `${m.what} pid ${m.pid} epoch ${m.epoch} at ${m.at - first}`).join(", ")})`
      )
      violations.push(`jobs run again that were not in flight on a killed worker: ${told.join("; ")}; kills: ${
        kills.map((k) => `pid ${k.pid} at ${k.at - first} (in flight: ${[...k.inFlight].join(" ")})`).join(", ")
      }`)
    }
    const inFlightTotal = kills.reduce((sum, k) => sum + k.inFlight.size, 0)
    if (rerun > inFlightTotal) violations.push(`${rerun} executions again, more than the ${inFlightTotal} in flight on killed workers`)
    // The journal's attempt rows agree with the marks (an attempt killed before its start was committed leaves a start
    // mark and no row: at least one row per job, at most one per start mark), and none overlap.
    const attempts = await attemptRows(url)
    for (const [job, n] of starts) {
      const rows = attempts.get(job)?.length ?? 0
      if (rows < 1 || rows > n) violations.push(`${job}: ${rows} attempt rows for ${n} starts`)
    }
    violations.push(...overlaps(attempts))
    for (const k of kills) {
      if (k.inFlight.size === 0) violations.push(`the kill of ${k.pid} found no job in flight`)
      if (k.takeover === undefined || k.takeover > TAKEOVER_BOUND_MILLIS) {
        violations.push(`takeover after the kill of ${k.pid}: ${k.takeover ?? "none"} ms (bound ${TAKEOVER_BOUND_MILLIS}, seed ${options.seed})`)
      }
    }
    return {
      seed: options.seed,
      kills: kills.map((k) => ({ pid: k.pid, inFlight: [...k.inFlight], takeover: k.takeover })),
      rerun,
      millis: { joined: joined - began, run: ran - joined, total: Date.now() - began },
      violations
    }
  } finally {
    await cluster.killAll(all)
    cluster.keepOutputs("kill", all, [marksFile])
  }
}

export interface FreezeOptions {
  readonly url: string
  readonly dir: string
  /** Independent jobs of `millis` each, over 2 workers of 4 slots, at concurrency 8. */
  readonly jobs: number
  readonly millis: number
  /** The cluster lease (ms): the worker stays frozen at least `2 × lease`, and until its jobs were taken over. */
  readonly lease: number
  /** How long after the worker's first job start it is frozen (ms). */
  readonly freezeAfter: number
}

export interface FreezeReport {
  readonly inFlight: number
  readonly frozenFor: number
  /** Bodies the frozen worker finished after SIGCONT (an external side effect, not fenced). */
  readonly lateEnds: number
  /** Jobs run twice though not in flight on the frozen worker (known, not a violation: see `freeze`). */
  readonly extra: ReadonlyArray<string>
  readonly millis: Timings
  readonly violations: ReadonlyArray<string>
}

/**
 * SIGSTOP of a worker running jobs, past its lease, then SIGCONT. Claims: the run exits 0 with every job succeeded;
 * each job in flight on the frozen worker ran exactly once more on the other worker, under a newer epoch; none of the
 * frozen worker's late journal writes landed (its log line after the sleep, its success): one success per job, its
 * last attempt's, the frozen attempt's row not a success; no overlapping attempts in the journal. Known and not
 * counted: on waking, the worker may still act on shards it lost (until its next refresh) and re-run a job that moved,
 * under a newer epoch, fencing the rightful attempt (the journal stays consistent).
 */
export const freeze = async (options: FreezeOptions): Promise<FreezeReport> => {
  const began = Date.now()
  const { url } = options
  const marksFile = path.join(options.dir, "marks")
  const file = writeTasks(options.dir, options.jobs, options.millis)
  const env = { CHAOS_MARKS: marksFile }
  const lease = `${options.lease} millis`
  const workers = [0, 1].map(() => cluster.worker({ url, files: [file], concurrency: 4, lease, env }))
  const all: Array<cluster.Proc> = [...workers]
  const violations: Array<string> = []
  try {
    await Promise.all(workers.map((w) => w.joined))
    const joined = Date.now()
    const submitter = cluster.submit({ url, file, concurrency: 8, env: { ...env, RUNNER_CLUSTER_LEASE: lease } })
    all.push(submitter)
    const frozen = await firstBusy(workers, marksFile, 30_000)
    if (frozen === undefined) throw new Error(`no job started: ${submitter.output()}`)
    await cluster.sleep(options.freezeAfter)
    frozen.process.kill("SIGSTOP")
    const stoppedAt = Date.now()
    const inFlight = openOn(marksFile, frozen.pid)
    if (inFlight.size === 0) violations.push("no job in flight on the frozen worker")
    // Frozen for at least 2 leases, and until its jobs were taken over (the engine moves a frozen worker's shards once
    // its health check fails: its PostgreSQL session, alive, keeps nothing from expiring by itself).
    await cluster.sleep(2 * options.lease)
    const takenOver = await until(() => [...inFlight.keys()].every((job) =>
      cluster.marks(marksFile).some((m) => m.what === "start" && m.job === job && m.pid !== frozen.pid && m.at > stoppedAt)), 40_000)
    const frozenFor = Date.now() - stoppedAt
    if (!takenOver) violations.push(`the frozen worker's jobs were not taken over within ${frozenFor} ms`)
    frozen.process.kill("SIGCONT")
    // On waking, its bodies' timers have fired: it logs after the sleep and tries to commit. Let it try (its log line
    // for each job it held, then a second for the commit) before the journal is read.
    const late = (job: string) => `"${job}": after the sleep: epoch ${inFlight.get(job)} pid ${frozen.pid}`
    await until(() => [...inFlight.keys()].every((job) => frozen.output().includes(late(job))), 10_000)
    await cluster.sleep(1_000)
    const end = await submitter.done
    const ran = Date.now()
    violations.push(...await outcome(url, marksFile, options.jobs, end))
    const marks = cluster.marks(marksFile)
    const attempts = await attemptRows(url)
    for (const [job, epoch] of inFlight) {
      // Ran once more on another worker, after the freeze, under a newer epoch.
      const again = marks.filter((m) => m.what === "start" && m.job === job && m.pid !== frozen.pid && m.at > stoppedAt)
      if (again.length !== 1) violations.push(`${job} ran ${again.length} times again elsewhere, not once`)
      else if (!(again[0]!.epoch > epoch)) violations.push(`${job} ran again under epoch ${again[0]!.epoch}, not newer than ${epoch}`)
      // None of the frozen worker's late writes landed: its log line after the sleep, nor its success.
      const [[logged]] = await cluster.query(url,
        `SELECT count(*) FROM logs WHERE job_id = '${job}' AND message = 'after the sleep: epoch ${epoch} pid ${frozen.pid}'`) as [[string]]
      if (logged !== "0") violations.push(`${job}: the frozen worker's late log line landed`)
      const rows = attempts.get(job) ?? []
      const successes = rows.filter((a) => a.status === "succeeded").length
      if (successes !== 1) violations.push(`${job}: ${successes} successful attempts, not 1`)
      if (rows.at(-1)?.status !== "succeeded") violations.push(`${job}: its last attempt is ${rows.at(-1)?.status}`)
      if (rows.length < 2) violations.push(`${job}: ${rows.length} attempt rows, no takeover's attempt`)
      if (rows[0]?.status === "succeeded") violations.push(`${job}: the frozen attempt's row is a success`)
    }
    violations.push(...overlaps(attempts))
    const lateEnds = marks.filter((m) => m.what === "end" && m.pid === frozen.pid && inFlight.has(m.job) && m.at > stoppedAt).length
    const extra = [...new Set(marks.filter((m) => m.what === "start").map((m) => m.job))]
      .filter((job) => !inFlight.has(job) && marks.filter((m) => m.what === "start" && m.job === job).length > 1)
    return { inFlight: inFlight.size, frozenFor, lateEnds, extra, millis: { joined: joined - began, run: ran - joined, total: Date.now() - began }, violations }
  } finally {
    await cluster.killAll(all)
    cluster.keepOutputs("stop", all, [marksFile])
  }
}

export interface PartitionOptions {
  readonly url: string
  /** The database's name: the workers reach it through a relay at the gateway. */
  readonly name: string
  readonly dir: string
  /** Independent jobs of `millis` each, over 3 hosts of 3 slots, at concurrency 9. */
  readonly jobs: number
  readonly millis: number
  /** The cluster lease (ms): the link is down for `2 × lease`. */
  readonly lease: number
  /** How long after the host's first job start its link is cut (ms). */
  readonly cutAfter: number
  /**
   * Which host is cut: any that runs jobs, or one that runs jobs and does not coordinate the run. When the run's
   * coordinator is cut off, the run is moved, and moved back once the link returns: 30-40 s more.
   */
  readonly cut: "any" | "not the coordinator's"
}

export interface PartitionReport {
  readonly host: string
  readonly coordinator: boolean
  readonly inFlight: number
  /** Jobs in flight on the cut host that ran again elsewhere. */
  readonly rerun: number
  /** Executions of one job that overlapped by their marks: what no journal can prevent, only fence (reported). */
  readonly physical: number
  readonly millis: Timings
  readonly violations: ReadonlyArray<string>
}

/**
 * A partition: three worker hosts in network namespaces reaching PostgreSQL over their links; the link of one that runs
 * jobs is taken down for 2 leases, then brought back. Claims: no overlapping attempts of one job in the journal; every
 * job completes after the link returns and the run exits 0. Needs root and `ip` (test/support/netns.ts).
 */
export const partition = async (options: PartitionOptions): Promise<PartitionReport> => {
  const began = Date.now()
  const { url } = options
  const marksFile = path.join(options.dir, "marks")
  const file = writeTasks(options.dir, options.jobs, options.millis)
  const env = { CHAOS_MARKS: marksFile }
  const network = makeNetwork(3)
  const all: Array<cluster.Proc> = []
  let closeRelay = async () => {}
  try {
    const pgRelay = await relay(network.gateway, { host: "127.0.0.1", port: 5432 })
    closeRelay = pgRelay.close
    // Workers reach PostgreSQL over their link, through the relay at the gateway; the submitter directly.
    const hostUrl = `postgres://postgres@${network.gateway}:${pgRelay.port}/${options.name}`
    const lease = `${options.lease} millis`
    const workers = network.hosts.map((host) =>
      cluster.worker({ url: hostUrl, files: [file], concurrency: 3, host: host.address, exec: host.exec, lease, env })
    )
    all.push(...workers)
    await Promise.all(workers.map((w) => w.joined))
    const joined = Date.now()
    const submitter = cluster.submit({ url, file, concurrency: 9, env: { ...env, RUNNER_CLUSTER_LEASE: lease } })
    all.push(submitter)
    const coordinates = (w: cluster.Worker) => /coordinating \d+ jobs here/.test(w.output())
    let victim: cluster.Worker | undefined
    await until(() => {
      const started = new Set(cluster.marks(marksFile).filter((m) => m.what === "start").map((m) => m.pid))
      const coordinated = workers.some(coordinates)
      victim = workers.find((w) => started.has(w.pid) && (options.cut === "any" || (coordinated && !coordinates(w))))
      return victim !== undefined
    }, 30_000)
    if (victim === undefined) throw new Error(`no worker to cut started jobs: ${submitter.output()}`)
    await cluster.sleep(options.cutAfter)
    const host = network.hosts[workers.indexOf(victim)]!
    const { pid } = victim
    network.cut(host)
    const cutAt = Date.now()
    const inFlight = new Set(openOn(marksFile, pid).keys())
    await cluster.sleep(2 * options.lease)
    network.heal(host)
    const end = await submitter.done
    const ran = Date.now()
    // The cut worker's late attempts (once it reaches the database again): let them land or fail before the journal is read.
    await cluster.sleep(2_000)
    const violations = await outcome(url, marksFile, options.jobs, end)
    violations.push(...overlaps(await attemptRows(url)))
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
    return {
      host: host.address,
      coordinator: coordinates(victim),
      inFlight: inFlight.size,
      rerun: rerun.length,
      physical,
      millis: { joined: joined - began, run: ran - joined, total: Date.now() - began },
      violations
    }
  } finally {
    await cluster.killAll(all)
    cluster.keepOutputs("partition", all, [marksFile])
    await closeRelay()
    network.dispose()
  }
}
