/**
 * When a scheduled DAG runs: its cron expression read in a time zone, and the slots it produces. A slot that does
 * not exist on the wall clock (skipped by a daylight-saving jump) is never invented, and a wall-clock time that
 * happens twice (clocks going back) is one slot. Each slot has a run key, its local time, shared by `runner schedule`
 * and the crontab lines of `runner cron`, so both never run the same slot twice.
 */
import * as Cron from "effect/Cron"
import * as Result from "effect/Result"
import { InvalidOption } from "../Errors.ts"

export type CatchUp = "none" | "latest" | "all"
export type Overlap = "skip" | "queue" | "allow"

export interface Trigger {
  readonly expression: string
  readonly timezone: string
  readonly cron: Cron.Cron
  /** Whether the expression has a seconds field (then run keys have seconds too). */
  readonly seconds: boolean
  readonly catchUp: CatchUp
  readonly overlap: Overlap
}

const catchUps: ReadonlyArray<CatchUp> = ["none", "latest", "all"]
const overlaps: ReadonlyArray<Overlap> = ["skip", "queue", "allow"]

/** The machine's time zone. */
export const localTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone ?? "UTC"

/** Validates a schedule; throws InvalidOption naming `where` (the task file's loader adds the file and line). */
export const make = (where: string, options: {
  readonly schedule: string
  readonly timezone?: string | undefined
  readonly catchUp?: CatchUp | undefined
  readonly overlap?: Overlap | undefined
}): Trigger => {
  const timezone = options.timezone ?? localTimeZone()
  const parsed = Cron.parse(options.schedule, timezone)
  if (Result.isFailure(parsed)) {
    const zone = parsed.failure.message.includes("time zone") ? ` ${JSON.stringify(timezone)}` : ""
    throw new InvalidOption({
      where: `${where} schedule ${JSON.stringify(options.schedule)}`,
      reason: `${parsed.failure.message}${zone}`
    })
  }
  const catchUp = options.catchUp ?? "latest"
  if (!catchUps.includes(catchUp)) {
    throw new InvalidOption({ where: `${where} catchUp`, reason: `must be one of ${catchUps.join(", ")}, got ${JSON.stringify(catchUp)}` })
  }
  const overlap = options.overlap ?? "skip"
  if (!overlaps.includes(overlap)) {
    throw new InvalidOption({ where: `${where} overlap`, reason: `must be one of ${overlaps.join(", ")}, got ${JSON.stringify(overlap)}` })
  }
  return {
    expression: options.schedule,
    timezone,
    cron: parsed.success,
    seconds: options.schedule.trim().split(/\s+/).length === 6,
    catchUp,
    overlap
  }
}

/** The first real slot strictly after `after`. */
export const next = (trigger: Trigger, after: Date): Date => {
  let slot = Cron.next(trigger.cron, after)
  // Cron moves a time inside a daylight-saving gap to after the gap; that wall-clock time never happened: skip it.
  while (!Cron.match(trigger.cron, slot)) slot = Cron.next(trigger.cron, slot)
  return slot
}

/** The real slots in (from, to], oldest first, at most `limit` of the newest when there are more. */
export const between = (trigger: Trigger, from: Date, to: Date, limit = 10_000): ReadonlyArray<Date> => {
  const slots: Array<Date> = []
  for (let slot = next(trigger, from); slot.getTime() <= to.getTime(); slot = next(trigger, slot)) {
    slots.push(slot)
    if (slots.length > limit) slots.shift()
  }
  return slots
}

/** The run key of a slot: its wall-clock time in the trigger's zone, `YYYY-MM-DDTHH:MM` (`:SS` with seconds). */
export const key = (trigger: Trigger, slot: Date): string => {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-CA", {
      timeZone: trigger.timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23"
    }).formatToParts(slot).map((part) => [part.type, part.value])
  )
  const minute = `${parts["year"]}-${parts["month"]}-${parts["day"]}T${parts["hour"]}:${parts["minute"]}`
  return trigger.seconds ? `${minute}:${parts["second"]}` : minute
}

/** What to do about the slots missed while nothing was running, given the catch-up mode. */
export const catchUp = (
  trigger: Trigger,
  missed: ReadonlyArray<Date>,
  maxCatchUp: number
): { readonly run: ReadonlyArray<Date>; readonly skip: ReadonlyArray<Date> } => {
  switch (trigger.catchUp) {
    case "none":
      return { run: [], skip: missed }
    case "latest":
      return { run: missed.slice(-1), skip: missed.slice(0, -1) }
    case "all": {
      const run = missed.slice(-maxCatchUp)
      return { run, skip: missed.slice(0, missed.length - run.length) }
    }
  }
}
