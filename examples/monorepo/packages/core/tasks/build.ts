// @acme/core's jobs. Other packages import them through the package's exports ("./tasks"), typed.
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Schema from "effect/Schema"
import { Job } from "effect-runner"
import * as kit from "@acme/tasks-kit"

export const build = kit.build("compile @acme/core")

export const test = kit.test(build)

/** What the build produced, as a typed output: its version and the names its declarations export. */
export const api = Job.make("api", {
  needs: { build },
  description: "read @acme/core's version and exported names from its build",
  output: Schema.Struct({ version: Schema.String, exports: Schema.Array(Schema.String) }),
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const manifest = yield* fs.readFileString(new URL("../package.json", import.meta.url).pathname)
      const declarations = yield* fs.readFileString(new URL("../dist/index.d.ts", import.meta.url).pathname)
      const exports = [...declarations.matchAll(/export declare (?:const|function) (\w+)/g)].map((m) => m[1]!)
      return { version: (JSON.parse(manifest) as { version: string }).version, exports }
    })
})
