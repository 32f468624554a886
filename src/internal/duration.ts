/** Duration parsing shared by job options, resources and CLI flags: invalid or negative inputs are errors, not NaN. */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { InvalidOption } from "../Errors.ts"

const units: Record<string, (n: number) => Duration.Duration> = {
  ms: Duration.millis,
  s: Duration.seconds,
  m: Duration.minutes,
  h: Duration.hours,
  d: Duration.days,
  w: Duration.weeks
}

/** `30d`, `12h`, `90m`, `2w`, `45s`, `500ms`, or an Effect duration (`"30 days"`, `500`); finite and not negative. */
export const fromInput = (input: Duration.Input): Option.Option<Duration.Duration> => {
  const short = typeof input === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(input.trim()) : null
  const parsed = short !== null
    ? Option.some(units[short[2]!]!(Number(short[1])))
    : Duration.fromInput(typeof input === "string" ? input.trim() as Duration.Input : input)
  return Option.filter(parsed, (d) => Duration.isFinite(d) && !Duration.isNegative(d))
}

/** Parses a duration input, throwing an InvalidOption that names `where` when it is malformed or negative. */
export const parse = (input: Duration.Input, where: string): Duration.Duration => {
  const parsed = Option.getOrUndefined(fromInput(input))
  if (parsed === undefined) {
    throw new InvalidOption({ where, reason: `invalid duration ${JSON.stringify(String(input))} (use e.g. "500 millis", "5 minutes", "30s")` })
  }
  return parsed
}
