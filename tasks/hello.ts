// The smallest task file: one job that logs "hello". The cold-start benchmark runs it.
// Run: node_modules/.bin/node src/bin.ts tasks/hello.ts
import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"

export const hello = Job.make("hello", {
  description: "log hello",
  run: () => Effect.log("hello")
})

export default Dag.make("hello", [hello])
