/** Duration parsing shared by job options, resources and CLI flags: invalid or negative inputs are errors, not NaN. */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import { InvalidOption } from "../Errors.ts"

/** Parses a duration input, throwing an InvalidOption that names `where` when it is malformed or negative. */
export const parse = (input: Duration.Input, where: string): Duration.Duration => {
  const parsed = Option.getOrUndefined(Duration.fromInput(input))
  if (parsed === undefined || Duration.isNegative(parsed)) {
    throw new InvalidOption({ where, reason: `invalid duration ${JSON.stringify(String(input))} (use e.g. "500 millis", "5 minutes")` })
  }
  return parsed
}
