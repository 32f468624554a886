/** `runner ws`, `runner graph ws`, `runner list ws` and `Workspace.jobs`, through the real CLI in temporary monorepos. */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { runnerInProcess } from "./support/inProcess.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { pkg, pwdJobs, standard, writeWorkspace } from "./support/workspace.ts"

const tempDir = tempDirs("runner-ws-")

const ws = (cwd: string, args: ReadonlyArray<string>, runtime: RuntimeName = "node") =>
  runner(["ws", ...args, "--journal", "none", "--log-format", "plain"], { cwd, runtime })

/** The jobs of a --dry-run plan, in order. */
const planned = (stdout: string): ReadonlyArray<string> =>
  stdout.split("\n").filter((line) => /^  \S/.test(line)).map((line) => line.trim().split(" ")[0]!)

/** Whether `first` finished before `second` started, from a plain log. */
const before = (stdout: string, first: string, second: string) => {
  const done = stdout.search(new RegExp(`^\\S+ ${escape(first)} \\S* ?succeeded`, "m"))
  const started = stdout.search(new RegExp(`^\\S+ ${escape(second)} started`, "m"))
  return done !== -1 && started !== -1 && done < started
}
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\#/]/g, "\\$&")

describe("runner ws: runs a job of every package, in package order", () => {
  for (const runtime of ["node", "bun", "deno"] as const) {
    it(`${runtime}: ids are <package>#<job>; a package's build waits for its dependencies' builds; typed needs cross packages; shell jobs run in their package`, () => {
      const dir = standard(tempDir())
      const result = ws(dir, ["build", "test"], runtime)
      assert.strictEqual(result.status, 0, result.stderr + result.stdout)
      assert.match(result.stdout, /^ws: workspace \.: build, test in 3 of 5 packages$/m)
      assert.isTrue(before(result.stdout, "@acme/core#build", "@acme/lib#build"), result.stdout)
      assert.isTrue(before(result.stdout, "@acme/lib#build", "app#build"), result.stdout)
      assert.match(result.stdout, /\[app#build\] app built against core 7/)
      const real = fs.realpathSync(dir)
      assert.include(result.stdout, `[@acme/lib#build] ${path.join(real, "packages/lib")}`)
      assert.include(result.stdout, `[@acme/core#test] ${path.join(real, "packages/core")}`)
      assert.notMatch(result.stdout, /docs#|tools#/)
    })
  }

  it("--dry-run prints the plan with the package-order edges as needs", () => {
    const dir = standard(tempDir())
    const result = ws(dir, ["build", "--dry-run"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual(planned(result.stdout), ["@acme/core#build", "@acme/lib#build", "app#build"])
    assert.match(result.stdout, /^dag ws:build: 3 jobs in 3 levels/m)
    assert.match(result.stdout, /app#build\n\s+needs @acme\/core#build, @acme\/lib#build/)
  })

  it("the journal records the <package>#<job> ids", () => {
    const dir = standard(tempDir())
    const journal = path.join(dir, "journal.db")
    const result = runner(["ws", "build", "--journal", journal], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    const runId = /run (\S+) succeeded/.exec(result.stdout)![1]!
    const shown = runner(["show", runId, "--journal", journal], { cwd: dir })
    assert.strictEqual(shown.status, 0, shown.stderr)
    for (const id of ["@acme/core#build", "@acme/lib#build", "app#build"]) assert.include(shown.stdout, id)
  })

  it("a package without the job is walked through: its dependents wait for the packages below it", () => {
    const dir = writeWorkspace(tempDir(), {
      "package.json": { workspaces: ["packages/*"] },
      "packages/a/package.json": pkg("a"),
      "packages/a/tasks/t.ts": pwdJobs("build"),
      "packages/b/package.json": pkg("b", { a: "*" }),
      "packages/c/package.json": pkg("c", { b: "*" }),
      "packages/c/tasks/t.ts": pwdJobs("build")
    })
    const result = ws(dir, ["build", "--dry-run"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /c#build\n\s+runs pwd; needs a#build;/)
  })

  it("a failing build stops its dependents; the exit code is 1", () => {
    const dir = standard(tempDir())
    fs.writeFileSync(path.join(dir, "packages/lib/tasks/build.ts"), `import { Job } from "effect-runner"\nexport const build = Job.shell("build", ["false"])\n`)
    const result = ws(dir, ["build"])
    assert.strictEqual(result.status, 1, result.stdout)
    assert.notMatch(result.stdout, /app#build started/)
  })
})

describe("runner ws: discovery forms", () => {
  it("Yarn's { packages: [...] } and negated patterns", () => {
    const dir = standard(tempDir(), { name: "root", private: true, workspaces: { packages: ["packages/*", "apps/*", "!packages/tools"] } })
    const result = runner(["list", "ws"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "app#build")
    assert.notInclude(result.stdout, "tools#lint")
  })

  it("pnpm-workspace.yaml's packages list (package.json without workspaces)", () => {
    const dir = standard(tempDir(), { name: "root", private: true })
    fs.writeFileSync(path.join(dir, "pnpm-workspace.yaml"), `# pnpm\npackages:\n  - "packages/*"\n  - 'apps/**'\n  - "!packages/tools"\ncatalog:\n  effect: 4.1.5\n`)
    const result = runner(["list", "ws"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^app#build\s+\(needs @acme\/core#build; after @acme\/lib#build\)$/m)
    assert.notInclude(result.stdout, "tools#lint")
  })

  it("runs from a folder inside the workspace; a package.json field names other task files", () => {
    const dir = writeWorkspace(tempDir(), {
      "package.json": { workspaces: ["packages/*"] },
      "packages/a/package.json": pkg("a", {}, { "effect-runner": { tasks: ["ci/*.ts"] } }),
      "packages/a/ci/jobs.ts": pwdJobs("check"),
      "packages/a/tasks/ignored.ts": pwdJobs("ignored")
    })
    const result = runner(["list", "ws"], { cwd: path.join(dir, "packages/a") })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.include(result.stdout, "a#check")
    assert.notInclude(result.stdout, "ignored")
  })
})

describe("runner ws --filter", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
    ["a package only", ["--filter", "@acme/lib"], ["@acme/lib#build"]],
    ["a package and its dependencies", ["--filter", "@acme/lib..."], ["@acme/core#build", "@acme/lib#build"]],
    // app's build needs core's build (typed): core's comes along although core is not selected.
    ["a package and its dependents", ["--filter", "...@acme/lib"], ["@acme/core#build", "@acme/lib#build", "app#build"]],
    ["a glob", ["--filter", "@acme/*"], ["@acme/core#build", "@acme/lib#build"]],
    ["several (union)", ["--filter", "@acme/core", "--filter", "app"], ["@acme/core#build", "app#build"]],
    ["a typed need outside the selection comes along", ["--filter", "app"], ["@acme/core#build", "app#build"]]
  ]
  it.each(cases)("%s", (_, args, jobs) => {
    const dir = standard(tempDir())
    const result = ws(dir, ["build", "--dry-run", ...args])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual([...planned(result.stdout)].sort(), jobs)
  })

  it("selected packages without the job: says so, runs nothing, exit 0", () => {
    const dir = standard(tempDir())
    const result = ws(dir, ["build", "--filter", "tools"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^ws: no selected package has build; nothing to run$/m)
    assert.notMatch(result.stdout, /started/)
  })

  it("--filter app and core (lib between them not selected): app's build still waits for core's", () => {
    const dir = standard(tempDir())
    fs.writeFileSync(path.join(dir, "apps/app/tasks/build.ts"), pwdJobs("build"))
    const result = ws(dir, ["build", "--dry-run", "--filter", "app", "--filter", "@acme/core"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /app#build\n\s+runs pwd; needs @acme\/core#build;/)
  })
})

describe("runner ws --affected", () => {
  const git = (cwd: string, ...args: ReadonlyArray<string>) => {
    const result = spawnSync("git", args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" }
    })
    assert.strictEqual(result.status, 0, result.stderr)
    return result.stdout.trim()
  }
  const repo = () => {
    const dir = standard(tempDir())
    fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules\n")
    git(dir, "init", "-q", "-b", "main")
    git(dir, "add", "-A")
    git(dir, "commit", "-qm", "one")
    git(dir, "checkout", "-qb", "feature")
    fs.appendFileSync(path.join(dir, "packages/lib/index.ts"), "export const x = 1\n")
    git(dir, "add", "-A")
    git(dir, "commit", "-qm", "two")
    return dir
  }

  it("default base (merge base with main): the changed package and its dependents (and a typed need)", () => {
    const dir = repo()
    const result = ws(dir, ["build", "--dry-run", "--affected"])
    assert.strictEqual(result.status, 0, result.stderr)
    // lib changed; app and docs depend on it; app's build needs core's build (typed), so it comes along.
    assert.deepStrictEqual([...planned(result.stdout)].sort(), ["@acme/core#build", "@acme/lib#build", "app#build"])
    assert.match(result.stdout, /affected \(\w+\.\.the working tree\): @acme\/lib changed; depending on them: app, docs/)
  })

  it("--base and --head compare commits; without --head, uncommitted and untracked files count too", () => {
    const dir = repo()
    const first = git(dir, "rev-list", "--max-parents=0", "HEAD")
    fs.writeFileSync(path.join(dir, "packages/tools/new.ts"), "export {}\n")
    const committed = ws(dir, ["build", "lint", "--dry-run", "--affected", "--base", first, "--head", "HEAD"])
    assert.strictEqual(committed.status, 0, committed.stderr)
    assert.deepStrictEqual([...planned(committed.stdout)].sort(), ["@acme/core#build", "@acme/lib#build", "app#build"])
    const working = ws(dir, ["build", "lint", "--dry-run", "--affected", "--base", first])
    assert.strictEqual(working.status, 0, working.stderr)
    assert.deepStrictEqual([...planned(working.stdout)].sort(), ["@acme/core#build", "@acme/lib#build", "app#build", "tools#lint"])
  })

  it("no default branch: the base is the head's parent (HEAD^)", () => {
    const dir = repo()
    git(dir, "branch", "-qm", "main", "trunk")
    const result = ws(dir, ["build", "--dry-run", "--affected", "--head", "HEAD"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /affected \(HEAD\^\.\.HEAD\): @acme\/lib changed/)
    assert.deepStrictEqual([...planned(result.stdout)].sort(), ["@acme/core#build", "@acme/lib#build", "app#build"])
  })

  it("nothing changed: says so and runs nothing (exit 0)", () => {
    const dir = repo()
    const result = ws(dir, ["build", "--affected", "--base", "HEAD", "--head", "HEAD"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /no package changed/)
    assert.match(result.stdout, /no package selected; nothing to run/)
    assert.notMatch(result.stdout, /started/)
  })

  it("with --filter: the affected packages among the filtered ones", () => {
    const dir = repo()
    const result = ws(dir, ["build", "--dry-run", "--affected", "--filter", "app"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.deepStrictEqual([...planned(result.stdout)].sort(), ["@acme/core#build", "app#build"])
  })

  const failures: ReadonlyArray<readonly [string, (dir: string) => string, ReadonlyArray<string>, RegExp]> = [
    ["not a git repository", (dir) => dir, [], /is not in a git repository/],
    ["an unknown --base", (dir) => dir, ["--base", "nope"], /unknown ref "nope" \(--base\)/],
    ["an unknown --head", (dir) => dir, ["--head", "nope"], /unknown ref "nope" \(--head\)/],
    [
      "a shallow clone",
      (dir) => {
        const shallow = path.join(tempDir(), "shallow")
        git(dir, "clone", "-q", "--depth", "1", "--branch", "feature", `file://${dir}`, shallow)
        return shallow
      },
      [],
      /shallow clone/
    ],
    [
      "no default branch and no parent commit",
      (dir) => {
        git(dir, "checkout", "-q", "--orphan", "lonely")
        git(dir, "commit", "-qm", "alone")
        git(dir, "branch", "-qD", "main")
        return dir
      },
      [],
      /no default branch .* no parent commit/
    ]
  ]
  it.each(failures)("git cannot answer (%s): exit 2, loudly, nothing runs", (what, setup, args, message) => {
    const base = what === "not a git repository" ? standard(tempDir()) : repo()
    const dir = setup(base)
    const result = ws(dir, ["build", "--affected", ...args])
    assert.strictEqual(result.status, 2, result.stdout)
    assert.match(result.stderr, /^runner: --affected: git cannot tell which files changed: /m)
    assert.match(result.stderr, message)
    assert.notMatch(result.stdout, /started/)
  })

  it("--affected=all-on-error: git cannot answer, so every package runs, with a warning", () => {
    const dir = standard(tempDir())
    const result = ws(dir, ["build", "--affected=all-on-error"])
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stderr, /^runner: warning: --affected: git cannot tell which files changed: .*not in a git repository.*running every selected package/m)
    for (const id of ["@acme/core#build", "@acme/lib#build", "app#build"]) assert.match(result.stdout, new RegExp(`${escape(id)} started`))
  })
})

describe("runner ws: bad input exits 2 with a clear message; nothing runs", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string | object>, ReadonlyArray<string>, ReadonlyArray<RegExp>]> = [
    [
      // Discovery finds all its problems in one pass: one workspace with one of each kind (one run of the runner).
      "discovery: a workspace pattern matching nothing, a package without a name, two packages with one name, a dependency cycle between packages (with its path), a package.json field naming no task file: all problems at once",
      {
        "package.json": { workspaces: ["packages/*", "libs/*"] },
        "packages/a/package.json": { type: "module" },
        "packages/b/package.json": pkg("same"),
        "packages/c/package.json": pkg("same"),
        "packages/d/package.json": pkg("d", { e: "*" }),
        "packages/e/package.json": pkg("e", {}, { devDependencies: { f: "*" } }),
        "packages/f/package.json": pkg("f", {}, { peerDependencies: { d: "*" } }),
        "packages/g/package.json": pkg("g", {}, { "effect-runner": { tasks: ["ci/*.ts"] } })
      },
      ["build"],
      [
        /^runner: workspace .*: 5 problems; nothing ran:$/m,
        /package\.json workspaces: pattern "libs\/\*" matches no package/,
        /packages\/a\/package\.json: has no "name"/,
        /package name "same" is used twice: by packages\/b\/package\.json and by packages\/c\/package\.json/,
        /packages depend on each other in a cycle: d -> e -> f -> d/,
        /packages\/g\/package\.json "effect-runner"\.tasks: pattern "ci\/\*\.ts" matches no file/
      ]
    ],
    [
      "task files that fail to load: each names its package and file, all listed",
      {
        "package.json": { workspaces: ["packages/*"] },
        "packages/a/package.json": pkg("a"),
        "packages/a/tasks/t.ts": `export const x = ;\n`,
        "packages/b/package.json": pkg("b"),
        "packages/b/tasks/t.ts": `throw new Error("b is broken")\n`,
        "packages/c/package.json": pkg("c"),
        "packages/c/tasks/t.ts": pwdJobs("build")
      },
      ["build"],
      [/2 problems/, /package "a", task file packages\/a\/tasks\/t\.ts:1: syntax error/, /package "b", task file packages\/b\/tasks\/t\.ts:1:\d+: failed to load: Error: b is broken/]
    ],
    [
      "an unknown --filter package",
      { "package.json": { workspaces: ["packages/*"] }, "packages/a/package.json": pkg("a"), "packages/a/tasks/t.ts": pwdJobs("build") },
      ["build", "--filter", "nope", "--filter", "a"],
      [/^runner: --filter "nope" matches no workspace package; the packages: a$/m]
    ],
    [
      "a job no package has",
      { "package.json": { workspaces: ["packages/*"] }, "packages/a/package.json": pkg("a"), "packages/a/tasks/t.ts": pwdJobs("build") },
      ["deploy"],
      [/unknown job "deploy"; the DAG has: a#build/]
    ],
    [
      "no workspace",
      { "package.json": { name: "single" } },
      ["build"],
      [/no workspace in .* or above it: expected a package\.json with "workspaces", or a pnpm-workspace\.yaml/]
    ]
  ]
  it.each(cases)("%s", (_, files, args, messages) => {
    const dir = writeWorkspace(tempDir(), files)
    const result = ws(dir, args)
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    for (const message of messages) assert.match(result.stderr, message)
    assert.notMatch(result.stdout, /started/)
  })

  // Bad flag values are refused before the workspace is read: through the CLI's `main` in this process (the same
  // parsing, messages and exit code, a runtime's start-up less per case); the cases above spawn the runner.
  const flags: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
    ["--base without --affected", ["build", "--base", "main"], /^runner: --base: only applies with --affected$/m],
    ["an unknown --affected value", ["build", "--affected=sometimes"], /^runner: --affected: takes no value or =all-on-error, got "sometimes"$/m]
  ]
  it.each(flags)("%s (in process)", async (_, args, message) => {
    const result = await runnerInProcess(["ws", ...args, "--journal", "none", "--log-format", "plain"])
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.match(result.stderr, message)
    assert.notMatch(result.stdout, /started/)
  })

  it("a cycle made by typed needs against the package order names the jobs", () => {
    const dir = writeWorkspace(tempDir(), {
      "package.json": { workspaces: ["packages/*"] },
      "packages/a/package.json": pkg("a", {}, { exports: { "./tasks": "./tasks/t.ts" } }),
      "packages/a/tasks/t.ts": `import { Job } from "effect-runner"\nimport { build as b } from "b/tasks"\nexport const build = Job.shell("build", ["true"], { needs: { b } })\n`,
      "packages/b/package.json": pkg("b", { a: "*" }, { exports: { "./tasks": "./tasks/t.ts" } }),
      "packages/b/tasks/t.ts": `import { Job } from "effect-runner"\nexport const build = Job.shell("build", ["true"])\nexport const other = Job.shell("other", ["true"])\n`
    })
    const result = ws(dir, ["build"])
    assert.strictEqual(result.status, 2, result.stdout)
    assert.match(result.stderr, /jobs depend on each other in a cycle: (a#build -> b#build -> a#build|b#build -> a#build -> b#build)/)
  })
})

describe("runner graph ws / list ws", () => {
  it("graph: packages are subgraphs; package-order edges dashed (mermaid and dot)", () => {
    const dir = standard(tempDir())
    const mermaid = runner(["graph", "ws", "build"], { cwd: dir })
    assert.strictEqual(mermaid.status, 0, mermaid.stderr)
    assert.match(mermaid.stdout, /subgraph p\d\["@acme\/core"\]\n\s+j\d\["@acme\/core#build"\]\n\s+end/)
    assert.match(mermaid.stdout, /j\d -\.-> j\d/)
    assert.match(mermaid.stdout, /j\d --> j\d/)
    const dot = runner(["graph", "ws", "build", "--format", "dot", "--filter", "...@acme/lib"], { cwd: dir })
    assert.strictEqual(dot.status, 0, dot.stderr)
    assert.match(dot.stdout, /subgraph cluster_\d \{\n\s+label="app";/)
    assert.match(dot.stdout, /-> j\d \[style=dashed\];/)
  })

  it("list: every job of every package (by default), typed needs and package order apart", () => {
    const dir = standard(tempDir())
    const result = runner(["list", "ws"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /^@acme\/core#test\s+\(needs @acme\/core#build\)$/m)
    assert.match(result.stdout, /^@acme\/lib#build\s+\(after @acme\/core#build\)$/m)
    assert.match(result.stdout, /^tools#lint$/m)
  })

  it("--filter on a task file (not ws) is refused", () => {
    const result = runner(["list", "tasks/hello.ts", "--filter", "x"])
    assert.strictEqual(result.status, 2)
    assert.match(result.stderr, /--filter: only applies to ws/)
  })
})

describe("Workspace.jobs in a root task file", () => {
  it("puts the packages' builds beside the repository's own jobs; ws.of(job) is the workspace job, typed", () => {
    const dir = standard(tempDir())
    writeWorkspace(dir, {
      "tasks/ci.ts": [
        `import { Dag, Job, Workspace } from "effect-runner"`,
        `import * as Effect from "effect/Effect"`,
        `import { build as coreBuild } from "@acme/core/tasks"`,
        `const builds = await Workspace.jobs("build")`,
        `export const deploy = Job.make("deploy", {`,
        `  needs: { core: builds.of(coreBuild) },`,
        `  run: ({ core }) => Effect.log(\`deploying core \${core.version.toFixed(1)} after \${builds.length} builds\`)`,
        `})`,
        `export default Dag.make("ci", [...builds, deploy])`
      ].join("\n")
    })
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "root", type: "module", workspaces: ["packages/*", "apps/*"] }))
    const result = runner(["tasks/ci.ts", "--journal", "none", "--log-format", "plain"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    assert.match(result.stdout, /\[deploy\] deploying core 7\.0 after 3 builds/)
    assert.isTrue(before(result.stdout, "@acme/core#build", "@acme/lib#build"), result.stdout)
    assert.isTrue(before(result.stdout, "@acme/lib#build", "app#build"), result.stdout)
    assert.strictEqual((result.stdout.match(/@acme\/core#build started/g) ?? []).length, 1, "core's build runs once")
  })
})

describe("examples/monorepo (npm workspaces: a library, a package using it, an app; tsc -b builds and tests as jobs)", () => {
  const example = path.join(import.meta.dirname, "../examples/monorepo")
  const tsc = path.join(import.meta.dirname, "../node_modules/.bin/tsc")
  // What `npm install` makes for the workspace: node_modules/<name> links to each package. (typescript comes from
  // this repository's node_modules, found by the example's tasks-kit the way `npm exec` finds it.)
  const link = () => {
    for (const [name, dir] of [["@acme/core", "packages/core"], ["@acme/ui", "packages/ui"], ["@acme/tasks-kit", "packages/tasks-kit"], ["web", "apps/web"]]) {
      const target = path.join(example, "node_modules", name!)
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.rmSync(target, { force: true, recursive: true })
      fs.symlinkSync(path.relative(path.dirname(target), path.join(example, dir!)), target)
    }
    for (const dir of ["packages/core", "packages/ui", "apps/web"]) fs.rmSync(path.join(example, dir, "dist"), { recursive: true, force: true })
  }

  // Node and Deno here; Bun builds this example from the installed package (Package.test.ts), and `runner ws` runs on
  // all three above.
  for (const runtime of ["node", "deno"] as const) {
    it(`${runtime}: runner ws build test release builds, tests and describes every package in order`, () => {
      link()
      const result = ws(example, ["build", "test", "release"], runtime)
      assert.strictEqual(result.status, 0, result.stderr + result.stdout)
      assert.isTrue(before(result.stdout, "@acme/core#build", "@acme/ui#build"), result.stdout)
      assert.isTrue(before(result.stdout, "@acme/ui#build", "web#build"), result.stdout)
      for (const line of ["[@acme/core#test] core: 2 checks passed", "[@acme/ui#test] ui: 1 check passed", "[web#test] web: 1 check passed"]) {
        assert.include(result.stdout, line)
      }
      assert.include(result.stdout, "[web#release] web built against @acme/core 1.4.0 (cents, total, format)")
      assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(example, "apps/web/dist/release.json"), "utf8")), {
        app: "web",
        core: "1.4.0",
        coreExports: 3
      })
    }, 180_000)
  }

  it("tasks/ci.ts: Workspace.jobs puts the packages' builds and tests beside a typed deploy", () => {
    link()
    const result = runner(["tasks/ci.ts", "--journal", "none", "--log-format", "plain"], { cwd: example })
    assert.strictEqual(result.status, 0, result.stderr + result.stdout)
    assert.isTrue(before(result.stdout, "@acme/core#build", "@acme/ui#build"), result.stdout)
    assert.isTrue(before(result.stdout, "@acme/ui#build", "web#build"), result.stdout)
    assert.include(result.stdout, "[web#test] web: 1 check passed")
    assert.include(result.stdout, "[deploy] deploying web with @acme/core 1.4.0 (3 exports)")
  }, 180_000)

  it("the task files type-check; a wrong use of another package's typed output does not", () => {
    link()
    // One tsc over the example's task files and a file with a wrong use: the wrong use is the only error.
    const typo = path.join(example, "typo-check.ts")
    const config = path.join(example, "tsconfig.typo.json")
    try {
      fs.writeFileSync(typo, `import { api } from "@acme/core/tasks"\nimport { Job } from "effect-runner"\nimport * as Effect from "effect/Effect"\n` +
        `export const x = Job.make("x", { needs: { core: api }, run: ({ core }) => Effect.succeed(core.version.toFixed(2)) })\n`)
      const include = JSON.parse(fs.readFileSync(path.join(example, "tsconfig.json"), "utf8").replace(/^\s*\/\/.*$/gm, "")).include
      assert.includeMembers(include, ["tasks/*.ts", "packages/*/tasks/*.ts", "apps/*/tasks/*.ts"])
      fs.writeFileSync(config, JSON.stringify({ extends: "./tsconfig.json", include: [...include, "typo-check.ts"] }))
      const checked = spawnSync(tsc, ["-p", config], { cwd: example, encoding: "utf8" })
      assert.strictEqual(checked.status, 2, checked.stdout + checked.stderr)
      const errors = checked.stdout.split("\n").filter((line) => /error TS\d+/.test(line))
      assert.lengthOf(errors, 1, checked.stdout)
      assert.match(errors[0]!, /^typo-check\.ts\(4,\d+\): error TS2551: Property 'toFixed' does not exist on type 'string'/)
    } finally {
      fs.rmSync(typo, { force: true })
      fs.rmSync(config, { force: true })
    }
  }, 240_000)
})
