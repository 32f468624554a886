/** A tracer whose spans stay in memory, for tests that look at the spans the runner opens. */
import * as Tracer from "effect/Tracer"

/** The tracer, every span it made, and `handed`: those ended (as an exporter gets them). */
export const memoryTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { tracer, spans, handed: () => spans.filter((s) => s.status._tag === "Ended") }
}
