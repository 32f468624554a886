/** Workspace: discovery, selection and the combined DAG, in-process (the CLI side is in WorkspaceCli.test.ts). */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Job from "../src/Job.ts"
import * as Combine from "../src/internal/workspace/Combine.ts"
import * as Discovery from "../src/internal/workspace/Discovery.ts"
import { runDag } from "./support/run.ts"
import { tempDirs } from "./support/tmp.ts"
import { pkg, writeWorkspace } from "./support/workspace.ts"

const tempDir = tempDirs("runner-workspace-")

describe("pnpmPackages", () => {
  it("reads the block list, quoted or not, with comments, and stops at the next key", () => {
    const yaml = `# root\npackages:\n  # libraries\n  - "packages/*"\n  - 'apps/**'   # apps\n  - tools\n  - "!packages/old"\ncatalog:\n  - not-a-package\n`
    assert.deepStrictEqual(Discovery.pnpmPackages(yaml), ["packages/*", "apps/**", "tools", "!packages/old"])
  })
  it("reads the flow list", () => {
    assert.deepStrictEqual(Discovery.pnpmPackages(`packages: ["packages/*", 'apps/*']\n`), ["packages/*", "apps/*"])
  })
  it("undefined without a packages key", () => {
    assert.strictEqual(Discovery.pnpmPackages(`catalog:\n  effect: 4.1.5\n`), undefined)
  })
})

const sample = (root: object) =>
  writeWorkspace(tempDir(), {
    "package.json": root,
    "packages/core/package.json": pkg("core"),
    "packages/core/tasks/a.ts": "",
    "packages/core/tasks/types.d.ts": "",
    "packages/ui/package.json": pkg("ui", {}, { peerDependencies: { core: "*" }, devDependencies: { vitest: "*" } }),
    "apps/web/nested/package.json": pkg("web", { ui: "*", effect: "*" }, { devDependencies: { core: "*" } }),
    "apps/web/nested/node_modules/dep/package.json": { name: "not-a-workspace-package" }
  })

describe("Workspace.discover", () => {
  const forms: ReadonlyArray<readonly [string, object, (dir: string) => void]> = [
    ["npm's workspaces array", { workspaces: ["packages/*", "apps/**"] }, () => {}],
    ["Yarn's { packages }", { workspaces: { packages: ["packages/*", "apps/**"], nohoist: [] } }, () => {}],
    ["pnpm-workspace.yaml", { name: "root" }, (dir) => fs.writeFileSync(path.join(dir, "pnpm-workspace.yaml"), "packages:\n  - packages/*\n  - apps/**\n")]
  ]
  for (const [form, root, extra] of forms) {
    it.effect(`${form}: packages in dependency order, workspace dependencies only, task files, node_modules skipped`, () =>
      Effect.gen(function*() {
        const dir = sample(root)
        extra(dir)
        const workspace = yield* Discovery.discover(dir)
        assert.deepStrictEqual(workspace.packages.map((p) => p.name), ["core", "ui", "web"])
        assert.deepStrictEqual(workspace.packages.map((p) => p.dependsOn), [[], ["core"], ["core", "ui"]])
        assert.deepStrictEqual(workspace.packages.map((p) => p.relativeDir), ["packages/core", "packages/ui", "apps/web/nested"])
        assert.deepStrictEqual(workspace.packages[0]!.taskFiles, [path.join(fs.realpathSync(dir), "packages/core/tasks/a.ts")])
        assert.strictEqual(workspace.source, form === "pnpm-workspace.yaml" ? "pnpm-workspace.yaml" : "package.json")
      }))
  }

  it.effect("finds the root from a folder inside it", () =>
    Effect.gen(function*() {
      const dir = sample({ workspaces: ["packages/*", "apps/**"] })
      assert.strictEqual(yield* Discovery.findRoot(path.join(dir, "packages/ui")), dir)
    }))

  it.effect("reports every problem at once", () =>
    Effect.gen(function*() {
      const dir = writeWorkspace(tempDir(), {
        "package.json": { workspaces: ["packages/*", "missing/*", "!packages/skip"] },
        "packages/a/package.json": pkg("a", { b: "*" }),
        "packages/b/package.json": pkg("b", { a: "*" }),
        "packages/c/package.json": "{ not json",
        "packages/skip/package.json": "{ not json either"
      })
      const error = (yield* Effect.flip(Discovery.discover(dir))).message
      assert.match(error, /3 problems/)
      assert.match(error, /pattern "missing\/\*" matches no package/)
      assert.match(error, /packages\/c\/package\.json: not valid JSON/)
      assert.match(error, /cycle: a -> b -> a/)
    }))
})

describe("Discovery.select and closure", () => {
  const workspace: Discovery.Workspace = {
    root: "/r",
    source: "package.json",
    packages: [
      { name: "@acme/core", dir: "/r/core", relativeDir: "core", dependsOn: [], taskFiles: [] },
      { name: "@acme/ui", dir: "/r/ui", relativeDir: "ui", dependsOn: ["@acme/core"], taskFiles: [] },
      { name: "web", dir: "/r/web", relativeDir: "web", dependsOn: ["@acme/ui"], taskFiles: [] },
      { name: "docs", dir: "/r/docs", relativeDir: "docs", dependsOn: [], taskFiles: [] }
    ]
  }
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
    [["@acme/ui"], ["@acme/ui"]],
    [["web..."], ["web", "@acme/core", "@acme/ui"]],
    [["...@acme/core"], ["@acme/core", "@acme/ui", "web"]],
    [["...@acme/ui..."], ["@acme/ui", "@acme/core", "web"]],
    [["@acme/*"], ["@acme/core", "@acme/ui"]],
    [["docs", "@acme/core"], ["docs", "@acme/core"]]
  ]
  it.effect.each(cases)("%j selects %j", ([filters, expected]) =>
    Effect.gen(function*() {
      const selected = yield* Discovery.select(workspace, filters)
      assert.deepStrictEqual([...selected].sort(), [...expected].sort())
    }))

  it.effect("an unknown filter fails with the available packages", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Discovery.select(workspace, ["web", "@other/*"]))
      assert.strictEqual(error._tag, "UnknownPackage")
      assert.deepStrictEqual(error.filters, ["@other/*"])
    }))
})

describe("Workspace.combine", () => {
  const packages: ReadonlyArray<Discovery.Package> = [
    { name: "core", dir: "/tmp", relativeDir: "core", dependsOn: [], taskFiles: [] },
    { name: "app", dir: path.resolve("/"), relativeDir: "app", dependsOn: ["core"], taskFiles: [] }
  ]
  const loadedOf = (owned: ReadonlyArray<readonly [string, Job.Any]>): Combine.Loaded => ({
    workspace: { root: "/", source: "package.json", packages },
    jobs: new Map(packages.map((p) => [p.name, new Map(owned.filter(([name]) => name === p.name).map(([, job]) => [job.id, job]))])),
    owner: new Map(owned.map(([name, job]) => [job, packages.find((p) => p.name === name)!]))
  })

  it.effect("a job receives only its typed inputs, not the package-order edges; ids are <pkg>#<id>", () =>
    Effect.gen(function*() {
      const coreBuild = Job.make("build", { run: () => Effect.succeed(41) })
      const coreGen = Job.make("gen", { run: () => Effect.succeed("g") })
      const seen: Array<ReadonlyArray<string>> = []
      const appBuild = Job.make("build", {
        needs: { gen: coreGen },
        run: (inputs) => Effect.sync(() => void seen.push(Object.keys(inputs))).pipe(Effect.as(inputs.gen + "!"))
      })
      const combined = yield* Combine.combine(loadedOf([["core", coreBuild], ["core", coreGen], ["app", appBuild]]), ["build"])
      assert.deepStrictEqual(combined.jobs.map((j) => j.id), ["core#build", "app#build"])
      const app = combined.jobs[1]!
      assert.deepStrictEqual(Object.keys(app.needs).sort(), ["^core#build", "gen"])
      assert.deepStrictEqual([...Combine.info(app)!.ordering], ["^core#build"])
      assert.strictEqual(combined.of(appBuild), app, "of(job) is the same planned job")
      assert.strictEqual(app.run.toString(), appBuild.run.toString(), "the definition hash reads the job's own source")
      const { result } = yield* runDag(Dag.make("ws", combined.jobs))
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(seen, [["gen"]])
    }))

  it.effect("a shell job runs in its package's folder by default; a relative cwd is taken from the package folder", () =>
    Effect.gen(function*() {
      const dir = fs.realpathSync(tempDir())
      fs.mkdirSync(path.join(dir, "sub"))
      const local: ReadonlyArray<Discovery.Package> = [{ name: "p", dir, relativeDir: "p", dependsOn: [], taskFiles: [] }]
      const here = Job.shell("here", ["pwd"])
      const sub = Job.shell("sub", ["pwd"], { cwd: "sub" })
      const loaded: Combine.Loaded = {
        workspace: { root: dir, source: "package.json", packages: local },
        jobs: new Map([["p", new Map([["here", here], ["sub", sub]])]]),
        owner: new Map([[here, local[0]!], [sub, local[0]!]])
      }
      const combined = yield* Combine.combine(loaded, ["here", "sub"])
      const { logs, result } = yield* runDag(Dag.make("ws", combined.jobs))
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(Object.fromEntries(logs.map((l) => [l.jobId, l.message])), { "p#here": dir, "p#sub": path.join(dir, "sub") })
    }))
})
