/**
 * Runs `runner schedule`'s loop in-process on the TestClock: from `start` for `span`, then stops it gracefully (with
 * two more hours for runs still going) and returns how it stopped, its own log lines and the runs' events.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/testing/TestClock"
import type * as Dag from "../../src/Dag.ts"
import type * as Journal from "../../src/internal/Journal.ts"
import * as Plan from "../../src/internal/Plan.ts"
import * as RunLogger from "../../src/internal/RunLogger.ts"
import * as Scheduler from "../../src/internal/Scheduler.ts"
import { type Collected, collectingReporter } from "./run.ts"

export const schedule = (
  dag: Dag.Dag,
  journal: Context.Context<Journal.Journal>,
  options: { readonly start: number; readonly span: Duration.Input; readonly grace?: Duration.Input; readonly maxCatchUp?: number }
) =>
  Effect.gen(function*() {
    const collected: Collected = { events: [], logs: [] }
    const plan = yield* Plan.plan(dag)
    const stop = { graceful: yield* Deferred.make<void>(), now: yield* Deferred.make<void>() }
    yield* TestClock.setTime(options.start)
    const fiber = yield* Effect.forkChild(Scheduler.run([{ file: "test", plan, trigger: dag.trigger! }], {
      concurrency: () => 4,
      failureMode: "no-new",
      maxCatchUp: options.maxCatchUp ?? 10,
      grace: Duration.fromInputUnsafe(options.grace ?? "1 hour"),
      runnerVersion: "test"
    }, stop).pipe(
      Effect.provide(Layer.mergeAll(
        NodeServices.layer,
        FetchHttpClient.layer,
        RunLogger.layer.pipe(Layer.provideMerge(Layer.merge(Layer.succeedContext(journal), collectingReporter(collected))))
      ))
    ))
    yield* TestClock.adjust(options.span)
    yield* Deferred.succeed(stop.graceful, undefined)
    yield* TestClock.adjust("2 hours")
    const stopped = yield* Fiber.join(fiber)
    const messages = collected.logs.filter((l) => l.jobId === undefined).map((l) => l.message)
    return { stopped, messages, events: collected.events }
  })
