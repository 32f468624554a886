/**
 * The published package, used as a user uses it: `npm pack` of a copy of the project (its `prepack` builds dist/),
 * installed from the tarball with npm's cache (no registry) into a temporary project beside `effect` and
 * `@effect/platform-node` 4.1.5, then the README's commands run there on Node, Bun and Deno. Packed and installed
 * once for the file; a copy of examples/monorepo installs the same tarball and builds with `runner ws build`.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "vitest"
import { root } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { isCI } from "./support/tools.ts"


/** A Node older than 22.19 (the machine's own Node 20 on the test machines), to check the refusal message. */
const OLD_NODE = "/usr/bin/node"
const oldNode = (() => {
  const version = spawnSync(OLD_NODE, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? ""
  if (/^v(1\d|20|21|22\.(\d|1[0-8]))\./.test(version)) return { skip: false }
  if (isCI()) return { skip: false }
  process.stderr.write(`skipped: no Node older than 22.19 at ${OLD_NODE} (found ${version || "none"}; apt-get install nodejs on Debian 12 gives Node 18/20); CI=1 makes it required\n`)
  return { skip: true }
})()

const tempDir = tempDirs("runner-package-")
const env = { ...process.env, NO_COLOR: "1", PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env["PATH"]}` }

const run = (command: string, args: ReadonlyArray<string>, cwd: string, extra: Record<string, string> = {}) => {
  const result = spawnSync(command, args, { cwd, env: { ...env, ...extra }, encoding: "utf8", timeout: 120_000 })
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "", output: `${result.stdout}\n${result.stderr}` }
}

/** `npm install` of `packages` in `dir`, from npm's cache (no registry named); returns npm's output. */
const install = (dir: string, packages: ReadonlyArray<string>): string => {
  // --offline fails where the cache lacks a package's metadata, not its files.
  let result = run("npm", ["install", "--offline", "--no-audit", "--no-fund", ...packages], dir)
  if (result.status !== 0) result = run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", ...packages], dir)
  assert.strictEqual(result.status, 0, result.output)
  return result.output
}

let tarball = ""
let project = ""
let installLog = ""

beforeAll(() => {
  const copy = tempDir()
  for (const entry of ["bin", "src", "scripts", "package.json", "tsconfig.json", "tsconfig.build.json", "README.md", "LICENSE"]) {
    fs.cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true, verbatimSymlinks: true })
  }
  fs.symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"))
  const packs = tempDir()
  const pack = run("npm", ["pack", "--pack-destination", packs], copy)
  assert.strictEqual(pack.status, 0, pack.output)
  tarball = path.join(packs, fs.readdirSync(packs).find((file) => file.endsWith(".tgz"))!)

  project = tempDir()
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "user-project", private: true, type: "module" }))
  installLog = install(project, [tarball, "effect@4.1.5", "@effect/platform-node@4.1.5"])
  fs.mkdirSync(path.join(project, "tasks"))
  fs.writeFileSync(path.join(project, "tasks/x.ts"), userTask)
}, 180_000)

/**
 * The user's task file: a service of their own (Context.Service) provided by their own Layer inside a job, a
 * Schema class as a typed output passed through `needs`, a typed failure retried once, and the runtime it ran on.
 */
const userTask = `import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Dag, Job } from "effect-runner"

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("user/Greeter") {}
const GreeterLive = Layer.succeed(Greeter)(Greeter.of({ greet: (name) => \`hello \${name}\` }))

class Person extends Schema.Class<Person>("Person")({ name: Schema.String }) {}
class Flaky extends Data.TaggedError("Flaky")<{}> {}

let calls = 0
export const person = Job.make("person", {
  output: Person,
  retry: { times: 1 },
  run: () => ++calls === 1 ? Effect.fail(new Flaky()) : Effect.succeed(new Person({ name: "world" }))
})

export const greet = Job.make("greet", {
  needs: { person },
  run: ({ person: who }) =>
    Effect.gen(function*() {
      const greeter = yield* Greeter
      const runtime = "Bun" in globalThis ? "bun" : "Deno" in globalThis ? "deno" : "node"
      yield* Effect.log(\`\${greeter.greet(who.name)} (a Person: \${who instanceof Person}) on \${runtime}\`)
    }).pipe(Effect.provide(GreeterLive))
})

export default Dag.make("x", [greet])
`

/** A user's DAG and their vitest file testing it with the test kit. */
const kitTask = `import * as Effect from "effect/Effect"
import { Dag, Job } from "effect-runner"

export const extract = Job.make("extract", {
  retry: { times: 3, delay: "1 minute" },
  run: () => Effect.succeed({ rows: 3 })
})
export const load = Job.make("load", {
  needs: { extract },
  timeout: "10 seconds",
  run: ({ extract }) => Effect.succeed(\`loaded \${extract.rows}\`)
})
export default Dag.make("etl", [extract, load])
`

const kitTest = `import * as Effect from "effect/Effect"
import { expect, it } from "vitest"
import { Fault, TestRun } from "effect-runner/test"
import etl from "./etl.js"

it("extract's failures are retried", async () => {
  const result = await Effect.runPromise(TestRun.run(etl, { faults: { extract: Fault.failTimes(2) } }))
  TestRun.assertSucceeded(result)
  expect(result.jobs.extract.attempts).toBe(3)
  const output: string | undefined = result.jobs.load.output
  expect(output).toBe("loaded 3")
})

it("a slow load times out; resume after a crash runs only load", async () => {
  const slow = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.delay("1 minute") } }))
  expect(slow.status).toBe("failed")
  expect(TestRun.errorOf(slow.jobs.load)?._tag).toBe("JobTimeout")
  const crashed = await Effect.runPromise(TestRun.run(etl, { faults: { load: Fault.crash } }))
  expect(crashed.status).toBe("crashed")
  const resumed = await Effect.runPromise(TestRun.resume(crashed))
  expect(TestRun.ran(resumed)).toEqual(["load"])
})
`

describe("the tarball", () => {
  it("holds the bin, the compiled runner with declarations and maps, the sources they map to, and nothing else", () => {
    const listing = run("tar", ["tzvf", tarball], root)
    assert.strictEqual(listing.status, 0, listing.output)
    const lines = listing.stdout.trim().split("\n")
    assert.deepStrictEqual(lines.filter((line) => !line.startsWith("-")), [], "only regular files: no links, no folders")
    const files = run("tar", ["tzf", tarball], root).stdout.trim().split("\n")
    for (const file of ["bin/runner.js", "dist/index.js", "dist/index.d.ts", "dist/index.d.ts.map", "dist/internal/cli/main.js", "LICENSE"]) {
      assert.include(files, `package/${file}`)
    }
    const unexpected = files.filter((file) =>
      !/^package\/(bin\/runner\.js|package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts|d\.ts\.map)|src\/.+\.ts)$/.test(file)
    )
    assert.deepStrictEqual(unexpected, [])
    assert.notInclude(files, "package/src/bin.ts")
    assert.notInclude(files, "package/dist/.build.json")
  })

  it("installs without install scripts, with effect as a peer, and a bin that Node, Bun and Deno can run", () => {
    const installed = path.join(project, "node_modules/effect-runner")
    const manifest = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8"))
    for (const script of ["preinstall", "install", "postinstall", "prepare"]) assert.notProperty(manifest.scripts ?? {}, script)
    assert.notInclude(installLog, "install-scripts")
    assert.deepStrictEqual(Object.keys(manifest.peerDependencies).sort(), ["@effect/platform-node", "@effect/sql-pg", "effect"])
    // PostgreSQL's client is needed only for a postgres:// journal: an optional peer, not installed with the runner.
    assert.deepStrictEqual(manifest.peerDependenciesMeta, { "@effect/sql-pg": { optional: true } })
    assert.isFalse(fs.existsSync(path.join(project, "node_modules/@effect/sql-pg")), "the optional peer is not installed")
    assert.notProperty(manifest, "dependencies")
    assert.isFalse(fs.existsSync(path.join(installed, "node_modules")), "no copy of Effect of its own")
    const bin = fs.readFileSync(path.join(installed, "bin/runner.js"), "utf8")
    assert.isTrue(bin.startsWith("#!/usr/bin/env node\n"))

    // The API and the test kit resolve.
    const api = run("node", ["-e", `import("effect-runner").then((m) => console.log(Object.keys(m).sort().join(",")))`], project)
    assert.includeMembers(api.stdout.trim().split(","), ["Checkpoint", "Dag", "Job", "Resource"], api.output)
    const kit = run("node", ["-e", `import("effect-runner/test").then((m) => console.log(Object.keys(m).sort().join(",")))`], project)
    assert.strictEqual(kit.status, 0, kit.output)
    assert.deepStrictEqual(kit.stdout.trim().split(","), ["Fault", "TestRun"])
  })
})

describe("in a project that installed it", () => {
  /** The command lines the README gives, and the runtime each one runs the runner on. */
  const commands: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["npx", ["runner", "tasks/x.ts"], "node"],
    ["bun", ["node_modules/.bin/runner", "tasks/x.ts"], "bun"],
    // bunx starts a bin with the runtime its #! line names (Node); --bun makes it Bun.
    ["bunx", ["runner", "tasks/x.ts"], "node"],
    ["bunx", ["--bun", "runner", "tasks/x.ts"], "bun"],
    ["deno", ["run", "-A", "node_modules/.bin/runner", "tasks/x.ts"], "deno"],
    // Deno's own way: npm:effect-runner resolves to the installed package (the project has a package.json).
    ["deno", ["run", "-A", "npm:effect-runner", "tasks/x.ts"], "deno"]
  ]

  it.each(commands)("%s %j runs the user's task file with their service, layer, Schema class and retry", (command, args, runtime) => {
    const result = run(command, [...args, "--log-format", "plain", "--journal", "none"], project)
    assert.strictEqual(result.status, 0, result.output)
    assert.include(result.stdout, `hello world (a Person: true) on ${runtime}`)
    assert.match(result.stdout, /person +succeeded +2 /)
    assert.match(result.stdout, /run \S+ succeeded in/)
  })

  it.each(["node", "bun", "deno"])(
    "on %s, a task file beside a second installed copy of effect still gets the one the runner uses",
    (runtime) => {
      // A folder with its own node_modules/effect: resolved normally, the task would load that second copy.
      const nested = path.join(project, "nested")
      if (!fs.existsSync(nested)) {
        fs.mkdirSync(path.join(nested, "node_modules"), { recursive: true })
        fs.cpSync(path.join(project, "node_modules/effect"), path.join(nested, "node_modules/effect"), { recursive: true })
        fs.writeFileSync(
          path.join(nested, "one.ts"),
          `import * as Effect from "effect/Effect"
import { Job } from "effect-runner"
const runners = await import(new URL("../node_modules/effect/dist/Effect.js", import.meta.url).href)
const second = await import(new URL("./node_modules/effect/dist/Effect.js", import.meta.url).href)
if (second.succeed === runners.succeed) throw new Error("the test needs two copies")
export const one = Job.make("one", {
  run: () => Effect.log(\`same Effect as the runner: \${Effect.succeed === runners.succeed}\`)
})
`
        )
      }
      const [command, ...args] = runtime === "deno"
        ? ["deno", "run", "-A", "node_modules/.bin/runner"]
        : [runtime, "node_modules/.bin/runner"]
      const result = run(command!, [...args, "nested/one.ts", "--log-format", "plain", "--journal", "none"], project)
      assert.strictEqual(result.status, 0, result.output)
      assert.include(result.stdout, "same Effect as the runner: true")
    }
  )

  it("runner init scaffolds a project whose hello.ts runs, whose test passes, both type-check; it refuses to overwrite unless --force", () => {
    const init = run("npx", ["runner", "init"], project)
    assert.strictEqual(init.status, 0, init.output)
    for (const file of ["tasks/hello.ts", "tasks/hello.test.ts", "tsconfig.json", ".gitignore"]) assert.include(init.stdout, `wrote ${file}`)
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8")).scripts.tasks, "runner")
    assert.include(fs.readFileSync(path.join(project, ".gitignore"), "utf8").split("\n"), ".runner/")

    const hello = run("npx", ["runner", "tasks/hello.ts", "--log-format", "plain"], project)
    assert.strictEqual(hello.status, 0, hello.output)
    assert.include(hello.stdout, "HELLO FROM EFFECT-RUNNER")
    const script = run("npm", ["run", "tasks", "--", "tasks/hello.ts", "--log-format", "plain"], project)
    assert.strictEqual(script.status, 0, script.output)
    assert.include(script.stdout, "HELLO FROM EFFECT-RUNNER")
    // Its test (a plain script, with the test kit) passes, and type-checks with the task files.
    const test = run("node", ["tasks/hello.test.ts"], project)
    assert.strictEqual(test.status, 0, test.output)
    assert.include(test.stdout, "hello.test.ts: ok")
    const tsc = run("tsc", ["-p", "."], project)
    assert.strictEqual(tsc.status, 0, tsc.output)

    const file = path.join(project, "tasks/hello.ts")
    fs.writeFileSync(file, "// mine\n")
    const refused = run("npx", ["runner", "init"], project)
    assert.strictEqual(refused.status, 2, refused.output)
    assert.include(refused.stderr, "tasks/hello.ts")
    assert.strictEqual(fs.readFileSync(file, "utf8"), "// mine\n")
    const forced = run("npx", ["runner", "init", "--force"], project)
    assert.strictEqual(forced.status, 0, forced.output)
    assert.include(fs.readFileSync(file, "utf8"), `needs: { greet }`)
  }, 180_000)

  it("the user's tsc (strict, NodeNext, skipLibCheck false) passes on a correct task file and fails on a wrongly typed need", () => {
    const dir = path.join(project, "typed")
    fs.mkdirSync(dir)
    // One check of both files: the correct one gives no error, the wrong one exactly one.
    const config = (files: ReadonlyArray<string>) =>
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          noEmit: true,
          skipLibCheck: false
        },
        files
      })
    const job = (use: string) =>
      `import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Dag, Job } from "effect-runner"
export const make = Job.make("make", { output: Schema.Struct({ name: Schema.String }), run: () => Effect.succeed({ name: "x" }) })
export const use = Job.make("use", { needs: { make }, run: ({ make }) => Effect.log(${use}) })
export default Dag.make("typed", [use])
`
    fs.writeFileSync(path.join(dir, "good.ts"), job("make.name.toUpperCase()"))
    fs.writeFileSync(path.join(dir, "bad.ts"), job("make.name.toFixed(2)"))
    fs.writeFileSync(path.join(dir, "tsconfig.json"), config(["good.ts", "bad.ts"]))
    const bad = run("tsc", ["-p", "."], dir)
    assert.notStrictEqual(bad.status, 0)
    const errors = bad.stdout.trim().split("\n").filter((line) => /error TS\d+/.test(line))
    assert.lengthOf(errors, 1, bad.output)
    assert.match(errors[0]!, /^bad\.ts\(5,\d+\): error TS\d+: Property 'toFixed' does not exist on type 'string'/)
  }, 180_000)

  it("a user's vitest file using effect-runner/test passes, and type-checks with the user's tsc", () => {
    const dir = path.join(project, "kit")
    fs.mkdirSync(dir)
    // vitest as the user would have it installed (the repository's copy).
    if (!fs.existsSync(path.join(project, "node_modules/vitest"))) {
      fs.symlinkSync(path.join(root, "node_modules/vitest"), path.join(project, "node_modules/vitest"))
    }
    fs.writeFileSync(path.join(dir, "etl.ts"), kitTask)
    fs.writeFileSync(path.join(dir, "etl.test.ts"), kitTest)
    fs.writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: { strict: true, module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", noEmit: true, skipLibCheck: true },
      files: ["etl.test.ts"]
    }))
    const tsc = run("tsc", ["-p", "."], dir)
    assert.strictEqual(tsc.status, 0, tsc.output)
    const vitest = run("vitest", ["run", "--root", dir], dir)
    assert.strictEqual(vitest.status, 0, vitest.output)
    assert.match(vitest.output, /Tests +2 passed/)
  }, 180_000)

  it.skipIf(oldNode.skip)("an older Node gets one line naming the versions, and exit 2", () => {
    // The machine's own Node (20 on the test machines): the package's bin must not even parse what it cannot run.
    const old = OLD_NODE
    const version = run(old, ["--version"], project).stdout.trim()
    assert.match(version, /^v(1\d|20|21|22\.(\d|1[0-8]))\./, `${old} is ${version}: this test needs a Node older than 22.19`)
    for (const [command, args, extra] of [
      [old, ["node_modules/.bin/runner", "tasks/x.ts"], {}],
      ["npx", ["runner", "tasks/x.ts"], { PATH: `/usr/bin${path.delimiter}${env.PATH}` }]
    ] as const) {
      const result = run(command, args, project, extra)
      assert.strictEqual(result.status, 2, result.output)
      assert.strictEqual(result.stderr, `effect-runner needs Node >= 22.19; you have ${version.slice(1)}\n`)
      assert.strictEqual(result.stdout, "")
    }
  })
})

describe("examples/monorepo, with the package installed", () => {
  const example = path.join(root, "examples/monorepo")
  /** The packages that `tsc -b` builds, and what it emits into each one's dist/. */
  const outputs: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["packages/core", ["index.js", "index.d.ts", "index.test.js", ".tsbuildinfo"]],
    ["packages/ui", ["index.js", "index.d.ts", "index.test.js", ".tsbuildinfo"]],
    ["apps/web", ["main.js", "main.d.ts", "index.test.js", ".tsbuildinfo"]]
  ]
  const order = ["@acme/core#build", "@acme/ui#build", "web#build"]
  const typescript = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).devDependencies.typescript as string
  let monorepo = ""

  beforeAll(() => {
    monorepo = tempDir()
    // What a clone has: no node_modules, builds or journal (the in-repo tests may have left them in the example).
    const ignored = new Set(["node_modules", "dist", ".runner", "package-lock.json"])
    fs.cpSync(example, monorepo, { recursive: true, filter: (source) => !ignored.has(path.basename(source)) })
    // npm links the workspace packages into node_modules itself, beside the tarball and its peers.
    install(monorepo, [tarball, "effect@4.1.5", "@effect/platform-node@4.1.5", `typescript@${typescript}`])
  }, 180_000)

  it("npm linked the workspace packages and installed the runner from the tarball", () => {
    for (const [name, dir] of [["@acme/core", "packages/core"], ["@acme/ui", "packages/ui"], ["@acme/tasks-kit", "packages/tasks-kit"], ["web", "apps/web"]]) {
      assert.strictEqual(fs.realpathSync(path.join(monorepo, "node_modules", name!)), fs.realpathSync(path.join(monorepo, dir!)))
    }
    assert.isFalse(fs.lstatSync(path.join(monorepo, "node_modules/effect-runner")).isSymbolicLink())
    assert.isTrue(fs.existsSync(path.join(monorepo, "node_modules/effect-runner/dist/Workspace.js")))
    assert.isTrue(fs.existsSync(path.join(monorepo, "node_modules/.bin/tsc")))
  })

  // Node and Bun here; Deno builds this example in WorkspaceCli.test.ts, and runs the installed package above.
  const builds: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["npx", ["runner", "ws", "build"]],
    ["bun", ["node_modules/.bin/runner", "ws", "build"]]
  ]
  it.each(builds)("%s %j builds every package with tsc -b, in package order", (command, args) => {
    for (const [dir] of outputs) fs.rmSync(path.join(monorepo, dir, "dist"), { recursive: true, force: true })
    const result = run(command, args, monorepo)
    assert.strictEqual(result.status, 0, result.output)
    assert.match(result.stdout, /^ws: workspace \.: build in 3 of 4 packages$/m)
    const started = [...result.stdout.matchAll(/^\S+ (\S+#\S+) started$/gm)].map((match) => match[1])
    assert.deepStrictEqual(started, order, result.stdout)
    // Each build starts after the one before it succeeded.
    for (const [first, second] of [[order[0]!, order[1]!], [order[1]!, order[2]!]]) {
      const done = result.stdout.search(new RegExp(`^\\S+ ${first} \\S* ?succeeded`, "m"))
      assert.isAbove(done, -1, result.stdout)
      assert.isBelow(done, result.stdout.indexOf(`${second} started`), result.stdout)
    }
    assert.match(result.stdout, /^run \S+ succeeded in/m)
    for (const [dir, files] of outputs) {
      for (const file of files) assert.isTrue(fs.existsSync(path.join(monorepo, dir, "dist", file)), `${dir}/dist/${file}`)
    }
  }, 120_000)

  it("npx tsc -p . type-checks the task files against the installed package", () => {
    const result = run("npx", ["tsc", "-p", "."], monorepo)
    assert.strictEqual(result.status, 0, result.output)
  }, 120_000)
})
