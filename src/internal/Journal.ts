/**
 * The Journal records every state change of a run, and what a resumed run needs back: which jobs succeeded with
 * their encoded outputs, and which in-job checkpoints finished. The executor writes to it through this service only,
 * so the SQLite journal (durable, `sql/SqlJournal.ts`) and the in-memory one (tests, `--journal none`) are
 * interchangeable.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as FileHashes from "./cache/FileHashes.ts"
import type * as Processes from "./processes.ts"
import type * as RunEvent from "./RunEvent.ts"

/** The journal could not be read or written. */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `journal ${this.operation} failed: ${this.reason}`
  }
}

/** Another process is executing this run (exit code 75). */
export class RunLocked extends Schema.TaggedError<RunLocked>()("RunLocked", {
  runId: Schema.String,
  dag: Schema.String,
  key: Schema.UndefinedOr(Schema.String),
  pid: Schema.Number,
  host: Schema.String,
  since: Schema.Number
}) {
  override get message(): string {
    return `run ${this.runId} of "${this.dag}"${this.key === undefined ? "" : ` (key ${this.key})`} is being executed ` +
      `by pid ${this.pid} on ${this.host} since ${new Date(this.since).toISOString()}; use --wait to wait for it`
  }
}

/**
 * This process's lock on a run was taken over by another process (it was stopped or blocked for longer than the
 * lock's staleness window): the run stopped and wrote nothing more to it (exit code 75).
 */
export class LockLost extends Schema.TaggedError<LockLost>()("LockLost", {
  runId: Schema.String,
  /** Who holds the lock now, if anyone. */
  holder: Schema.UndefinedOr(Schema.Struct({ pid: Schema.Number, host: Schema.String, since: Schema.Number })),
  staleAfterMillis: Schema.Number,
  /** Set when what was lost is a job's lease (`leaseJob`), not the run's lock. */
  jobId: Schema.optional(Schema.String),
  /** A lost job lease: who leased the job since (the cluster worker that took it over), if known. */
  takenBy: Schema.optional(Schema.String)
}) {
  override get message(): string {
    if (this.jobId !== undefined) {
      return `lost the lease of job ${this.jobId} of run ${this.runId}: ` +
        `${this.takenBy === undefined ? "it was taken over" : `${this.takenBy} took it over`} (this worker was stopped, ` +
        `cut off or too slow for the cluster's lease); stopped without writing more to the job`
    }
    const by = this.holder === undefined
      ? "it was taken over and released"
      : `pid ${this.holder.pid} on ${this.holder.host} took it over at ${new Date(this.holder.since).toISOString()}`
    return `lost the lock of run ${this.runId}: ${by} (this process did not renew it for ${this.staleAfterMillis} ms: ` +
      `stopped or blocked?); stopped without writing more to the run`
  }
}

/** What to run: a new run, the latest unfinished run (or a given one), or the run of a key. */
export type Target =
  | { readonly _tag: "New" }
  | { readonly _tag: "Resume"; readonly runId: string | undefined }
  | { readonly _tag: "Key"; readonly key: string; readonly force: boolean }

export interface BeginRequest {
  readonly dag: string
  readonly target: Target
  readonly definitionHash: string
  readonly trigger: string
  readonly runnerVersion: string
  /** Wait for another process's lock instead of failing with RunLocked. */
  readonly wait: boolean
  /** Who and what executes the run (Audit.ts), appended to the run's executions. Default: not recorded. */
  readonly audit?: unknown
}

/** What `begin` decided. */
export type Begun =
  | { readonly _tag: "Run"; readonly runId: string; readonly resumed: boolean; readonly key: string | undefined }
  /** `--key K` whose run already succeeded (and no --force): nothing to do. */
  | { readonly _tag: "AlreadySucceeded"; readonly runId: string; readonly key: string }
  /** `--resume` found no unfinished run. */
  | { readonly _tag: "NothingToResume"; readonly runId: string | undefined }

/** A job that succeeded in an earlier attempt of the run. */
export interface SucceededJob {
  readonly jobId: string
  /** The output as journaled (see `Encoding`): JSON text, an unrestorable marker, or undefined for `undefined`. */
  readonly json: string | undefined
  readonly definitionHash: string | undefined
}

/** A finished in-job step as journaled. */
export interface Checkpoint {
  /** Its output as journaled (see `Encoding`). */
  readonly json: string | undefined
  /** The hash of the job's inputs when the step ran (`Resume.inputHash`); undefined if made by a runner before 0.2. */
  readonly inputHash: string | undefined
}

/** A cached job's success, kept by its key (see internal/cache/): any later run with the same key reuses it. */
export interface CacheEntry {
  readonly key: string
  readonly dag: string
  readonly jobId: string
  /** The run that succeeded. */
  readonly runId: string
  /** Its output as journaled (see `Encoding`). */
  readonly json: string | undefined
  /** Its manifest, encoded (`Manifest.encode`). */
  readonly manifest: string
  /** When the success was recorded (epoch ms). */
  readonly createdAt: number
}

/** One log line of a run. */
export interface LogRecord {
  readonly runId: string
  readonly jobId: string | undefined
  readonly attempt: number | undefined
  readonly at: number
  readonly level: string
  readonly message: string
}

/** A shell job's process group, journaled while it runs, so that a resumed run can end it if a killed runner left it. */
export interface ProcessRecord extends Processes.Group {
  readonly runId: string
  readonly jobId: string
  readonly attempt: number
}

/** A job of a run leased by this process (`leaseJob`). */
export interface JobLease {
  /** The job's fencing token: higher than every earlier holder's (give it to jobs for their own external writes). */
  readonly epoch: number
  /** How many attempts of the job are journaled (the next one is `attempts + 1`). */
  readonly attempts: number
  /** Fails once another holder took the job over; never completes while the lease is ours. */
  readonly lost: Effect.Effect<never, LockLost>
}

/** What an earlier holder's attempts still journaled as running are closed with when `leaseJob` takes the job over. */
export const takenOverError = (holder: string): string => `its worker was lost; job taken over by ${holder}`

export class Journal extends Context.Service<Journal, {
  /**
   * Picks or creates the run and takes its lock for the life of the scope (one process executes a run at a time).
   */
  readonly begin: (request: BeginRequest) => Effect.Effect<Begun, JournalError | RunLocked, Scope.Scope>
  /**
   * Records one event. When it returns for an `AttemptSucceeded`, `RunStarted` or `RunFinished`, the event is durable
   * (for a durable journal): a job's success and output are committed before any dependent starts.
   */
  readonly record: (event: RunEvent.RunEvent, definitionHash?: string) => Effect.Effect<void, JournalError | LockLost>
  /**
   * Fails with `LockLost` once another process has taken over the lock `begin` took for the run (a write of the run
   * found it, or a heartbeat); never completes while the lock is held. From then on the run's writes are refused.
   */
  readonly lockLost: (runId: string) => Effect.Effect<never, LockLost>
  /**
   * Takes over a job of a run for this process (a cluster worker about to execute it), in one transaction: bumps the
   * job's lease epoch (its fencing token), closes as interrupted the attempts an earlier holder left running ("its
   * worker was lost; job taken over by <holder>"), and returns the attempts journaled so far (the runner counts
   * attempts; a redelivery is not one). Until the scope closes, every write of that run AND job through this journal
   * (events with its job id, its log lines, checkpoints, process records) commits only while the epoch is still this
   * one, checked in the write's own transaction, and is then fenced by the lease alone (not by the run's lock, which
   * the run's coordinator holds). `lost` fails once a commit (or the periodic check) found the epoch moved on: the
   * caller interrupts the job; its later writes are dropped (a success or checkpoint fails with LockLost).
   * Gotcha: an earlier holder's success may have committed just before the takeover: read `succeeded` after it.
   */
  readonly leaseJob: (
    runId: string,
    jobId: string,
    holder: string,
    /** Which of the job's cluster executions takes the lease (journaled: see `placements`). */
    placement?: number
  ) => Effect.Effect<JobLease, JournalError, Scope.Scope>
  /**
   * The cluster execution holding each leased job of a run, by the placement number its lease was taken with: a
   * coordinator that replays the run joins those instead of starting the jobs again.
   */
  readonly placements: (runId: string) => Effect.Effect<ReadonlyMap<string, number>, JournalError>
  /** Appends a log line (written with the next commit). */
  readonly log: (record: LogRecord) => void
  /** The jobs of a run that succeeded, with their encoded outputs. */
  readonly succeeded: (runId: string) => Effect.Effect<ReadonlyArray<SucceededJob>, JournalError>
  /** A finished in-job checkpoint: its journaled output, and the hash of the job's inputs it was made with. */
  readonly checkpoint: (runId: string, jobId: string, step: string) => Effect.Effect<Option.Option<Checkpoint>, JournalError>
  /** The last slot (epoch ms) the scheduler fired for a DAG. */
  readonly lastSlot: (dag: string) => Effect.Effect<Option.Option<number>, JournalError>
  /** When the DAG's most recent successful run ended (epoch ms), if it ever succeeded (metrics' last success). */
  readonly lastSuccess: (dag: string) => Effect.Effect<Option.Option<number>, JournalError>
  /** Records durably that the scheduler fired (or deliberately skipped) a DAG's slot. */
  readonly saveSlot: (dag: string, slot: number) => Effect.Effect<void, JournalError>
  /** Records a finished checkpoint durably. */
  readonly saveCheckpoint: (runId: string, jobId: string, step: string, checkpoint: Checkpoint) => Effect.Effect<void, JournalError | LockLost>
  /** Records a shell job's process group as running (written with the next commit, without waiting for it). */
  readonly processStarted: (record: ProcessRecord) => Effect.Effect<void, JournalError>
  /** Forgets the process group led by `pid` in the run: it has exited, or it was ended (written with the next commit). */
  readonly processEnded: (runId: string, pid: number) => Effect.Effect<void, JournalError>
  /** The process groups of a run still journaled as running, oldest first. */
  readonly processes: (runId: string) => Effect.Effect<ReadonlyArray<ProcessRecord>, JournalError>
  /** The success kept under a cache key, if any (written with the `AttemptSucceeded` that carries it). */
  readonly cached: (key: string) => Effect.Effect<Option.Option<CacheEntry>, JournalError>
  /** The newest success kept for a job of a DAG, whatever its key: what a miss is explained against. */
  readonly latestCached: (dag: string, jobId: string) => Effect.Effect<Option.Option<CacheEntry>, JournalError>
  /** The memo of declared files' hashes kept between runs (its writes go with the next commit). */
  readonly fileMemo: Effect.Effect<FileHashes.Memo, JournalError>
}>()("effect-runner/Journal") {}

/** A run id: sortable and readable, the start time to the second then 6 random hex digits. */
export const makeRunId = (now: number): string => {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)
  return `${stamp}-${Math.floor(Math.random() * 0x1000000).toString(16).padStart(6, "0")}`
}

/** A definition hash made when first read (see `recordInMemory`). */
export type LazyHash = () => string

/** Each memory journal's `record`, synchronous and taking a lazy hash (see `recordInMemory`). */
const inMemory = new WeakMap<Journal["Service"], (event: RunEvent.RunEvent, definitionHash: string | LazyHash | undefined) => void>()

/**
 * The journal's `record` as a plain call, when it is a memory journal (else undefined): it never fails and needs no
 * effect, and it keeps a success's definition hash as a function called when `succeeded` first reads it (a resume in
 * the same process), since nothing else reads it. Making each job's hash as it succeeded, and the effects around the
 * write, were ~5 of the ~15 µs an in-process no-op job cost on Node (bench/exec-memory.ts). A journal on disk writes
 * the hash with the success (and hashes the whole plan when it creates a run anyway). Looked up by the service's
 * identity, not offered as a member of it: a wrapper that spreads a journal and overrides `record` (the test kit's
 * crashable journal) is a different object, so its `record` is never bypassed.
 */
export const recordInMemory = (journal: Journal["Service"]): ((event: RunEvent.RunEvent, definitionHash: string | LazyHash | undefined) => void) | undefined =>
  inMemory.get(journal)

/** A journal kept in memory for the life of the process: runs can be resumed within it (tests), never across. */
export const layerMemory: Layer.Layer<Journal> = Layer.sync(Journal)(() => {
  interface Run {
    readonly id: string
    readonly dag: string
    readonly key: string | undefined
    status: string
    endedAt: number | undefined
    readonly jobs: Map<string, Success>
    readonly checkpoints: Map<string, Checkpoint>
    /** Attempts journaled per job. */
    readonly attempts: Map<string, number>
  }
  /** A `SucceededJob` whose definition hash may still be to make (see `recordInMemory`). */
  interface Success {
    readonly jobId: string
    readonly json: string | undefined
    definitionHash: string | LazyHash | undefined
  }
  const succeededJob = (success: Success): SucceededJob => {
    if (typeof success.definitionHash === "function") success.definitionHash = success.definitionHash()
    return { jobId: success.jobId, json: success.json, definitionHash: success.definitionHash }
  }
  /** A job's lease: its epoch and the newest holder's `lost` (one process: a new lease supersedes the last at once). */
  interface Lease {
    epoch: number
    lost: Deferred.Deferred<never, LockLost> | undefined
    placement: number | undefined
  }
  const leases = new Map<string, Lease>()
  const runs: Array<Run> = []
  const byId = new Map<string, Run>()
  const locked = new Set<string>()
  const slots = new Map<string, number>()
  const processes: Array<ProcessRecord> = []
  const cache = new Map<string, CacheEntry>()
  const memo = FileHashes.memoryMemo()
  const create = (dag: string, key: string | undefined, now: number): Run => {
    const run: Run = {
      id: makeRunId(now),
      dag,
      key,
      status: "running",
      endedAt: undefined,
      jobs: new Map(),
      checkpoints: new Map(),
      attempts: new Map()
    }
    runs.push(run)
    byId.set(run.id, run)
    return run
  }
  const latest = (predicate: (run: Run) => boolean) => runs.findLast(predicate)
  const record = (event: RunEvent.RunEvent, definitionHash: string | LazyHash | undefined): void => {
    const run = byId.get(event.runId)
    if (run === undefined) return
    if (event._tag === "AttemptStarted") run.attempts.set(event.jobId, (run.attempts.get(event.jobId) ?? 0) + 1)
    else if (event._tag === "AttemptSucceeded") {
      run.jobs.set(event.jobId, { jobId: event.jobId, json: event.json, definitionHash })
      if (event.cache !== undefined) {
        cache.delete(event.cache.key) // the newest entry last, as `latestCached` reads them
        cache.set(event.cache.key, {
          key: event.cache.key,
          dag: run.dag,
          jobId: event.jobId,
          runId: run.id,
          json: event.json,
          manifest: event.cache.manifest,
          createdAt: event.at
        })
      }
    } else if (event._tag === "JobCached") {
      run.jobs.set(event.jobId, { jobId: event.jobId, json: event.json, definitionHash })
    } else if (event._tag === "RunFinished") {
      run.status = event.status
      run.endedAt = event.at
    } else if (event._tag === "RunStarted") run.status = "running"
  }
  const journal = Journal.of({
    begin: (request) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Begun, JournalError | RunLocked, Scope.Scope> => {
        const { dag, target } = request
        let run: Run | undefined
        let resumed = false
        switch (target._tag) {
          case "New":
            run = create(dag, undefined, now)
            break
          case "Resume":
            run = target.runId === undefined
              ? latest((r) => r.dag === dag && r.status !== "succeeded")
              : byId.get(target.runId)
            if (run === undefined || run.status === "succeeded") {
              return Effect.succeed({ _tag: "NothingToResume", runId: target.runId })
            }
            resumed = true
            break
          case "Key": {
            const existing = latest((r) => r.dag === dag && r.key === target.key)
            if (existing?.status === "succeeded" && !target.force) {
              return Effect.succeed({ _tag: "AlreadySucceeded", runId: existing.id, key: target.key })
            }
            resumed = existing !== undefined && existing.status !== "succeeded"
            run = resumed ? existing! : create(dag, target.key, now)
          }
        }
        const chosen = run
        if (locked.has(chosen.id)) {
          return Effect.fail(
            new RunLocked({ runId: chosen.id, dag, key: chosen.key, pid: process.pid, host: "localhost", since: 0 })
          )
        }
        locked.add(chosen.id)
        return Effect.as(
          Effect.addFinalizer(() => Effect.sync(() => locked.delete(chosen.id))),
          { _tag: "Run" as const, runId: chosen.id, resumed, key: chosen.key }
        )
      }),
    record: (event, definitionHash) => Effect.sync(() => record(event, definitionHash)),
    // One process: nobody can take a memory journal's lock over.
    lockLost: () => Effect.never,
    leaseJob: (runId, jobId, holder, placement) =>
      Effect.gen(function*() {
        const key = `${runId}\u0000${jobId}`
        const lease = leases.get(key) ?? { epoch: 0, lost: undefined, placement: undefined }
        lease.placement = placement
        leases.set(key, lease)
        if (lease.lost !== undefined) {
          yield* Deferred.fail(lease.lost, new LockLost({ runId, holder: undefined, staleAfterMillis: 0, jobId, takenBy: holder }))
        }
        const lost = yield* Deferred.make<never, LockLost>()
        lease.epoch += 1
        lease.lost = lost
        const epoch = lease.epoch
        yield* Effect.addFinalizer(() => Effect.sync(() => {
          if (lease.lost === lost) lease.lost = undefined
        }))
        const run = byId.get(runId)
        return { epoch, attempts: run?.attempts.get(jobId) ?? 0, lost: Deferred.await(lost) }
      }),
    placements: (runId) =>
      Effect.sync(() => {
        const found = new Map<string, number>()
        for (const [key, lease] of leases) {
          const [run, jobId] = key.split("\u0000")
          if (run === runId && lease.placement !== undefined) found.set(jobId!, lease.placement)
        }
        return found
      }),
    log: () => {},
    succeeded: (runId) => Effect.sync(() => Array.from(byId.get(runId)?.jobs.values() ?? [], succeededJob)),
    checkpoint: (runId, jobId, step) =>
      Effect.sync(() => {
        const checkpoints = byId.get(runId)?.checkpoints
        const key = `${jobId}\u0000${step}`
        const saved = checkpoints?.get(key)
        return saved === undefined ? Option.none() : Option.some(saved)
      }),
    lastSlot: (dag) => Effect.sync(() => Option.fromNullishOr(slots.get(dag))),
    lastSuccess: (dag) =>
      Effect.sync(() => {
        const ended = runs.flatMap((r) => r.dag === dag && r.status === "succeeded" && r.endedAt !== undefined ? [r.endedAt] : [])
        return ended.length === 0 ? Option.none() : Option.some(Math.max(...ended))
      }),
    saveSlot: (dag, slot) => Effect.sync(() => void slots.set(dag, slot)),
    saveCheckpoint: (runId, jobId, step, checkpoint) =>
      Effect.sync(() => void byId.get(runId)?.checkpoints.set(`${jobId}\u0000${step}`, checkpoint)),
    processStarted: (record) => Effect.sync(() => void processes.push(record)),
    processEnded: (runId, pid) =>
      Effect.sync(() => {
        const index = processes.findIndex((p) => p.runId === runId && p.pid === pid)
        if (index !== -1) processes.splice(index, 1)
      }),
    processes: (runId) => Effect.sync(() => processes.filter((p) => p.runId === runId)),
    cached: (key) => Effect.sync(() => Option.fromNullishOr(cache.get(key))),
    latestCached: (dag, jobId) =>
      Effect.sync(() => Option.fromNullishOr([...cache.values()].findLast((e) => e.dag === dag && e.jobId === jobId))),
    fileMemo: Effect.succeed(memo)
  })
  inMemory.set(journal, record)
  return journal
})
