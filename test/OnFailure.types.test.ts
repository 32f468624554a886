/** Type-level tests of the hooks' summary: checked by `tsc` in `npm test` (each @ts-expect-error fails the build if it compiles). */
import { describe, expectTypeOf, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Dag from "../src/Dag.ts"
import type * as Errors from "../src/Errors.ts"
import * as Job from "../src/Job.ts"
import type { ShellError } from "../src/internal/shell.ts"

class Boom extends Data.TaggedError("Boom")<{ readonly code: number }> {}

describe("onFailure's summary", () => {
  it("carries the union of the jobs' errors and the runner's own", () => {
    const boom = Job.make("boom", { run: () => Effect.fail(new Boom({ code: 1 })) })
    const sh = Job.shell("sh", ["false"])
    Dag.make("d", [boom, sh], {
      onFailure: (summary) => {
        expectTypeOf(summary.failed[0]!.cause).toEqualTypeOf<Cause.Cause<Boom | ShellError | Dag.RunnerFailure>>()
        const error = Cause.findErrorOption(summary.failed[0]!.cause)
        if (Option.isSome(error) && error.value._tag === "ShellExitError") {
          expectTypeOf(error.value.exitCode).toEqualTypeOf<number>()
        }
        if (Option.isSome(error) && error.value._tag === "Boom") expectTypeOf(error.value.code).toEqualTypeOf<number>()
        // @ts-expect-error no job of this DAG fails with a tag "Nope"
        if (Option.isSome(error) && error.value._tag === "Nope") return Effect.void
        return Effect.void
      }
    })
  })

  it("a job that cannot fail still meets the runner's failures: timeout, open circuit, invalid output", () => {
    const ok = Job.make("ok", { run: () => Effect.succeed(1) })
    Dag.make("d", [ok], {
      onSuccess: (summary) => {
        expectTypeOf(summary.failed[0]!.cause).toEqualTypeOf<
          Cause.Cause<Errors.JobTimeout | Errors.CircuitOpen | Errors.OutputInvalid | Errors.OutputNotJournalable>
        >()
        return Effect.void
      }
    })
  })

  it("an included DAG is not typed by its jobs: the union is unknown", () => {
    const inner = Dag.make("inner", [Job.make("x", { run: () => Effect.succeed(1) })])
    Dag.make("outer", [inner], {
      onFailure: (summary) => {
        expectTypeOf(summary.failed[0]!.cause).toEqualTypeOf<Cause.Cause<unknown>>()
        return Effect.void
      }
    })
  })

  it("a hook written for the summary of any DAG still fits", () => {
    const hook: Dag.Hook = (summary) => Effect.log(summary.failed.length)
    Dag.make("d", [Job.shell("sh", ["false"])], { onFailure: hook })
  })
})
