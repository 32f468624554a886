// The tutorial's parallel file processing: the sha256 of each *.dat file into <stem>.processed, 8 files at a time,
// skipping files already done. Each file is a durable checkpoint: a killed run, resumed (`--resume`, or the same
// `--key`), re-processes only the files it had not finished. Run: npx runner tasks/hash-files.ts
// Settings: RUNNER_HASH_INPUT (default .runner/hash/input, seeded if absent), RUNNER_HASH_OUTPUT (.runner/hash/output).
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Path from "effect/Path"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { Checkpoint, Dag, Job } from "effect-runner"

const input = process.env.RUNNER_HASH_INPUT || ".runner/hash/input"
const output = process.env.RUNNER_HASH_OUTPUT || ".runner/hash/output"

/** Creates 50 small sample files when the input directory does not exist yet. */
export const seed = Job.make("seed", {
  description: `seed ${input} with 50 sample .dat files if it does not exist`,
  timeout: "30 seconds",
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      if (yield* fs.exists(input)) return { seeded: 0 }
      yield* fs.makeDirectory(input, { recursive: true })
      for (let i = 1; i <= 50; i++) {
        yield* fs.writeFileString(path.join(input, `sample-${String(i).padStart(2, "0")}.dat`), `sample record ${i}\n`)
      }
      yield* Effect.log(`seeded 50 sample files in ${input}`)
      return { seeded: 50 }
    })
})

/** Hashes one file, unless its output exists. Returns what it did. */
const processFile = (name: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const target = path.join(output, `${path.basename(name, ".dat")}.processed`)
    if (yield* fs.exists(target)) return "skipped" as const
    const digest = createHash("sha256").update(yield* fs.readFile(path.join(input, name))).digest("hex")
    // Write, then rename: an interrupted run never leaves a partial output that the next run would skip.
    yield* fs.writeFileString(`${target}.tmp`, `${digest}\n`)
    yield* fs.rename(`${target}.tmp`, target)
    return "processed" as const
  })

export const hash = Job.make("hash", {
  needs: { seed },
  description: `sha256 of ${input}/*.dat into ${output}, 8 at a time`,
  output: Schema.Struct({ processed: Schema.Number, skipped: Schema.Number }),
  retry: { times: 2, delay: "500 millis" }, // safe: files finished by a failed attempt are skipped by the next one
  timeout: "10 minutes",
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      yield* fs.makeDirectory(output, { recursive: true })
      const files = yield* fs.glob("*.dat", { root: input })
      const results = yield* Effect.forEach(
        files,
        (name) => Checkpoint.step(`hash:${name}`, processFile(name)),
        { concurrency: 8 }
      )
      const processed = results.filter((result) => result === "processed").length
      const summary = { processed, skipped: results.length - processed }
      yield* Effect.log(`${summary.processed} processed, ${summary.skipped} skipped`)
      return summary
    })
})

export default Dag.make("hash-files", [seed, hash])
