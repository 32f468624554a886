/**
 * One output of a started command as an Effect stream, fed from the runtime's own stream (Node's Readable, Deno's
 * ReadableStream) from the start: Node discards, at the exit, an output nobody reads yet, and the job's fiber starts
 * reading only once it runs. Cheaper per job than NodeStream.fromReadable, which waits on `readable` events and
 * `finished` for the same bytes.
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as PlatformError from "effect/PlatformError"
import * as Stream from "effect/Stream"

export const readError = (name: string) => (cause: unknown): PlatformError.PlatformError =>
  PlatformError.systemError({
    _tag: "Unknown",
    module: "ChildProcess",
    method: `read(${name})`,
    description: String((cause as { message?: unknown } | undefined)?.message ?? cause)
  })

/** Chunks kept unread before the runtime's stream is paused (the job logs lines slower than a command can print). */
const MAX_CHUNKS = 64

/** Chunks as they come, kept until the job's fiber reads them (one reader); the source pauses while it lags. */
export class Output {
  private chunks: Array<Uint8Array> = []
  private done = false
  private failure: PlatformError.PlatformError | undefined = undefined
  private wake: (() => void) | undefined = undefined
  paused = false
  private readonly name: string
  private readonly pause: () => void
  private readonly resume: () => void

  constructor(name: string, pause: () => void, resume: () => void) {
    this.name = name
    this.pause = pause
    this.resume = resume
  }

  readonly push = (chunk: Uint8Array): void => {
    this.chunks.push(chunk)
    if (this.chunks.length >= MAX_CHUNKS && !this.paused) {
      this.paused = true
      this.pause()
    }
    this.notify()
  }

  readonly end = (error?: unknown): void => {
    if (error !== undefined) this.failure ??= readError(this.name)(error)
    this.done = true
    this.notify()
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, PlatformError.PlatformError | Cause.Done> =
    Effect.suspend(() => {
      if (this.chunks.length > 0) {
        const taken = this.chunks as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
        this.chunks = []
        if (this.paused) {
          this.paused = false
          this.resume()
        }
        return Effect.succeed(taken)
      }
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.done) return Cause.done()
      return Effect.flatMap(Effect.callback<void>((resume) => void (this.wake = () => resume(Effect.void))), () => this.pull)
    })

  readonly stream: Stream.Stream<Uint8Array, PlatformError.PlatformError> = Stream.fromPull(Effect.sync(() => this.pull))
}

