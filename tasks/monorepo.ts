// Composes jobs imported from another task file (./monorepo/packages.ts) with its own: test needs both builds.
// Run: node_modules/.bin/node src/bin.ts tasks/monorepo.ts   (one build only: ... tasks/monorepo.ts build-core)
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import { Dag, Job } from "effect-runner"
import { buildCli, buildCore } from "./monorepo/packages.ts"

/** Gets each build's typed output (a command job's stdout: here the path its build printed) and reads that file. */
export const test = Job.make("test", {
  needs: { core: buildCore, cli: buildCli },
  description: "check both packages' build output",
  timeout: "1 minute",
  run: ({ core, cli }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      for (const bundle of [core.stdout, cli.stdout]) {
        const code = yield* fs.readFileString(bundle)
        yield* Effect.log(`ok ${bundle}: ${code.trim()}`)
      }
    })
})

export default Dag.make("monorepo", [buildCore, buildCli, test])
