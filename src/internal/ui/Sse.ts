/**
 * Live updates as server-sent events (`/runs/<runId>/events`). While the run is running, the server re-reads the
 * run's state and new log lines every `intervalMillis` (250 ms: an update reaches the page well within a second of
 * the journal write) and sends what changed; when the run has ended it sends `end` and closes, so nothing is read
 * while nothing runs. Each event's id is the last log line sent: a reconnecting browser sends it back as
 * `Last-Event-ID` and continues from there, missing no line.
 *
 * Events: `state` (the run's status and each job's status and attempts, JSON), `log` (new lines, JSON array), `end`.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Queries from "./Queries.ts"

const LINES_PER_EVENT = 1000

interface State {
  readonly first: boolean
  readonly lastLogId: number | undefined
  readonly lastState: string
  readonly quietTicks: number
}

const lineJson = (line: { id: number; at: number; jobId: string | undefined; attempt: number | undefined; level: string; message: string }) => ({
  id: line.id,
  time: new Date(line.at).toISOString(),
  jobId: line.jobId ?? null,
  attempt: line.attempt ?? null,
  level: line.level,
  message: line.message
})

/** The event stream of a run. `lastEventId`: the last line the client has (undefined: start from now). */
export const events = (runId: string, filters: Queries.LogFilters, lastEventId: number | undefined, intervalMillis: number) =>
  Stream.paginate(
    { first: true, lastLogId: lastEventId, lastState: "", quietTicks: 0 } as State,
    (s: State) =>
      Effect.gen(function*() {
        if (!s.first) yield* Effect.sleep(intervalMillis)
        const state = yield* Queries.runState(runId)
        if (state === undefined) return [["event: end\ndata: {}\n\n"], Option.none<State>()] as const
        const out: Array<string> = ["retry: 1000\n\n"].slice(s.first ? 0 : 1)
        let lastLogId = s.lastLogId ?? state.lastLogId
        const encoded = JSON.stringify(state)
        if (encoded !== s.lastState) out.push(`id: ${lastLogId}\nevent: state\ndata: ${encoded}\n\n`)
        if (state.lastLogId > lastLogId) {
          const { lines } = yield* Queries.logPage(runId, { jobId: filters.jobId, level: filters.level }, lastLogId, LINES_PER_EVENT)
          if (lines.length > 0) {
            lastLogId = lines[lines.length - 1]!.id
            out.push(`id: ${lastLogId}\nevent: log\ndata: ${JSON.stringify(lines.map(lineJson))}\n\n`)
          } else lastLogId = state.lastLogId
        }
        const more = lastLogId < state.lastLogId
        const ended = !Queries.isLive(state.status) && !more
        if (ended) out.push(`id: ${lastLogId}\nevent: end\ndata: ${JSON.stringify({ status: state.status })}\n\n`)
        // A comment now and then keeps proxies from closing a quiet connection.
        const quietTicks = out.length === 0 ? s.quietTicks + 1 : 0
        if (quietTicks * intervalMillis >= 15_000) out.push(": keep-alive\n\n")
        const next: State = { first: false, lastLogId, lastState: encoded, quietTicks: quietTicks * intervalMillis >= 15_000 ? 0 : quietTicks }
        return [out as ReadonlyArray<string>, ended ? Option.none<State>() : Option.some(next)] as const
      })
  ).pipe(Stream.encodeText)

/** A run's log lines as plain text (the raw download), read a page at a time and streamed. */
export const rawLog = (runId: string, filters: Queries.LogFilters) =>
  Stream.paginate(0, (after) =>
    Effect.map(Queries.logPage(runId, filters, after, 5000), ({ lines, next }) =>
      [
        [lines.map((l) =>
          `${new Date(l.at).toISOString()}  ${l.jobId === undefined ? "-" : l.attempt === undefined ? l.jobId : `${l.jobId}#${l.attempt}`}  ${l.level}  ${l.message}\n`
        ).join("")].filter((t) => t !== ""),
        next === undefined ? Option.none<number>() : Option.some(next)
      ] as const)).pipe(Stream.encodeText)
