// The app's jobs. `release` needs @acme/core's `api` job, imported from the package ("@acme/core/tasks", resolved
// through core's package.json exports like any import): its output is typed, so `core.version` is a string here
// and a typo is a compile error. In `runner ws build release`, it is the one job "@acme/core#api".
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import { Job } from "effect-runner"
import { api as coreApi } from "@acme/core/tasks"
import * as kit from "@acme/tasks-kit"

export const build = kit.build("compile the web app (after @acme/ui's and @acme/core's builds)")

export const test = kit.test(build)

/** Writes dist/release.json: the app's build, with the version of core it was built against. */
export const release = Job.make("release", {
  needs: { core: coreApi, build },
  description: "describe the release: app and core versions",
  run: ({ core }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const file = new URL("../dist/release.json", import.meta.url).pathname
      const about = { app: "web", core: core.version, coreExports: core.exports.length }
      yield* fs.writeFileString(file, JSON.stringify(about, null, 2) + "\n")
      yield* Effect.log(`web built against @acme/core ${core.version} (${core.exports.join(", ")})`)
      return about
    })
})
