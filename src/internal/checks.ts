/**
 * Checks of option values shared by the public constructors and the CLI, so that `Dag.make({ concurrency: 0 })`,
 * `Resource.make(...)` and `--concurrency 0` are refused with the same words. Each returns a Result: a constructor
 * validated at load time throws its failure (`Result.getOrThrow`), a command fails with it (`Effect.fromResult`).
 */
import * as Result from "effect/Result"
import { InvalidOption } from "../Errors.ts"

/** `n` when it is a whole number >= 1; otherwise an InvalidOption naming `where`. */
export const positiveInteger = (n: number, where: string): Result.Result<number, InvalidOption> =>
  Number.isInteger(n) && n >= 1
    ? Result.succeed(n)
    : Result.fail(new InvalidOption({ where, reason: `must be a whole number >= 1, got ${n}` }))
