/**
 * The user's layers around a run. The DAG's `layer` is built once before the first job starts; a job's own `layer`
 * on its first attempt (its retries reuse it). All are built in the run's scope, so they are released when the run
 * ends (success, failure or interruption), and through one MemoMap, so a layer two jobs (or the DAG and a job) share
 * is built once. A job without a layer pays nothing: the DAG's services are provided once, around the executor.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Job from "../Job.ts"

/** Builds a layer once per run (memoised), in the run's scope. */
export interface Builder {
  readonly build: (layer: Layer.Layer<any, any, any>) => Effect.Effect<Context.Context<any>, unknown, Job.Services>
}

/** The run's builder; undefined when the executor runs on its own (each attempt then builds the job's layer). */
export const CurrentBuilder = Context.Reference<Builder | undefined>("effect-runner/internal/layers/CurrentBuilder", {
  defaultValue: () => undefined
})

/** A builder whose layers live until `scope` closes. */
export const make = (scope: Scope.Scope): Effect.Effect<Builder> =>
  Effect.map(Layer.makeMemoMap, (memoMap) => ({
    build: (layer) => Layer.buildWithMemoMap(layer, memoMap, scope) as Effect.Effect<Context.Context<any>, unknown, Job.Services>
  }))

/** Provides a job's own layer (if any) to one attempt of it. */
export const provideJob = <A, E>(
  job: Job.Any,
  effect: Effect.Effect<A, E, any>
): Effect.Effect<A, unknown, Job.Services> => {
  const layer = job.layer
  if (layer === undefined) return effect
  return Effect.flatMap(CurrentBuilder, (builder) =>
    builder === undefined
      ? Effect.provide(effect, layer)
      : Effect.flatMap(builder.build(layer), (context) => Effect.provideContext(effect, context)))
}
