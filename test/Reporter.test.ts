import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Dag from "../src/Dag.ts"
import { ShellExitError } from "../src/Errors.ts"
import * as Job from "../src/Job.ts"
import * as Journal from "../src/internal/Journal.ts"
import * as renderText from "../src/internal/render.ts"
import { countJobs, describeCounts, describeEvent, formatAge, formatMillis } from "../src/internal/reporter/format.ts"
import * as Reporter from "../src/internal/reporter/Reporter.ts"
import type * as RunEvent from "../src/internal/RunEvent.ts"
import { executeRun } from "./support/run.ts"

const events: ReadonlyArray<RunEvent.RunEvent> = [
  { _tag: "RunStarted", runId: "r1", resumed: false, dag: "d", at: 0, jobIds: ["a", "b"], concurrency: 2, failureMode: "no-new" },
  { _tag: "AttemptStarted", runId: "r1", jobId: "a", attempt: 1, at: 10 },
  { _tag: "AttemptStarted", runId: "r1", jobId: "b", attempt: 1, at: 10 },
  { _tag: "AttemptSucceeded", runId: "r1", jobId: "a", attempt: 1, at: 1510, output: 1, json: "1" },
  {
    _tag: "AttemptFailed",
    runId: "r1",
    jobId: "b",
    attempt: 1,
    at: 2000,
    error: "boom",
    cause: undefined as never,
    retryInMillis: undefined
  },
  {
    _tag: "RunFinished",
    runId: "r1",
    dag: "d",
    at: 2000,
    status: "failed",
    durationMillis: 2000,
    jobs: [
      { jobId: "a", status: "succeeded", critical: true, attempts: 1, durationMillis: 1500, detail: undefined },
      { jobId: "b", status: "failed", critical: true, attempts: 1, durationMillis: 1990, detail: "boom" }
    ]
  }
]

const render = (format: Reporter.Format) =>
  Effect.gen(function*() {
    const chunks: Array<string> = []
    const output = { write: (text: string) => void chunks.push(text), isTTY: format === "pretty", columns: 80 }
    yield* Effect.gen(function*() {
      const reporter = yield* Reporter.Reporter
      for (const event of events.slice(0, 3)) yield* reporter.event(event)
      reporter.log({ at: 20, level: "info", message: "hello from a", jobId: "a", attempt: 1, runId: "r1" })
      for (const event of events.slice(3)) yield* reporter.event(event)
    }).pipe(Effect.provide(Layer.fresh(Reporter.layer({ format, output, color: true }))))
    return chunks
  })

describe("Reporter", () => {
  it.effect("pretty keeps a live region of running jobs and counts, redrawn in place, then a summary", () =>
    Effect.gen(function*() {
      const chunks = yield* render("pretty")
      const all = chunks.join("")
      assert.match(all, /\[0\/2\].*0 done.*2 running/)
      assert.include(all, "\x1b[2A\r\x1b[J", "the region is cleared before new lines are printed")
      assert.match(all, /\[a\].*hello from a/)
      assert.match(all, /run r1 failed in 2\.0s: critical job "b" failed/)
      assert.notMatch(chunks.at(-1)!, /running/, "no live region after the summary")
    }))

  it.effect("pretty truncates long job ids to the terminal width without cutting escape codes", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      const id = "x".repeat(80)
      yield* Effect.gen(function*() {
        const reporter = yield* Reporter.Reporter
        yield* reporter.event({ ...events[0]!, jobIds: [id] } as RunEvent.RunEvent)
        yield* reporter.event({ _tag: "AttemptStarted", runId: "r1", jobId: id, attempt: 1, at: 10 })
      }).pipe(Effect.provide(Layer.fresh(Reporter.layer({
        format: "pretty",
        output: { write: (t) => void chunks.push(t), isTTY: true, columns: 40 },
        color: true
      }))))
      const all = chunks.join("")
      assert.include(all, "x".repeat(15) + "…")
      assert.notInclude(all, "x".repeat(17))
      assert.isTrue(all.split("\x1b").slice(1).every((part) => /^\[[0-9;]*[A-Za-z]/.test(part)), "every escape code is whole")
    }))

  it.effect("plain prints one line per event, the summary table, and no escape codes", () =>
    Effect.gen(function*() {
      const all = (yield* render("plain")).join("")
      assert.notInclude(all, "\x1b[")
      assert.match(all, /^00:00:00 a started$/m)
      assert.match(all, /^00:00:01 a ✓ succeeded in 1\.5s$/m)
      assert.match(all, /^00:00:02 b ✗ attempt 1 failed: boom$/m)
      assert.match(all, /^a\s+succeeded\s+1\s+1\.5s\s+-$/m)
      assert.match(all, /^b\s+failed\s+1\s+2\.0s\s+-\s+boom$/m)
    }))

  it.effect("json writes one object per line with the documented fields", () =>
    Effect.gen(function*() {
      const lines = (yield* render("json")).join("").trim().split("\n").map((l) => JSON.parse(l))
      assert.strictEqual(lines.length, 7)
      assert.deepStrictEqual(lines[3], {
        ts: "1970-01-01T00:00:00.020Z",
        level: "info",
        dag: "d",
        runId: "r1",
        jobId: "a",
        attempt: 1,
        event: "Log",
        message: "hello from a"
      })
      assert.deepInclude(lines[5], { event: "AttemptFailed", level: "error", error: "boom", jobId: "b" })
    }))

  it.effect("pretty shows the jobs waiting for a permit or a rate-limit slot, and each job's time ran and waited", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      const start = { _tag: "RunStarted", runId: "r1", resumed: false, dag: "d", at: 0, jobIds: ["a", "b", "c", "r2"], concurrency: 4, failureMode: "no-new" } as const
      const waiting = (jobId: string, resource: string, kind: "permit" | "rate", until?: number) =>
        ({ _tag: "JobWaiting", runId: "r1", jobId, attempt: 1, at: 0, resource, kind, until, call: false }) as const
      yield* Effect.gen(function*() {
        const reporter = yield* Reporter.Reporter
        yield* reporter.event(start)
        yield* reporter.event({ _tag: "AttemptStarted", runId: "r1", jobId: "a", attempt: 1, at: 0 })
        yield* reporter.event(waiting("b", "db", "permit"))
        yield* reporter.event(waiting("c", "db", "permit"))
        yield* reporter.event(waiting("r2", "api", "rate", 8000))
        chunks.push("<mark>")
        yield* reporter.event({ _tag: "AttemptSucceeded", runId: "r1", jobId: "a", attempt: 1, at: 2000, output: 1, json: "1" })
        yield* reporter.event({ _tag: "JobAdmitted", runId: "r1", jobId: "b", attempt: 1, at: 2000, resource: "db", kind: "permit", call: false, waitedMillis: 2000 })
        yield* reporter.event({ _tag: "AttemptStarted", runId: "r1", jobId: "b", attempt: 1, at: 2000 })
        yield* reporter.event({ _tag: "AttemptSucceeded", runId: "r1", jobId: "b", attempt: 1, at: 4100, output: 1, json: "1" })
        chunks.push("<mark>")
        yield* reporter.event({
          _tag: "RunFinished",
          runId: "r1",
          dag: "d",
          at: 4100,
          status: "succeeded",
          durationMillis: 4100,
          jobs: [
            { jobId: "a", status: "succeeded", critical: true, attempts: 1, durationMillis: 2000, waitedMillis: 0, detail: undefined },
            { jobId: "b", status: "succeeded", critical: true, attempts: 1, durationMillis: 4100, waitedMillis: 2000, detail: undefined }
          ]
        })
      }).pipe(Effect.provide(Layer.fresh(Reporter.layer({
        format: "pretty",
        output: { write: (t) => void chunks.push(t), isTTY: true, columns: 100 },
        color: false
      }))))
      const [waits, live, summary] = chunks.join("").split("<mark>")
      assert.include(waits, "waiting: b, c for db; r2 for api, next slot in 8 s")
      assert.match(waits!, /1 running · 3 waiting/)
      assert.match(live!, /^\S+ a ✓ succeeded in 2\.0s$/m)
      assert.match(live!, /^\S+ b ✓ succeeded \(ran 2\.1s, waited 2\.0s\)$/m, "the live line: ran and waited, labelled")
      assert.include(live, "waiting: c for db; r2 for api, next slot in 4 s")
      assert.match(summary!, /^job\s+status\s+attempts\s+ran\s+waited$/m)
      assert.match(summary!, /^a\s+succeeded\s+1\s+2\.0s\s+-$/m)
      assert.match(summary!, /^b\s+succeeded\s+1\s+2\.1s\s+2\.0s$/m, "the summary: the same ran and waited")
    }))

  it.effect("plain prints a line for each wait for a resource; json carries the resource and when the slot opens", () =>
    Effect.gen(function*() {
      const wait = { _tag: "JobWaiting", runId: "r1", jobId: "r2", attempt: 2, at: 1000, resource: "api", kind: "rate", until: 9000, call: false } as const
      const outputs = { plain: [] as Array<string>, json: [] as Array<string> }
      for (const format of ["plain", "json"] as const) {
        yield* Effect.gen(function*() {
          const reporter = yield* Reporter.Reporter
          yield* reporter.event(events[0]!)
          yield* reporter.event(wait)
        }).pipe(Effect.provide(Layer.fresh(Reporter.layer({ format, output: { write: (t) => void outputs[format].push(t) } }))))
      }
      assert.match(outputs.plain.join(""), /^00:00:01 r2 … attempt 2 waiting for a rate-limit slot of "api", next slot in 8 s$/m)
      const line = JSON.parse(outputs.json.join("").trim().split("\n")[1]!)
      assert.deepInclude(line, { event: "JobWaiting", jobId: "r2", resource: "api", kind: "rate", until: "1970-01-01T00:00:09.000Z", call: false })
    }))

  it.effect("the summary shows the first line of a failed job's error, cut at 100 characters; the verdict has it whole", () =>
    Effect.gen(function*() {
      const chunks: Array<string> = []
      const detail = `ShellExitError: ${"x".repeat(120)} exited with code 4\n  stderr (last lines):\n    disk full`
      yield* Effect.gen(function*() {
        const reporter = yield* Reporter.Reporter
        yield* reporter.event(events[0]!)
        yield* reporter.event({
          ...events.at(-1)!,
          jobs: [{ jobId: "b", status: "failed", critical: true, attempts: 1, durationMillis: 10, detail }]
        } as RunEvent.RunEvent)
      }).pipe(Effect.provide(Layer.fresh(Reporter.layer({ format: "plain", output: { write: (t) => void chunks.push(t) } }))))
      const all = chunks.join("")
      const row = all.split("\n").find((line) => line.startsWith("b "))!
      assert.isTrue(row.endsWith(`ShellExitError: ${"x".repeat(81)}...`), row)
      assert.include(all, "  b: ShellExitError: ")
      assert.match(all, /\n {6,}disk full\n/, "the verdict keeps every line, indented")
    }))

  it("levelOf names Effect's log levels as the reporter's lines do", () => {
    assert.deepStrictEqual(
      (["Trace", "Debug", "Info", "Warn", "Error", "Fatal", "All"] as const).map(Reporter.levelOf),
      ["trace", "debug", "info", "warn", "error", "fatal", "info"]
    )
    assert.strictEqual(formatMillis(65_000), "1m5s")
    assert.strictEqual(describeEvent(events[1]!), "started")
  })
})

/** Shows `events` in `format` (pretty: 100 columns, no colors) and returns what was written. */
/** What a reporter of `format` writes for `events`, each shown by `event` (or, `batched`, all by `showAll`). */
const show = (events: ReadonlyArray<RunEvent.RunEvent>, format: Reporter.Format, batched = false) =>
  Effect.gen(function*() {
    const chunks: Array<string> = []
    yield* Effect.gen(function*() {
      const reporter = yield* Reporter.Reporter
      if (batched) {
        assert.isFunction(reporter.events, "the format's reporter shows several events in one effect")
        yield* Reporter.showAll(reporter, events)
      }
      else for (const event of events) yield* reporter.event(event)
    }).pipe(Effect.provide(Layer.fresh(Reporter.layer({
      format,
      output: { write: (t) => void chunks.push(t), isTTY: format === "pretty", columns: 100 },
      color: false
    }))))
    return chunks
  })

describe("restored jobs of a resumed run", () => {
  const resumed = (restored: number): ReadonlyArray<RunEvent.RunEvent> => {
    const ids = Array.from({ length: restored + 1 }, (_, i) => `j${i}`)
    return [
      { _tag: "RunStarted", runId: "r1", resumed: true, dag: "d", at: 0, jobIds: ids, concurrency: 2, failureMode: "no-new" },
      ...ids.slice(0, restored).map((jobId, i): RunEvent.RunEvent => ({ _tag: "JobRestored", runId: "r1", jobId, at: i })),
      { _tag: "AttemptStarted", runId: "r1", jobId: ids.at(-1)!, attempt: 1, at: 3000 }
    ]
  }
  const restoredLines = (all: string) => all.split("\n").filter((line) => line.includes("restored from the journal"))

  it.effect("plain: a line for each of the first ten, then one line counting the others, before the next event", () =>
    Effect.gen(function*() {
      const all = (yield* show(resumed(2_500), "plain")).join("")
      const lines = restoredLines(all)
      assert.strictEqual(lines.length, 11)
      assert.match(lines[0]!, /^00:00:00 j0 ↺ succeeded in an earlier attempt of this run: output restored from the journal$/)
      assert.match(lines[9]!, /^00:00:00 j9 ↺ /)
      // Stamped with the last restored job's time (2,499 ms).
      assert.strictEqual(lines[10], "00:00:02 ↺ and 2490 more jobs succeeded in an earlier attempt of this run: outputs restored from the journal")
      assert.isBelow(all.indexOf("and 2490 more jobs"), all.indexOf("j2500 started"))
    }))

  it.effect("plain: ten restored jobs or fewer get a line each and no count", () =>
    Effect.gen(function*() {
      const lines = restoredLines((yield* show(resumed(10), "plain")).join(""))
      assert.deepStrictEqual(lines.map((line) => line.split(" ")[1]), ["j0", "j1", "j2", "j3", "j4", "j5", "j6", "j7", "j8", "j9"])
    }))

  it.effect("shown all at once (as a resume restores its jobs), the events read as they do one by one, in every format", () =>
    Effect.gen(function*() {
      const events = resumed(40)
      for (const format of ["plain", "pretty", "json"] as const) {
        const one = (yield* show(events, format)).join("")
        const all = (yield* show(events, format, true)).join("")
        assert.strictEqual(all, one, format)
        assert.include(all, format === "json" ? "\"event\":\"JobRestored\"" : "and 30 more jobs", format)
      }
    }))

  it.effect("pretty: the count shows before the run ends even when no other event comes; json keeps a line per job", () =>
    Effect.gen(function*() {
      const onlyRestored = resumed(30).slice(0, -1)
      const pretty = (yield* show(onlyRestored, "pretty")).join("")
      assert.include(pretty, "↺ and 20 more jobs succeeded in an earlier attempt of this run: outputs restored")
      const json = (yield* show(resumed(30), "json")).join("").trim().split("\n").map((line) => JSON.parse(line))
      assert.strictEqual(json.filter((line) => line["event"] === "JobRestored").length, 30)
    }))
})

describe("cached jobs (a real DAG run twice on one journal: the second reuses build and report)", () => {
  const build = Job.make("build", { cache: true, run: () => Effect.succeed(42) })
  const report = Job.make("report", { needs: { build }, cache: true, run: ({ build }) => Effect.succeed(`built ${build}`) })
  const stamp = Job.make("stamp", { needs: { report }, run: () => Effect.void })
  const dag = Dag.make("cached", [stamp])
  /** The second run's events, and the first run's id. */
  const twice = Effect.gen(function*() {
    const first = yield* executeRun(dag, { _tag: "New" })
    const second = yield* executeRun(dag, { _tag: "New" })
    return { events: second.events, from: first.result.runId, runId: second.result.runId }
  }).pipe(Effect.provide(Journal.layerMemory))

  it.effect("plain: a line for each cached job with its origin; the summary shows cached and the run it came from", () =>
    Effect.gen(function*() {
      const { events, from, runId } = yield* twice
      const cached = events.filter((e) => e._tag === "JobCached")
      assert.deepStrictEqual(cached.map((e) => e.jobId), ["build", "report"])
      const all = (yield* show(events, "plain")).join("")
      assert.match(all, new RegExp(`^\\S+ build ↺ cached \\(from run ${from}, \\d+s ago\\)$`, "m"))
      assert.match(all, new RegExp(`^\\S+ report ↺ cached \\(from run ${from}, \\d+s ago\\)$`, "m"))
      assert.notMatch(all, /^\S+ (build|report) started$/m)
      assert.match(all, new RegExp(`^build\\s+cached\\s+0\\s+\\S+\\s+-\\s+from run ${from}$`, "m"))
      assert.match(all, /^stamp\s+succeeded\s+1\s+\S+\s+-$/m)
      assert.match(all, new RegExp(`^run ${runId} succeeded in \\S+ \\(2 of 3 jobs cached\\)$`, "m"))
    }))

  it.effect("json: a JobCached line with the run it came from, when that success was recorded, and the key", () =>
    Effect.gen(function*() {
      const { events, from } = yield* twice
      const lines = (yield* show(events, "json")).join("").trim().split("\n").map((l) => JSON.parse(l))
      const cached = lines.filter((l) => l.event === "JobCached")
      assert.deepStrictEqual(cached.map((l) => l.jobId), ["build", "report"])
      const event = events.find((e): e is RunEvent.JobCached => e._tag === "JobCached")!
      assert.deepInclude(cached[0], {
        level: "info",
        dag: "cached",
        jobId: "build",
        fromRunId: from,
        cachedAt: new Date(event.cachedAt).toISOString(),
        cacheKey: event.key
      })
      assert.match(cached[0].message, new RegExp(`^cached \\(from run ${from}, \\d+s ago\\)$`))
      const finished = lines.at(-1)
      assert.deepInclude(finished.jobs[0], { jobId: "build", status: "cached", attempts: 0, cachedFrom: from })
    }))

  it.effect("pretty: cached jobs count as done, named apart, and no job is left running", () =>
    Effect.gen(function*() {
      const { events } = yield* twice
      const finishedAt = events.findIndex((e) => e._tag === "RunFinished")
      // The live region as it stands once build and report were reused (stamp still to run).
      const beforeStamp = events.findIndex((e) => e._tag === "AttemptStarted" && e.jobId === "stamp")
      const early = (yield* show(events.slice(0, beforeStamp + 1), "pretty")).join("")
      assert.match(early, /\[2\/3\] 2 done \(2 cached\) · 0 failed · 0 skipped · 1 running/)
      const all = (yield* show(events.slice(0, finishedAt + 1), "pretty")).join("")
      assert.match(all, /^\S+ build ↺ cached \(from run \S+, \d+s ago\)$/m)
      assert.match(all, /^build\s+cached\s+0/m)
    }))

  it("the age reads in one unit; counts say what ran and what was reused", () => {
    assert.deepStrictEqual([0, 59_999, 60_000, 3 * 3_600_000 + 5, 47 * 3_600_000, 48 * 3_600_000, -5].map(formatAge), [
      "0s",
      "59s",
      "1m",
      "3h",
      "47h",
      "2d",
      "0s"
    ])
    const counts = countJobs([
      { status: "succeeded", attempts: 1 },
      { status: "failed", attempts: 2 },
      { status: "cached", attempts: 0 },
      { status: "skipped", attempts: 0 },
      { status: "pending", attempts: 0 }
    ])
    assert.deepStrictEqual(counts, { total: 5, ran: 2, cached: 1, skipped: 1 })
    assert.strictEqual(describeCounts(counts), "5 jobs: 2 ran, 1 cached, 1 skipped, 1 not run")
    assert.strictEqual(describeCounts({ total: 1, ran: 0, cached: 1, skipped: 0 }), "1 job: 0 ran, 1 cached")
    assert.strictEqual(describeCounts({ total: 0, ran: 0, cached: 0, skipped: 0 }), "no jobs")
  })
})

describe("render: one way to show a failure", () => {
  it("a typed error by its tag and message, a defect with its stack, a first line, a cut text", () => {
    const typed = Cause.fail(new ShellExitError({ jobId: "j", command: "false", exitCode: 1, stderrTail: [] }))
    assert.strictEqual(renderText.cause(typed), "ShellExitError: false exited with code 1")
    assert.strictEqual(renderText.causeTag(typed), "ShellExitError")
    assert.strictEqual(renderText.causeMessage(typed), "false exited with code 1")
    const defect = Cause.die(new Error("bug in parseRecord"))
    assert.match(renderText.cause(defect), /^Error: bug in parseRecord\n\s+at /)
    assert.strictEqual(renderText.causeTag(defect), "Defect")
    assert.strictEqual(renderText.cause(Cause.fail({ n: 1n })), "{\"n\":1n}")
    assert.strictEqual(renderText.firstLine("one\ntwo"), "one")
    assert.strictEqual(renderText.firstLine(""), "")
    assert.strictEqual(renderText.truncate("abcdef", 5), "ab...")
    assert.strictEqual(renderText.truncate("abc", 5), "abc")
  })
})
