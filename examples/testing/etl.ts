// A small ETL DAG, tested in etl.test.ts (vitest), etl.bun.test.ts (bun test) and etl.deno.test.ts (deno test).
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Checkpoint, Dag, Job } from "effect-runner"

export class SourceDown extends Data.TaggedError("SourceDown")<{ readonly status: number }> {}

export const extract = Job.make("extract", {
  output: Schema.Struct({ ids: Schema.Array(Schema.Number) }),
  retry: { times: 3, delay: "30 seconds", factor: 2 },
  run: () => Effect.succeed({ ids: [1, 2, 3] })
})

/** Loads each id as its own checkpointed step: a crash after id 2 redoes only id 3. */
export const load = Job.make("load", {
  needs: { extract },
  timeout: "5 minutes",
  run: ({ extract }) =>
    Effect.forEach(extract.ids, (id) => Effect.succeed(id * 10).pipe(Checkpoint.step(`id-${id}`))).pipe(
      Effect.map((rows) => ({ loaded: rows.length }))
    )
})

export default Dag.make("etl", [extract, load])
