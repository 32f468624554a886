/**
 * Faults the test kit injects into named jobs: what each attempt of the job does instead of (or besides) its work.
 * A fault is data: a list of per-attempt actions, the last of which repeats, and the checkpoints after which the
 * process "dies". `TestRun` reads it through the attempt hook (Hook.ts) and its crash journal (CrashJournal.ts).
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { InvalidOption, ShellExitError } from "../../Errors.ts"

const TypeId = "~effect-runner/test/Fault" as const

/** What one attempt does. */
export type Action =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Fail"; readonly error: unknown }
  | { readonly _tag: "Die"; readonly defect: unknown }
  | { readonly _tag: "Delay"; readonly duration: Duration.Duration }
  | { readonly _tag: "Crash" }
  | { readonly _tag: "Output"; readonly value: unknown }
  | { readonly _tag: "Exit"; readonly code: number; readonly stderr: string | undefined }

/** A fault for one job: see the constructors. */
export interface Fault {
  readonly [TypeId]: typeof TypeId
  /** The action of attempt 1, 2, ...; attempts past the end repeat `rest`. */
  readonly attempts: ReadonlyArray<Action>
  /** What attempts past `attempts` do. */
  readonly rest: Action
  /** Checkpoint keys of the job after whose commit the process dies. */
  readonly crashAfterSteps: ReadonlyArray<string>
}

/** The typed error `Fault.failTimes(n)` fails with when it is given none. */
export class InjectedFailure extends Data.TaggedError("InjectedFailure")<{ readonly jobId: string; readonly attempt: number }> {
  override get message(): string {
    return `injected failure of job "${this.jobId}" (attempt ${this.attempt})`
  }
}

export const isFault = (u: unknown): u is Fault => typeof u === "object" && u !== null && TypeId in u

const make = (attempts: ReadonlyArray<Action>, rest: Action, crashAfterSteps: ReadonlyArray<string> = []): Fault => ({
  [TypeId]: TypeId,
  attempts,
  rest,
  crashAfterSteps
})

const pass: Action = { _tag: "Pass" }

/** No fault: the job runs as written (a step of `Fault.sequence`: `sequence(none, crash)` crashes the 2nd attempt). */
export const none: Fault = make([], pass)

/** The first `n` attempts fail with `error` (default: an `InjectedFailure`), typed, so the job's retry sees them. */
export const failTimes = (n: number, error?: unknown): Fault => {
  if (!Number.isInteger(n) || n < 0) throw new InvalidOption({ where: "Fault.failTimes", reason: `n must be a whole number >= 0, got ${n}` })
  return make(Array.from({ length: n }, () => ({ _tag: "Fail", error: error ?? injected }) as const), pass)
}

/** Marks "no error given": the attempt fails with an `InjectedFailure` naming the job and attempt. */
const injected: unique symbol = Symbol.for("effect-runner/test/injected") as never

/** Every attempt fails with `error` (a typed failure: retried by the job's retry, then the job fails). */
export const fail = (error: unknown): Fault => make([], { _tag: "Fail", error })

/** Every attempt dies with `defect` (not retried: a defect is a bug). */
export const die = (defect: unknown): Fault => make([], { _tag: "Die", defect })

/** Every attempt takes `duration` longer (test-clock time) before its work: meets the job's `timeout`. */
export const delay = (duration: Duration.Input): Fault => make([], { _tag: "Delay", duration: Duration.fromInputUnsafe(duration) })

/**
 * The process "dies" as the job's attempt starts: what was committed stays in the journal, nothing after reaches it,
 * nothing else runs (the run's result has status "crashed"); `TestRun.resume` continues the run.
 */
export const crash: Fault = make([{ _tag: "Crash" }], pass)

/** The process "dies" right after the job's checkpoint `key` (`Checkpoint.step(key, ...)`) is committed. */
export const crashAfterStep = (key: string): Fault => make([], pass, [key])

/** Every attempt succeeds with `value` instead of running the job's work (its dependents receive it). */
export const output = (value: unknown): Fault => make([], { _tag: "Output", value })

/**
 * For a command job (`Job.command`): every attempt exits with `code` instead of running the program, with `stderr`
 * as its last stderr lines. A non-zero code fails the attempt with `ShellExitError`; 0 succeeds with empty stdout.
 */
export const exit = (code: number, stderr?: string): Fault => make([], { _tag: "Exit", code, stderr })

/**
 * Faults one after the other: each takes the attempts it covers (`failTimes(n)`: n; `crash`: 1; `none`: 1; the others
 * 1, except as the last, whose action repeats; `crashAfterStep`: none), then the next one starts. Checkpoint crashes
 * of all of them apply, in whichever attempt the checkpoint commits.
 *
 * @example
 * ```ts
 * Fault.sequence(Fault.failTimes(2), Fault.delay("1 hour")) // attempts 1-2 fail, then every attempt is slow
 * ```
 */
export const sequence = (...faults: ReadonlyArray<Fault>): Fault => {
  const attempts: Array<Action> = []
  faults.forEach((fault, i) => {
    const last = i === faults.length - 1
    attempts.push(...fault.attempts)
    // A fault of every attempt takes one here; a checkpoint crash takes none.
    if (!last && fault.attempts.length === 0 && fault.crashAfterSteps.length === 0) attempts.push(fault.rest)
  })
  const rest = faults.length === 0 ? pass : faults[faults.length - 1]!.rest
  return make(attempts, rest, faults.flatMap((f) => f.crashAfterSteps))
}

/** The action of attempt `n` (1-based). */
export const actionOf = (fault: Fault, n: number): Action => fault.attempts[n - 1] ?? fault.rest

/**
 * The attempt's effect under `action`: `work` is the job's own; `crash` is called when the process is to die (the
 * attempt then waits to be interrupted).
 */
export const apply = (
  action: Action,
  jobId: string,
  attempt: number,
  command: string | undefined,
  work: () => Effect.Effect<unknown, unknown, any>,
  crash: () => void
): Effect.Effect<unknown, unknown, any> => {
  switch (action._tag) {
    case "Pass":
      return work()
    case "Fail":
      return Effect.fail(action.error === injected ? new InjectedFailure({ jobId, attempt }) : action.error)
    case "Die":
      return Effect.die(action.defect)
    case "Delay":
      return Effect.andThen(Effect.sleep(action.duration), Effect.suspend(work))
    case "Crash":
      return Effect.andThen(Effect.sync(crash), Effect.interruptible(Effect.never))
    case "Output":
      return Effect.succeed(action.value)
    case "Exit":
      return action.code === 0
        ? Effect.succeed({ exitCode: 0, stdout: "" })
        : Effect.fail(new ShellExitError({
          jobId,
          command: command ?? jobId,
          exitCode: action.code,
          stderrTail: action.stderr === undefined ? [] : action.stderr.split("\n").filter((line) => line !== "")
        }))
  }
}
