/**
 * The slots a backfill runs: those of the DAG's schedule (or of `--every` for a DAG without one) in `[from, to)`,
 * read in the schedule's (or `--timezone`'s) zone. They come from Trigger's `next` and `key`, the scheduler's own, so
 * a backfilled slot has the very run key the scheduler and cron lines write: a slot in a spring-forward gap does not
 * exist, and a wall-clock time that happens twice is one slot. Bad input throws `InvalidOption` naming the flag.
 */
import { InvalidOption } from "../../Errors.ts"
import type * as Partition from "../../Partition.ts"
import * as Trigger from "../Trigger.ts"

/** How slots are made and named: the schedule's, or `--every`'s for a DAG without one. */
export interface Cadence {
  readonly trigger: Trigger.Trigger
  /** Where it comes from, as said to people: `schedule "0 2 * * *" in Europe/Berlin`, `--every 1d in UTC`. */
  readonly description: string
  /** A slot's run key. */
  readonly key: (slot: Date) => string
}

/** One slot: its run key, its time, and the next slot's time (its Partition). */
export type Slot = Partition.Partition

/** A backfill's slots, oldest first. */
export interface Range {
  readonly cadence: Cadence
  readonly from: Date
  readonly to: Date
  readonly slots: ReadonlyArray<Slot>
}

/** A range with more slots than this is refused outright (a typo like `--every "* * * * * *"` over a year). */
export const MAX_SLOTS = 1_000_000

const invalid = (where: string, reason: string) => new InvalidOption({ where, reason })

/** Throws unless `zone` is an IANA time zone this runtime knows. */
export const checkZone = (zone: string, where: string): void => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone })
  } catch {
    throw invalid(where, `unknown time zone ${JSON.stringify(zone)} (an IANA name such as Europe/Berlin or UTC)`)
  }
}

/** The `--every` shorthands: daily and hourly slots, keyed by day and by hour. */
const shorthands: Record<string, { readonly cron: string; readonly length: number }> = {
  "1d": { cron: "0 0 * * *", length: 10 },
  "1h": { cron: "0 * * * *", length: 13 }
}

const normalize = (expression: string) => expression.trim().split(/\s+/).join(" ")

/**
 * The cadence of a backfill of `dag`: its schedule, or `--every`. On a scheduled DAG the schedule wins: `--every`
 * must say the same expression and `--timezone` the same zone, or it is refused (the scheduler's keys would differ).
 */
export const cadence = (
  dag: { readonly name: string; readonly trigger: Trigger.Trigger | undefined },
  options: { readonly every?: string | undefined; readonly timezone?: string | undefined }
): Cadence => {
  const { every, timezone } = options
  if (timezone !== undefined) checkZone(timezone, "--timezone")
  const trigger = dag.trigger
  if (trigger !== undefined) {
    const schedule = `schedule ${JSON.stringify(trigger.expression)} in ${trigger.timezone}`
    if (every !== undefined) {
      const expression = shorthands[every.trim()]?.cron ?? every
      if (normalize(expression) !== normalize(trigger.expression)) {
        throw invalid(
          "--every",
          `${JSON.stringify(every)} disagrees with dag "${dag.name}"'s ${schedule}: the schedule wins (its slots are the run ` +
            `keys the scheduler and cron lines write); leave --every out`
        )
      }
    }
    if (timezone !== undefined && timezone !== trigger.timezone) {
      throw invalid(
        "--timezone",
        `${timezone} disagrees with dag "${dag.name}"'s ${schedule}: the schedule's zone wins (it names the slots' run ` +
          `keys); leave --timezone out`
      )
    }
    return { trigger, description: schedule, key: (slot) => Trigger.key(trigger, slot) }
  }
  if (every === undefined) {
    throw invalid(
      "--every",
      `dag "${dag.name}" has no schedule: say how often its slots come, --every 1d (keys 2026-01-02), --every 1h ` +
        `(keys 2026-01-02T05) or --every "<cron expression>"`
    )
  }
  const zone = timezone ?? Trigger.localTimeZone()
  const shorthand = shorthands[every.trim()]
  const made = Trigger.make("--every", { schedule: shorthand?.cron ?? every, timezone: zone })
  const description = `--every ${every} in ${zone}`
  return shorthand === undefined
    ? { trigger: made, description, key: (slot) => Trigger.key(made, slot) }
    : { trigger: made, description, key: (slot) => Trigger.key(made, slot).slice(0, shorthand.length) }
}

/** The first instant at which the zone's wall clock shows `wall` or later (a time in a gap: the end of the gap). */
const instantOfWall = (zone: string, wall: number): Date => {
  const found = Trigger.instantsOf(zone, wall)
  if (found.length > 0) return found[0]!
  let lo = wall - 15 * 3_600_000
  let hi = wall + 15 * 3_600_000
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2)
    if (Trigger.wallMillis(zone, new Date(mid)) >= wall) hi = mid
    else lo = mid
  }
  return new Date(hi)
}

const boundPattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * `--from`/`--to`: a date (`2026-01-02`, its midnight), a wall-clock time (`2026-01-02T05`, `2026-01-02T05:30`,
 * `...:15`) in `zone`, or an instant with its offset (`2026-01-02T05:30Z`, `...+01:00`).
 */
export const parseBound = (text: string, zone: string, where: string): Date => {
  const match = boundPattern.exec(text.trim())
  const bad = (why: string) =>
    invalid(where, `${JSON.stringify(text)} is ${why} (write a date 2026-01-02, or a time 2026-01-02T05:30 in ${zone})`)
  if (match === null) throw bad("not a date or time")
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  const wall = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(wall)
  if (
    check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day ||
    hour > 23 || minute > 59 || second > 59
  ) throw bad("not a valid date")
  const offset = match[7]
  if (offset === undefined) return instantOfWall(zone, wall)
  if (offset === "Z") return check
  const sign = offset.startsWith("-") ? -1 : 1
  const digits = offset.slice(1).replace(":", "")
  return new Date(wall - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000)
}

/** The slots of a cadence in `[from, to)`, oldest first; throws past `limit`. */
export const between = (cadence: Cadence, from: Date, to: Date, limit = MAX_SLOTS): ReadonlyArray<Slot> => {
  const slots: Array<Slot> = []
  let slot = Trigger.next(cadence.trigger, new Date(from.getTime() - 1))
  while (slot.getTime() < to.getTime()) {
    const end = Trigger.next(cadence.trigger, slot)
    slots.push({ key: cadence.key(slot), start: slot, end })
    if (slots.length > limit) {
      throw invalid("--from/--to", `more than ${limit.toLocaleString("en-US")} slots of ${cadence.description}: narrow the range`)
    }
    slot = end
  }
  return slots
}

/** Resolves a backfill's flags against its DAG: the cadence, the bounds in its zone, and the slots between. */
export const resolve = (
  dag: { readonly name: string; readonly trigger: Trigger.Trigger | undefined },
  options: {
    readonly from: string
    readonly to: string
    readonly every?: string | undefined
    readonly timezone?: string | undefined
  }
): Range => {
  const made = cadence(dag, options)
  const zone = made.trigger.timezone
  const from = parseBound(options.from, zone, "--from")
  const to = parseBound(options.to, zone, "--to")
  if (from.getTime() >= to.getTime()) {
    throw invalid(
      "--from",
      `${options.from} is ${from.getTime() === to.getTime() ? "the same time as" : "after"} --to ${options.to}: the range ` +
        `[from, to) is empty`
    )
  }
  return { cadence: made, from, to, slots: between(made, from, to) }
}
