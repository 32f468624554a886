/**
 * The ready frontier of a run: the jobs whose needs have all succeeded (committed) or were restored, in the order they
 * became ready. A counter of unmet needs per job, and a queue read from its head: taking and releasing are O(1) per
 * edge, which keeps 10,000-job DAGs cheap.
 */
import type * as Dag from "../../Dag.ts"
import type * as Plan from "../Plan.ts"
import type { JobState } from "./state.ts"

export class Frontier {
  private readonly pending: Array<number>
  private readonly ready: Array<number>
  private head = 0
  private readonly plan: Plan.Plan
  private readonly jobs: ReadonlyArray<JobState>

  /**
   * `restored` jobs count as done: they are never ready, and their dependents do not wait for them. Undefined: none
   * (a new run: then no array of needs is filtered per job).
   */
  constructor(plan: Plan.Plan, jobs: ReadonlyArray<JobState>, restored: ((jobId: string) => boolean) | undefined) {
    this.plan = plan
    this.jobs = jobs
    // Counted in loops, not by arrays filtered per job: a resume of a 10,000-job run does this before its first new job.
    const pending: Array<number> = new Array(plan.jobs.length)
    const ready: Array<number> = []
    for (const p of plan.jobs) {
      let waiting = p.deps.length
      if (restored !== undefined) for (const d of p.deps) if (restored(plan.jobs[d.index]!.job.id)) waiting--
      pending[p.index] = waiting
      if (waiting === 0 && restored?.(p.job.id) !== true) ready.push(p.index)
    }
    this.pending = pending
    this.ready = ready
  }

  get isEmpty(): boolean {
    return this.head >= this.ready.length
  }

  /** The next ready job, or undefined. */
  take(): JobState | undefined {
    return this.head < this.ready.length ? this.jobs[this.ready[this.head++]!] : undefined
  }

  /** The job's success is committed: a dependent whose needs are now all met becomes ready. */
  succeeded(job: JobState): void {
    for (const d of job.planned.dependents) {
      if (--this.pending[d]! === 0 && this.jobs[d]!.phase === "waiting") this.ready.push(d)
    }
  }

  /**
   * The jobs still waiting that transitively need `job`, each with the reason shown (`what`: "failed", "was
   * interrupted"), in the order they are found.
   */
  *dependentsOf(job: JobState, what: string): Generator<readonly [JobState, string]> {
    const origin = job.id
    const seen = new Set<number>()
    const stack = job.planned.dependents.map((d) => [d, `needs "${origin}", which ${what}`] as const)
    while (stack.length > 0) {
      const [d, reason] = stack.pop()!
      const dependent = this.jobs[d]!
      if (dependent.phase !== "waiting" || seen.has(d)) continue
      seen.add(d)
      yield [dependent, reason]
      for (const next of this.plan.jobs[d]!.dependents) {
        stack.push([next, `needs "${dependent.id}", which was skipped ("${origin}" ${what})`])
      }
    }
  }
}
