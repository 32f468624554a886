/**
 * What the executor knows about a run while it goes: one record per job (where it is, its output, its attempts, its
 * waits, how its fiber and its commit ended, its span) instead of one array per fact. The loop, the attempts and the
 * interrupt path all read and write the same record, so a fact is kept in exactly one place.
 */
import type * as Cause from "effect/Cause"
import type * as Exit from "effect/Exit"
import type * as Tracer from "effect/Tracer"
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import type * as resources from "../resources.ts"
import type * as Encoding from "../Encoding.ts"
import type * as RunEvent from "../RunEvent.ts"

/** Where a job is: not started, running its attempts, committing its success, or ended. */
export type Phase = "waiting" | "running" | "committing" | RunEvent.JobStatus

/** What a job's fiber returns when its work succeeded; its success is not journaled yet. */
export interface Finished {
  readonly output: unknown
  readonly encoded: Encoding.Encoded
  readonly attempt: number
  readonly at: number
  /** Its success is an earlier run's, reused (up-to-date skipping): it did not run. */
  readonly cached?: { readonly fromRunId: string; readonly cachedAt: number; readonly key: string }
  /** The key and manifest its success is kept under for later runs (jobs with `cache`). */
  readonly cache?: RunEvent.CacheRecord
}

/** A wait of a running job, with `call` true for a wait inside its attempt (an `r.use` call). */
export interface OpenWait {
  readonly wait: resources.Wait
  readonly call: boolean
  readonly since: number
}

/** One job of the run. Mutable: only the run's loop and the job's own fiber write it. */
export class JobState {
  phase: Phase = "waiting"
  /** Its output, once its work succeeded or it was restored. */
  output: unknown = undefined
  /** Its output as journaled: the inputs of the jobs that need it are hashed from it. */
  journaled: string | undefined = undefined
  /** The attempt running now, or the last one. */
  attempts = 0
  /** True while an attempt runs (a resource wait is then a call inside it). */
  inAttempt = false
  startedAt = 0
  endedAt = 0
  /** Time spent waiting for permits and rate-limit slots before its attempts. */
  waitedMillis = 0
  /** What it waits for now (made at its first wait: most jobs never wait). */
  waits: Array<OpenWait> | undefined = undefined
  /** Why it failed (rendered, unmasked) or why it was skipped. */
  detail: string | undefined = undefined
  /** How it failed or was interrupted, typed. */
  cause: Cause.Cause<unknown> | undefined = undefined
  /** For a job whose earlier success was reused: the run it came from. */
  cachedFrom: string | undefined = undefined
  /** Set when a process of the job outlived SIGKILL: the job is not run again beside it, it ends interrupted. */
  abandoned: string | undefined = undefined
  // How its fiber and its success commit ended, as soon as they end: an interruption that arrives before the loop has
  // taken their completion must still report (and journal) what happened.
  fiberExit: Exit.Exit<Finished, unknown> | undefined = undefined
  commitExit: Exit.Exit<void> | undefined = undefined
  /** Its lease epoch, given to its code as `Job.fencingToken` (0: no lease, a local run). */
  fencingToken = 0
  /** Its span while it is open: from its start (or skip, or restore) to its end. */
  span: Tracer.Span | undefined = undefined
  /** Set when it started with nothing exporting spans (no span was opened): its end opens none either. */
  spanless = false
  readonly planned: Plan.PlannedJob
  constructor(planned: Plan.PlannedJob) {
    this.planned = planned
  }

  get id(): string {
    return this.planned.job.id
  }

  get interruptedDetail(): string {
    return this.abandoned === undefined ? "interrupted" : `interrupted: ${this.abandoned}`
  }

  /** Its final status: a job the run never got to is skipped. */
  get status(): RunEvent.JobStatus {
    const phase = this.phase
    return phase === "waiting" || phase === "running" || phase === "committing" ? "skipped" : phase
  }

  /** Its final state for summaries. */
  summary(): RunEvent.JobSummary {
    const summary: RunEvent.JobSummary = {
      jobId: this.id,
      status: this.status,
      critical: this.planned.job.critical,
      attempts: this.attempts,
      durationMillis: this.endedAt > 0 ? this.endedAt - this.startedAt : 0,
      waitedMillis: this.waitedMillis,
      detail: this.detail
    }
    // Added when set, as the spread of an empty object did, without making that object for every job.
    return this.cachedFrom === undefined ? summary : { ...summary, cachedFrom: this.cachedFrom }
  }
}

/** The run's jobs, in plan order, and why it stopped starting new ones (if it did). */
export class RunState {
  readonly jobs: ReadonlyArray<JobState>
  readonly runId: string
  readonly dag: string
  /** Set when a critical job failed and the failure mode stops the run: the reason shown for the jobs not started. */
  stopReason: string | undefined = undefined
  constructor(plan: Plan.Plan, runId: string) {
    this.jobs = plan.jobs.map((planned) => new JobState(planned))
    this.runId = runId
    this.dag = plan.dag.name
  }

  /** True when a critical job failed or was interrupted: the run failed. */
  criticalFailed(): boolean {
    return this.jobs.some((job) => job.planned.job.critical && (job.phase === "failed" || job.phase === "interrupted"))
  }

  /** Each unfinished job and what it waits for, for the message of a process that stalls. */
  describeStall(): ReadonlyArray<string> {
    const lines: Array<string> = []
    let notStarted = 0
    for (const job of this.jobs) {
      if (job.phase === "waiting") notStarted++
      else if (job.phase === "committing") lines.push(`${job.id}: committing its success to the journal`)
      else if (job.phase === "running") {
        const what = (job.waits ?? []).map(({ call, wait }) =>
          `${call ? `attempt ${job.attempts} runs, a call inside waits` : `waits to start attempt ${job.attempts + 1}`} for ` +
          (wait.kind === "permit" ? `a permit of "${wait.resource}"` : `a rate-limit slot of "${wait.resource}"`)
        )
        lines.push(`${job.id}: ${what.length > 0 ? what.join("; ") : `attempt ${job.attempts} runs, waiting on its own work`}`)
      }
    }
    if (notStarted > 0) lines.push(`${notStarted} more job${notStarted === 1 ? "" : "s"} not started`)
    return [`run ${this.runId} of ${this.dag}:`, ...lines.map((line) => `  ${line}`)]
  }
}
