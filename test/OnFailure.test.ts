/**
 * Typed errors end to end and real spans: the onFailure hook, the run's result and its RunFinished event carry each
 * failed job's Cause (a ShellExitError keeps its exitCode); each run, job and attempt is a span of the fibers' Tracer,
 * the user's effect running inside its attempt's span. The acceptance example runs through the CLI on Node, Bun, Deno.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as Dag from "../src/Dag.ts"
import { ShellExitError } from "../src/Errors.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import type * as Observer from "../src/internal/Observer.ts"
import * as Secrets from "../src/internal/Secrets.ts"
import { eventsOf, executeRun, runDag } from "./support/run.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"

const exitCodeOf = (cause: Cause.Cause<unknown>): number | undefined => {
  const error = Cause.findErrorOption(cause)
  return Option.isSome(error) && error.value instanceof ShellExitError ? error.value.exitCode : undefined
}

describe("examples/effect-native/on-failure.ts through the CLI", () => {
  it.each<RuntimeName>(["node", "bun", "deno"])("on %s: the hook matches the ShellExitError and sees exit code 3", (runtime) => {
    const result = runner(["examples/effect-native/on-failure.ts", "--log-format", "plain", "--journal", "none"], { runtime })
    assert.strictEqual(result.status, 1, result.stdout + result.stderr)
    assert.match(result.stdout, /^migrate: exit 3$/m, result.stdout + result.stderr)
  }, 60_000)
})

describe("typed failures in process", () => {
  it.live("Run.execute: the result, the onFailure summary and RunFinished carry each failed job's Cause", () =>
    Effect.gen(function*() {
      let seen: Observer.Summary<unknown> | undefined
      const fails = Job.shell("fails", ["sh", "-c", "exit 3"])
      const after = Job.make("after", { needs: { fails }, run: () => Effect.void })
      const timed = Job.make("timed", { timeout: "10 millis", run: () => Effect.never })
      const dag = Dag.make("typed", [after, timed], { onFailure: (summary) => Effect.sync(() => (seen = summary)) })
      const { events, result } = yield* executeRun(dag, { _tag: "New" }).pipe(Effect.provide(Journal.layerMemory))
      assert.strictEqual(result.status, "failed")
      const failed = new Map(result.failed.map((f) => [f.jobId, f]))
      assert.deepStrictEqual([...failed.keys()].sort(), ["fails", "timed"])
      assert.strictEqual(exitCodeOf(failed.get("fails")!.cause), 3)
      assert.match(failed.get("fails")!.error, /exited with code 3/)
      const timeout = Cause.findErrorOption(failed.get("timed")!.cause)
      assert.isTrue(Option.isSome(timeout) && (timeout.value as { _tag: string })._tag === "JobTimeout")
      // The hook's summary has the same causes; the skipped dependent has none (it did not fail).
      assert.isDefined(seen)
      assert.strictEqual(exitCodeOf(seen!.failed.find((f) => f.jobId === "fails")!.cause), 3)
      assert.isUndefined(seen!.failed.find((f) => f.jobId === "after"))
      const [finished] = eventsOf(events, "RunFinished")
      assert.strictEqual(exitCodeOf(finished!.causes!.get("fails")!), 3)
    }))

  it.effect("an interrupted job's cause is an interruption", () =>
    Effect.gen(function*() {
      const slow = Job.make("slow", { run: () => Effect.never })
      const boom = Job.make("boom", { run: () => Effect.fail("boom") })
      const { result } = yield* runDag(Dag.make("kill", [slow, boom]), { failureMode: "kill" })
      const byId = new Map(result.failed.map((f) => [f.jobId, f]))
      assert.isTrue(Cause.hasInterruptsOnly(byId.get("slow")!.cause))
      assert.deepStrictEqual(Option.getOrUndefined(Cause.findErrorOption(byId.get("boom")!.cause)), "boom")
    }))
})

/** A tracer that keeps every span it makes (Effect's own spans, recorded). */
const recordingTracer = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

describe("spans", () => {
  it.effect("a span the user opens inside a job is a child of its attempt's span, under the job's and the run's", () =>
    Effect.gen(function*() {
      let inner: Tracer.Span | undefined
      const job = Job.make("traced", {
        run: () => Effect.withSpan(Effect.map(Effect.currentSpan, (span) => void (inner = span)), "user work")
      })
      yield* runDag(Dag.make("spans", [job])).pipe(Effect.withTracer(recordingTracer().tracer))
      assert.strictEqual(inner?.name, "user work")
      const attempt = Option.getOrUndefined(inner!.parent) as Tracer.Span
      assert.strictEqual(attempt.name, "attempt 1")
      assert.strictEqual(attempt.attributes.get("runner.attempt"), 1)
      assert.strictEqual(attempt.attributes.get("runner.job.id"), "traced")
      const jobSpan = Option.getOrUndefined(attempt.parent) as Tracer.Span
      assert.strictEqual(jobSpan.name, "job traced")
      const run = Option.getOrUndefined(jobSpan.parent) as Tracer.Span
      assert.strictEqual(run.name, "run spans")
      assert.strictEqual(run.attributes.get("runner.run.id"), "test-run")
      assert.strictEqual(inner!.traceId, run.traceId)
    }))

  it.effect("with Effect's default tracer (nothing exports spans) the runner opens none: a user's span has no parent", () =>
    Effect.gen(function*() {
      let inner: Tracer.Span | undefined
      const job = Job.make("untraced", {
        run: () => Effect.withSpan(Effect.map(Effect.currentSpan, (span) => void (inner = span)), "user work")
      })
      yield* runDag(Dag.make("no-spans", [job]))
      assert.strictEqual(inner?.name, "user work")
      assert.isTrue(Option.isNone(inner!.parent))
    }))

  // Live clock: the retry's delay and the timeout are real (1 ms).
  it.live("with the fibers' Tracer: names, attributes, a retry as an event, failures as error statuses", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      let calls = 0
      const flaky = Job.make("flaky", {
        retry: { times: 1, delay: "1 millis" },
        run: () => Effect.suspend(() => ++calls === 1 ? Effect.fail("first") : Effect.succeed(1))
      })
      const broken = Job.shell("broken", ["sh", "-c", "exit 3"])
      const after = Job.make("after", { needs: { broken }, run: () => Effect.void })
      const { result } = yield* runDag(Dag.make("traced", [flaky, after]), { failureMode: "continue" }).pipe(
        Effect.withTracer(tracer)
      )
      assert.strictEqual(result.status, "failed")
      const named = (name: string) => {
        const found = spans.filter((s) => s.name === name)
        assert.strictEqual(found.length, 1, `one span ${name}: ${spans.map((s) => s.name).join(", ")}`)
        return found[0]!
      }
      const ended = (span: Tracer.Span) => {
        assert.strictEqual(span.status._tag, "Ended", span.name)
        return (span.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit
      }
      const run = named("run traced")
      assert.strictEqual(run.attributes.get("runner.run.status"), "failed")
      assert.strictEqual(run.attributes.get("runner.run.failure_mode"), "continue")
      const runExit = ended(run)
      assert.isTrue(runExit._tag === "Failure" && Cause.pretty(runExit.cause).includes("critical job failed: broken"))
      const flakySpan = named("job flaky") as Tracer.NativeSpan
      assert.strictEqual(flakySpan.attributes.get("runner.job.status"), "succeeded")
      assert.strictEqual(flakySpan.attributes.get("runner.job.attempts"), 2)
      const retry = flakySpan.events.find(([name]) => name === "retry")
      assert.deepInclude(retry?.[2], { "runner.attempt": 1, "runner.retry.next_attempt": 2, "error.message": "first" })
      const attempts = spans.filter((s) => s.name.startsWith("attempt ") && s.attributes.get("runner.job.id") === "flaky")
      assert.deepStrictEqual(attempts.map((s) => ended(s)._tag), ["Failure", "Success"])
      const brokenSpan = named("job broken")
      assert.strictEqual(brokenSpan.attributes.get("runner.job.status"), "failed")
      const brokenExit = ended(brokenSpan)
      assert.isTrue(brokenExit._tag === "Failure")
      const error = Cause.findErrorOption((brokenExit as { cause: Cause.Cause<unknown> }).cause)
      assert.deepInclude(Option.getOrUndefined(error) as object, { name: "ShellExitError" })
      const afterSpan = named("job after")
      assert.strictEqual(afterSpan.attributes.get("runner.job.status"), "skipped")
      assert.match(String(afterSpan.attributes.get("runner.job.skip_reason")), /needs "broken", which failed/)
      for (const span of spans) assert.strictEqual(span.status._tag, "Ended", `${span.name} ended`)
    }))

  it.effect("a failed span's status carries the masked text, never the secret", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const leaky = Job.make("leaky", { run: () => Effect.fail(new Error("token hunter2 refused")) })
      yield* runDag(Dag.make("masked", [leaky])).pipe(
        Effect.withTracer(tracer),
        Effect.provideService(Secrets.CurrentMasker, Secrets.make(["hunter2"]))
      )
      const statuses = spans
        .filter((s) => s.name === "job leaky" || s.name === "attempt 1" || s.name === "run masked")
        .map((s) => (s.status as Extract<Tracer.SpanStatus, { _tag: "Ended" }>).exit)
      assert.strictEqual(statuses.length, 3)
      for (const exit of statuses) {
        assert.strictEqual(exit._tag, "Failure")
        const text = JSON.stringify(Option.getOrUndefined(Cause.findErrorOption((exit as { cause: Cause.Cause<unknown> }).cause)))
        assert.notInclude(text, "hunter2")
      }
      const attempt = spans.find((s) => s.name === "attempt 1")!
      const error = Cause.findErrorOption((attempt.status as { exit: { cause: Cause.Cause<unknown> } }).exit.cause)
      assert.include((Option.getOrUndefined(error) as { message: string }).message, "token *** refused")
    }))
})
