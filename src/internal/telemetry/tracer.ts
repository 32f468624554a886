/**
 * The fibers' `Tracer` while OpenTelemetry is on: Effect's OTLP tracer behind a wrapper that masks. Every span (the
 * runner's run, job and attempt spans, which the executor opens and ends with their outcome, and every span a job
 * opens) is handed to the exporter with its attribute values, event attributes and error messages masked by the
 * secrets of the runs in progress, so a `Redacted` config value's clear text is never exported. Masking happens once,
 * when a span ends, not on every `attribute` call; a span's name is masked when it starts.
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

type SpanOptions = Parameters<Tracer.Tracer["span"]>[0]
type Event = readonly [name: string, time: bigint, attributes: Record<string, unknown> | undefined]

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
    if (this.status._tag !== "Ended") this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    if (this.status._tag !== "Ended") this.events.push([name, startTime, attributes])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    if (this.status._tag !== "Ended") this.inner.addLinks(links)
  }

  /** Ends the span and hands it to the exporter, masked. */
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    if (this.status._tag === "Ended") return
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
    this.owner.open.delete(this)
    const mask = this.owner.mask()
    for (const [key, value] of this.attributes) this.inner.attribute(key, mask(value))
    for (const [name, time, attributes] of this.events) {
      this.inner.event(name, time, attributes === undefined ? undefined : mask(attributes))
    }
    this.inner.end(endTime, maskExit(exit, mask))
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

/** The wrapper around Effect's OTLP tracer, and the spans still open (ended, interrupted, when the exporter closes). */
export class WrappedTracer {
  readonly open = new Set<ExportedSpan>()
  readonly tracer: Tracer.Tracer
  /** A masker over the secrets of the runs in progress (see traces.ts). */
  readonly mask: () => Mask

  constructor(inner: Tracer.Tracer, mask: () => Mask) {
    this.mask = mask
    this.tracer = Tracer.make({
      // The name goes to the exporter as given at the start: it is masked with the secrets known then.
      span: (options) => {
        const span = new ExportedSpan(inner.span({ ...options, name: mask()(options.name) }), options, this)
        this.open.add(span)
        return span
      },
      context: inner.context
    })
  }

  /** Ends what is still open (the process is closing): at `now`, interrupted. */
  endAll(now: bigint): void {
    for (const span of [...this.open]) span.end(now, Exit.interrupt())
  }
}
