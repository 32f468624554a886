/**
 * The Reporter shows a run to people: live progress on a terminal (pretty), one line per event otherwise (plain),
 * or JSON lines for machines (json). Job logs (Effect.log inside jobs, shell output) reach it through RunLogger.
 * The views are beside it: text.ts (plain and pretty, with pretty.ts's live region and summary.ts's table) and
 * json.ts; format.ts holds the sentences and durations they share with the operator commands.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as LogLevel from "effect/LogLevel"
import { background } from "../background.ts"
import type * as RunEvent from "../RunEvent.ts"
import * as json from "./json.ts"
import * as text from "./text.ts"

export type Format = "pretty" | "plain" | "json"
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal"

/** One log line from inside a job (or from the runner itself when jobId is undefined). */
export interface LogEntry {
  readonly at: number
  readonly level: Level
  readonly message: string
  readonly jobId: string | undefined
  readonly attempt: number | undefined
  /** The run the line belongs to (a daemon reports overlapping runs), when it was logged inside one. */
  readonly runId?: string | undefined
}

export class Reporter extends Context.Service<Reporter, {
  /** Shows an event when the returned effect runs, not when it is called. */
  readonly event: (event: RunEvent.RunEvent) => Effect.Effect<void>
  /**
   * Shows several events, in order, when the returned effect runs: one effect for them all (a resumed run's restored
   * jobs, thousands at once). Optional: without it, `showAll` shows each through `event`.
   */
  readonly events?: (events: ReadonlyArray<RunEvent.RunEvent>) => Effect.Effect<void>
  readonly log: (entry: LogEntry) => void
}>()("effect-runner/Reporter") {}

/** Shows `events` in order, in one effect where the reporter can (see `events`). */
export const showAll = (reporter: Reporter["Service"], events: ReadonlyArray<RunEvent.RunEvent>): Effect.Effect<void> =>
  reporter.events?.(events) ?? Effect.forEach(events, reporter.event, { discard: true })

/** Where output goes: `process.stdout` in the CLI, an array in tests. */
export interface Output {
  readonly write: (text: string) => void
  readonly isTTY?: boolean | undefined
  readonly columns?: number | undefined
}

export interface Options {
  readonly format: Format
  readonly output: Output
  /** Colors on a pretty terminal. Default: on unless NO_COLOR is set. */
  readonly color?: boolean
  /**
   * Plain and json lines are gathered and written once per turn of the event loop (and when the layer closes) rather
   * than one write each: a resumed 10,000-job run prints thousands of lines before its first job. Default: false.
   */
  readonly buffered?: boolean
}

/** The reporter for a format. Pretty redraws its live region until the layer's scope closes. */
export const layer = (options: Options): Layer.Layer<Reporter> =>
  Layer.effect(Reporter)(Effect.gen(function*() {
    const buffer = options.buffered === true && options.format !== "pretty" ? batched(options.output) : undefined
    if (buffer !== undefined) yield* Effect.addFinalizer(() => Effect.sync(buffer.flush))
    const output = buffer ?? options.output
    const view = options.format === "json" ? json.view(output) : text.view({ ...options, output })
    if (options.format === "pretty") {
      // In the background: redraws alone do not keep a stalled process alive (see internal/background.ts).
      yield* Effect.forkScoped(background(Effect.forever(Effect.andThen(Effect.sleep(250), view.refresh))))
      yield* Effect.addFinalizer(() => view.refresh)
    }
    return Reporter.of({ event: view.event, events: view.events, log: view.log })
  }))

/** An output that gathers what is written and writes it at the next turn of the event loop, or past 64 KiB. */
const batched = (out: Output): Output & { readonly flush: () => void } => {
  let pending = ""
  let scheduled = false
  const flush = () => {
    scheduled = false
    if (pending === "") return
    const text = pending
    pending = ""
    out.write(text)
  }
  return {
    get isTTY() {
      return out.isTTY
    },
    get columns() {
      return out.columns
    },
    write: (text) => {
      pending += text
      if (pending.length >= 65536) flush()
      else if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    },
    flush
  }
}

/** How a format shows a run: its events, its log lines, and (pretty) a periodic redraw. */
export interface View {
  readonly event: (event: RunEvent.RunEvent) => Effect.Effect<void>
  readonly events: (events: ReadonlyArray<RunEvent.RunEvent>) => Effect.Effect<void>
  readonly log: (entry: LogEntry) => void
  readonly refresh: Effect.Effect<void>
}

/** A level of Effect's logger as the reporter names it. */
export const levelOf = (level: LogLevel.LogLevel): Level => {
  switch (level) {
    case "Trace":
      return "trace"
    case "Debug":
      return "debug"
    case "Warn":
      return "warn"
    case "Error":
      return "error"
    case "Fatal":
      return "fatal"
    default:
      return "info"
  }
}
