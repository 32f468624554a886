/**
 * The fibers' `Tracer` while OpenTelemetry is on: Effect's OTLP tracer behind a wrapper that does two things.
 *
 * - Masking. Every span (the runner's and the user's) is handed to the exporter with its attribute values, event
 *   attributes and error messages masked by the secrets of the runs in progress, so a `Redacted` config value's clear
 *   text is never exported. Masking happens once, when a span is handed over, not on every `attribute` call.
 * - Completion. The executor's run, job and attempt spans (recognised by their `runner.*` attributes, see traces.ts)
 *   are held until the run's events have said how they ended: a job's success is known once it is committed, after its
 *   fiber (and span) ended; the run's trigger and key arrive with its summary. A held span keeps the end time Effect
 *   gave it; the exit the events give replaces Effect's (which, for the run, is a success even when a job failed).
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

export const RUN_ID = "runner.run.id"
export const JOB_ID = "runner.job.id"
export const ATTEMPT = "runner.attempt"

type SpanOptions = Parameters<Tracer.Tracer["span"]>[0]
type Event = readonly [name: string, time: bigint, attributes: Record<string, unknown> | undefined]

/** The runner's spans of one run, found by the events of that run. */
export interface RunSpans {
  readonly span: ExportedSpan
  readonly jobs: Map<string, ExportedSpan>
  /** By `${jobId}\u0000${attempt}`. */
  readonly attempts: Map<string, ExportedSpan>
}

export const attemptKey = (jobId: string, attempt: number) => `${jobId}\u0000${attempt}`

/** What a span of the runner is, once its attributes said so. */
type Role =
  | { readonly _tag: "Run"; readonly spans: RunSpans }
  | { readonly _tag: "Job"; readonly run: RunSpans; readonly jobId: string }
  | { readonly _tag: "Attempt"; readonly run: RunSpans }

export class ExportedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly name: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly annotations: Context.Context<never>
  readonly kind: Tracer.SpanKind
  readonly sampled: boolean
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<Event> = []
  role: Role | undefined = undefined
  /** The exit the run's events gave, once they said how the span ended. */
  outcome: Exit.Exit<unknown, unknown> | undefined = undefined
  private handedOver = false
  private readonly inner: Tracer.Span
  private readonly owner: WrappedTracer

  constructor(inner: Tracer.Span, options: SpanOptions, owner: WrappedTracer) {
    this.inner = inner
    this.owner = owner
    this.name = options.name
    this.parent = options.parent
    this.annotations = options.annotations
    this.kind = options.kind
    this.sampled = options.sampled
    this.status = { _tag: "Started", startTime: options.startTime }
  }

  get spanId(): string {
    return this.inner.spanId
  }
  get traceId(): string {
    return this.inner.traceId
  }
  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.inner.links
  }

  attribute(key: string, value: unknown): void {
    if (this.status._tag === "Ended") return
    this.attributes.set(key, value)
    if (this.role === undefined) this.owner.recognise(this, key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag === "Ended") return
    this.events.push([name, startTime, attributes])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.status._tag !== "Ended") this.inner.addLinks(links)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    if (this.role === undefined || this.outcome !== undefined) this.handOver()
  }

  /** An attribute or event the run's events add, also after Effect ended the span (until it is handed over). */
  set(key: string, value: unknown): void {
    if (!this.handedOver) this.attributes.set(key, value)
  }
  addEvent(name: string, time: bigint, attributes: Record<string, unknown>): void {
    if (!this.handedOver) this.events.push([name, time, attributes])
  }

  /** The run's events said how this span ended: it is handed over now, or as soon as Effect ends it. */
  complete(exit: Exit.Exit<unknown, unknown>): void {
    if (this.outcome !== undefined) return
    this.outcome = exit
    if (this.status._tag === "Ended") this.handOver()
  }

  /** Ends a span Effect never ended (the process is closing): at `now`, interrupted. */
  forceEnd(now: bigint): void {
    this.complete(Exit.interrupt())
    if (this.status._tag !== "Ended") this.end(now, Exit.interrupt())
  }

  get open(): boolean {
    return !this.handedOver
  }

  private handOver(): void {
    if (this.handedOver || this.status._tag !== "Ended") return
    this.handedOver = true
    const mask = this.owner.mask()
    for (const [key, value] of this.attributes) this.inner.attribute(key, mask(value))
    for (const [name, time, attributes] of this.events) {
      this.inner.event(name, time, attributes === undefined ? undefined : mask(attributes))
    }
    this.inner.end(this.status.endTime, maskExit(this.outcome ?? this.status.exit, mask))
    this.owner.handedOver(this)
  }
}

type Mask = <A>(value: A) => A

/** An exit as it may be exported: a failure's errors become `{ name, message, stack }` with their text masked. */
const maskExit = (exit: Exit.Exit<unknown, unknown>, mask: Mask): Exit.Exit<unknown, unknown> => {
  if (Exit.isSuccess(exit)) return Exit.void
  if (Cause.hasInterruptsOnly(exit.cause)) return exit
  const errors = Cause.prettyErrors(exit.cause, { includeCauseInStack: true })
  if (errors.length === 0) return exit
  return Exit.failCause(Cause.fromReasons(errors.map((error) =>
    Cause.makeFailReason(mask({ name: error.name, message: error.message, ...(error.stack === undefined ? {} : { stack: error.stack }) }))
  )))
}

/** The wrapper around Effect's OTLP tracer, and the runs whose spans it holds. */
export class WrappedTracer {
  readonly runs = new Map<string, RunSpans>()
  readonly tracer: Tracer.Tracer
  /** A masker over the secrets of the runs in progress (see traces.ts). */
  readonly mask: () => Mask

  constructor(inner: Tracer.Tracer, mask: () => Mask) {
    this.mask = mask
    this.tracer = Tracer.make({
      // The name goes to the exporter as given at the start: it is masked with the secrets known then.
      span: (options) => new ExportedSpan(inner.span({ ...options, name: mask()(options.name) }), options, this),
      context: inner.context
    })
  }

  /** A runner span says what it is by its first `runner.*` attribute, given when Effect opens it. */
  recognise(span: ExportedSpan, key: string, value: unknown): void {
    const parent = Option.getOrUndefined(span.parent)
    const parentRole = parent instanceof ExportedSpan ? parent.role : undefined
    if (key === RUN_ID && typeof value === "string" && parentRole === undefined) {
      const spans: RunSpans = { span, jobs: new Map(), attempts: new Map() }
      span.role = { _tag: "Run", spans }
      this.runs.set(value, spans)
    } else if (key === JOB_ID && typeof value === "string" && parentRole?._tag === "Run") {
      span.role = { _tag: "Job", run: parentRole.spans, jobId: value }
      parentRole.spans.jobs.set(value, span)
    } else if (key === ATTEMPT && typeof value === "number" && parentRole?._tag === "Job") {
      span.role = { _tag: "Attempt", run: parentRole.run }
      parentRole.run.attempts.set(attemptKey(parentRole.jobId, value), span)
    }
  }

  handedOver(span: ExportedSpan): void {
    if (span.role?._tag === "Run") {
      for (const [runId, spans] of this.runs) if (spans.span === span) this.runs.delete(runId)
    }
  }
}
