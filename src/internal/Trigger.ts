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
  const parts = Object.fromEntries(formatter(trigger.timezone).formatToParts(slot).map((part) => [part.type, part.value]))
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

const formatters = new Map<string, Intl.DateTimeFormat>()

/** A zone's wall-clock formatter, made once (making one costs ~100x formatting with it). */
const formatter = (timezone: string): Intl.DateTimeFormat => {
  let made = formatters.get(timezone)
  if (made === undefined) {
    made = new Intl.DateTimeFormat("en-CA", {
      timeZone: timezone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23"
    })
    formatters.set(timezone, made)
  }
  return made
}

/** The wall-clock time of an instant in a zone, as if it were UTC (epoch ms): the zone's offset is this minus `at`. */
export const wallMillis = (timezone: string, at: Date): number => {
  const parts = Object.fromEntries(formatter(timezone).formatToParts(at).map((part) => [part.type, part.value]))
  return Date.UTC(
    Number(parts["year"]),
    Number(parts["month"]) - 1,
    Number(parts["day"]),
    Number(parts["hour"]),
    Number(parts["minute"]),
    Number(parts["second"])
  ) + (at.getTime() % 1000 + 1000) % 1000
}

/**
 * The instants at which a zone's wall clock shows `wall` (a wall-clock time written as UTC epoch ms), earliest first:
 * none in a spring-forward gap, two in a repeated hour, else one.
 */
export const instantsOf = (timezone: string, wall: number): ReadonlyArray<Date> => {
  const day = 86_400_000
  const offsets = new Set([wall - day, wall, wall + day].map((probe) => wallMillis(timezone, new Date(probe)) - probe))
  const found = new Set<number>()
  for (const offset of offsets) {
    const at = wall - offset
    if (wallMillis(timezone, new Date(at)) === wall) found.add(at)
  }
  return [...found].sort((a, b) => a - b).map((at) => new Date(at))
}

/**
 * The slot whose run key is `key`, if it is one: the inverse of `key`, so a keyed run (`--key 2026-01-02T02:00`, a
 * crontab line) finds the slot the scheduler would have fired. In a repeated hour the slot is the first occurrence
 * (the one the scheduler fires); a key in a spring-forward gap, or one the expression does not match, is no slot.
 */
export const slotOf = (trigger: Trigger, runKey: string): Date | undefined => {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(runKey)
  if (match === null || (match[6] !== undefined) !== trigger.seconds) return undefined
  const [year, month, day, hour, minute, second] = match.slice(1).map((part) => Number(part ?? 0))
  const wall = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!)
  for (const at of instantsOf(trigger.timezone, wall)) {
    const slot = next(trigger, new Date(at.getTime() - 1))
    if (slot.getTime() === at.getTime() && key(trigger, slot) === runKey) return slot
  }
  return undefined
}

/** The partition of a run key: its slot, until the next slot; undefined when the key is no slot of the trigger. */
export const partitionOf = (trigger: Trigger, runKey: string): { key: string; start: Date; end: Date } | undefined => {
  const start = slotOf(trigger, runKey)
  return start === undefined ? undefined : { key: runKey, start, end: next(trigger, start) }
}
