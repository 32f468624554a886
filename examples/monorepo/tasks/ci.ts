// The repository's CI as one DAG, in code: every package's build and test (the jobs `runner ws build test` runs,
// with the same ids and order), then a deploy step that needs @acme/core's `api`, typed.
// Run: runner tasks/ci.ts   (from examples/monorepo)
import * as Effect from "effect/Effect"
import { Dag, Job, Workspace } from "effect-runner"
import { api } from "@acme/core/tasks"

const packages = await Workspace.jobs(["build", "test"])

export const deploy = Job.make("deploy", {
  // `packages.of(api)` is the workspace's job "@acme/core#api", with api's output type.
  needs: { core: packages.of(api) },
  description: "pretend to deploy, once every package is built and tested",
  run: ({ core }) => Effect.log(`deploying web with @acme/core ${core.version} (${core.exports.length} exports)`)
})

export default Dag.make("ci", [...packages, deploy])
