/**
 * `runner backfill status [id]` and `runner backfill cancel <id>`: what the journal knows of backfills, and asking
 * the process running one to stop (it polls the journal). Read-only but for the cancel flag; never creates a journal.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import { InvalidOption } from "../../Errors.ts"
import * as Store from "../backfill/Store.ts"
import { print } from "./common.ts"
import { isoTime, localTime, printJson, table, withJournal } from "./operator.ts"

/** What these commands read of the flags. */
export interface Input {
  readonly journal: Option.Option<string>
  readonly json: boolean
}

/** `status`: the newest backfills, or one slot by slot. */
export const status = (input: Input, id: string | undefined) =>
  withJournal(input.journal, (file) =>
    Effect.gen(function*() {
      if (id === undefined) {
        const all = yield* Store.list(20)
        const rows = yield* Effect.forEach(all, (b) => Effect.map(Store.counts(b.id), (counts) => ({ b, counts })))
        if (input.json) {
          return yield* printJson({
            backfills: rows.map(({ b, counts }) => ({ ...summaryJson(b), slots: counts }))
          })
        }
        if (rows.length === 0) return yield* print(`no backfills in ${file}`)
        return yield* print(table(
          ["backfill", "dag", "from", "to", "state", "done", "failed", "started"],
          rows.map(({ b, counts }) => {
            const total = Object.values(counts).reduce((a, n) => a + (n ?? 0), 0)
            return [
              b.id,
              b.dag,
              localTime(b.from),
              localTime(b.to),
              stateOf(b),
              `${(counts.succeeded ?? 0) + (counts.skipped ?? 0)}/${total}`,
              String((counts.failed ?? 0) + (counts.interrupted ?? 0)),
              localTime(b.createdAt)
            ]
          })
        ))
      }
      const b = yield* found(id, file)
      const slots = yield* Store.slots(b.id)
      if (input.json) return yield* printJson({ ...summaryJson(b), slots })
      const counts = yield* Store.counts(b.id)
      yield* print([
        `backfill ${b.id} of ${b.dag} (${b.file}): ${stateOf(b)}`,
        `  range ${localTime(b.from)} .. ${localTime(b.to)}, options ${b.options}`,
        `  started ${localTime(b.createdAt)}${startedBy(b)}`,
        `  slots: ${Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(", ")}`,
        table(["slot", "state", "run", "note"], slots.map((s) => [s.key, s.state, s.runId ?? "-", s.note ?? ""]))
      ].join("\n"))
    }))

/** Who started a backfill, from its journaled audit record: ` by ada@host (pid 42), git abc1234`. */
const startedBy = (b: Store.Backfill): string => {
  if (b.who === undefined) return ""
  try {
    const who = JSON.parse(b.who) as { user?: string; host?: string; pid?: number; gitCommit?: string; gitDirty?: boolean }
    const git = who.gitCommit === undefined ? "" : `, git ${who.gitCommit.slice(0, 12)}${who.gitDirty === true ? " (dirty)" : ""}`
    return ` by ${who.user ?? "?"}@${who.host ?? "?"} (pid ${who.pid ?? "?"})${git}`
  } catch {
    return ""
  }
}

/** A backfill's state, saying when its process is gone. */
const stateOf = (b: Store.Backfill): string =>
  b.state === "running" && !Store.processAlive(b) ? "stopped (its process is gone; resume it)" : b.state

const summaryJson = (b: Store.Backfill) => ({
  id: b.id,
  dag: b.dag,
  file: b.file,
  from: isoTime(b.from),
  to: isoTime(b.to),
  state: b.state,
  options: JSON.parse(b.options) as unknown,
  who: b.who === undefined ? null : JSON.parse(b.who) as unknown,
  createdAt: isoTime(b.createdAt),
  endedAt: isoTime(b.endedAt)
})

/** A backfill by id, or an error naming the journal. */
export const found = (id: string, file: string) =>
  Effect.flatMap(Store.get(id), (b) =>
    b === undefined ? Effect.fail(new InvalidOption({ where: "backfill", reason: `no backfill ${id} in ${file}` })) : Effect.succeed(b))

/**
 * `cancel`: asks the backfill's process to stop, and waits (up to a minute) until it has; a backfill whose process is
 * gone is marked cancelled at once.
 */
export const cancel = (input: Input, id: string) =>
  withJournal(input.journal, (file) =>
    Effect.gen(function*() {
      const b = yield* found(id, file)
      if (b.state !== "running") return yield* print(`backfill ${id} is not running (${b.state}); nothing to cancel`)
      const now = yield* Clock.currentTimeMillis
      if (!Store.processAlive(b)) {
        yield* Store.finish(id, "cancelled", now)
        return yield* print(`backfill ${id} cancelled (its process ${b.pid} was gone)`)
      }
      yield* Store.requestCancel(id, now)
      yield* print(`backfill ${id}: asked pid ${b.pid} on ${b.host} to stop: no more slots start, running slots are interrupted`)
      // Wait (up to a minute) for it to say how it ended.
      for (let i = 0; i < 600; i++) {
        const now = yield* Store.get(id)
        if (now === undefined || now.state !== "running" || !Store.processAlive(now)) {
          return yield* print(`backfill ${id}: ${now?.state ?? "gone"}`)
        }
        yield* Effect.sleep(100)
      }
      yield* print(`backfill ${id}: still stopping; runner backfill status ${id} shows when it has`)
    }))

