/**
 * Up-to-date skipping through the real CLI, with task files in temporary folders (importing the runner's
 * src/index.ts): realistic typed outputs passed downstream from a cached job on Node, Bun and Deno, odd job names,
 * `--force` in both forms, `RUNNER_CACHE=off`, bad input (exit 2 naming the job and the option), a glob matching
 * nothing, two runs sharing a journal at once, a kill -9 then `--resume`, and `runner ws` with cached packages.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { withDb } from "./support/db.ts"
import { root, runnerCommand, type RuntimeName, waitUntil } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { requireTool } from "./support/tools.ts"
import { pkg, writeWorkspace } from "./support/workspace.ts"

const tempDir = tempDirs("runner-cache-cli-")
const index = path.join(root, "src/index.ts")

interface Result {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

interface CliOptions {
  readonly runtime?: RuntimeName
  readonly env?: Record<string, string>
  /**
   * Run without the capabilities that let root read any file (the tests run as root, whom file permissions do not
   * stop): `setpriv` drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from what the runner may have.
   */
  readonly permissionsApply?: boolean
}

/**
 * Starts the runner in `cwd` (declared files are relative to it). Not spawnSync: a 200,000-line command prints more
 * than its default buffer, and two runs must overlap.
 */
const start = (cwd: string, args: ReadonlyArray<string>, options: CliOptions = {}) => {
  const runner = runnerCommand(options.runtime ?? "node")
  const [command, ...prefix] = options.permissionsApply === true
    ? ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", ...runner]
    : runner
  const child = spawn(command!, [...prefix, ...args], { cwd, env: { ...process.env, NO_COLOR: "1", ...options.env } })
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (chunk) => (stdout += chunk))
  child.stderr.on("data", (chunk) => (stderr += chunk))
  const done = new Promise<Result>((resolve) => {
    child.on("close", (status) => resolve({ status, stdout, stderr }))
    // A program that cannot start (not installed) ends the test at once, saying so.
    child.on("error", (error) => resolve({ status: null, stdout, stderr: `${stderr}${error.message}` }))
  })
  return { child, done, output: () => stdout + stderr }
}

const cli = (cwd: string, args: ReadonlyArray<string>, options: CliOptions = {}) =>
  start(cwd, [...args, "--log-format", "plain"], options).done

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\#/]/g, "\\$&")

/** A job's status in the summary table of a plain log. */
const statusOf = (stdout: string, job: string): string | undefined =>
  new RegExp(`^${escape(job)}\\s+(succeeded|cached|failed|skipped|interrupted|restored)\\s`, "m").exec(stdout)?.[1]

const statuses = (stdout: string, jobs: ReadonlyArray<string>) => Object.fromEntries(jobs.map((job) => [job, statusOf(stdout, job)]))

const ok = (result: Result) => assert.strictEqual(result.status, 0, result.stdout + result.stderr)

/** Each job body appends its name to ran.txt in the current directory: which bodies ran, in order. */
const ran = (dir: string): ReadonlyArray<string> => {
  const file = path.join(dir, "ran.txt")
  const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter((l) => l !== "") : []
  fs.rmSync(file, { force: true })
  return lines
}

const header = [
  `import { Dag, Job } from ${JSON.stringify(index)}`,
  `import * as Config from "effect/Config"`,
  `import * as Effect from "effect/Effect"`,
  `import * as Schema from "effect/Schema"`,
  `import * as fs from "node:fs"`,
  `const count = (name: string) => Effect.sync(() => fs.appendFileSync("ran.txt", name + "\\n"))`
].join("\n")

/**
 * A realistic DAG: a typed output with a Date, a BigInt and a Map (odd job name), a command printing `lines` lines
 * (200,000: its output keeps the first 64 KiB), a cached job that needs both, and an uncached job that logs what it
 * receives.
 */
const valuesTaskFile = (lines: number) => `${header}
const Stats = Schema.Struct({
  at: Schema.Date,
  rows: Schema.BigInt,
  sizes: Schema.ReadonlyMap(Schema.String, Schema.BigInt)
})
export const extract = Job.make("extract #1 ☃ users", {
  cache: { files: ["data/*.csv"], outputs: ["out/extract.json"] },
  output: Stats,
  run: () => Effect.gen(function*() {
    yield* count("extract")
    fs.mkdirSync("out", { recursive: true })
    fs.writeFileSync("out/extract.json", "{}")
    return {
      at: new Date("2026-12-01T02:00:00.123Z"),
      rows: 9007199254740993n,
      sizes: new Map([["a.csv", 12n], ["b.csv", 1n << 70n]])
    }
  })
})
export const lines = Job.command(${JSON.stringify(linesJob(lines))}, ["sh", "-c", "seq 1 ${lines}"], { cache: true })
export const report = Job.make("report", {
  needs: { extract, lines },
  cache: true,
  output: Schema.BigInt,
  run: ({ extract }) => Effect.as(count("report"), extract.rows * 2n)
})
export const show = Job.make("show", {
  needs: { extract, lines, report },
  run: ({ extract, lines, report }) => Effect.log([
    "decoded",
    extract.at instanceof Date && extract.at.toISOString(),
    typeof extract.rows === "bigint" && (extract.rows + 1n).toString(),
    extract.sizes instanceof Map && [...extract.sizes].map(([k, v]) => k + "=" + v).join(","),
    "stdout " + lines.stdout.length + " " + lines.stdout.slice(0, 6).replace(/\\n/g, "|"),
    "report " + (typeof report === "bigint" && report.toString())
  ].join(" "))
})
export default Dag.make("values", [extract, lines, report, show])
`
/** The command job's name: "lines 200k" prints 200,000 lines. */
const linesJob = (lines: number) => `lines ${lines / 1000}k`
const valueJobs = ["extract #1 ☃ users", "lines 200k", "report", "show"]
/**
 * The same DAG whose command prints 2,000 lines ("lines 2k"): for the tests of --force, key forms and RUNNER_CACHE,
 * where the 200,000 lines (each run on each runtime in the test above) would only add a few seconds of printing.
 */
const SMALL = 2_000
const smallJobs = ["extract #1 ☃ users", linesJob(SMALL), "report", "show"]

const valuesDir = (lines = 200_000) => {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, "tasks.ts"), valuesTaskFile(lines))
  fs.mkdirSync(path.join(dir, "data"))
  fs.writeFileSync(path.join(dir, "data/users.csv"), "id,name\n1,Ada\n")
  return dir
}

const decodedLine = /\[show\] decoded 2026-12-01T02:00:00\.123Z 9007199254740994 a\.csv=12,b\.csv=1180591620717411303424 stdout (\d+) 1\|2\|3\| report 18014398509481986$/m

describe("cached typed outputs on Node, Bun and Deno, one journal", () => {
  // One folder and journal for the three runtimes in turn: each runtime's first run is a miss (the runtime is part of
  // the key), its second reuses what it kept.
  it("on each runtime, the second run reuses every cached job and the job after them receives the same Date, BigInt, Map and command output; a success on one runtime is not reused on the next, and the reason says so", async () => {
    const dir = valuesDir()
    const args = ["tasks.ts", "--journal", "journal.db"]
    let previous: RuntimeName | undefined
    for (const runtime of ["node", "bun", "deno"] as const) {
      const first = await cli(dir, args, { runtime })
      ok(first)
      assert.deepStrictEqual(statuses(first.stdout, valueJobs), {
        "extract #1 ☃ users": "succeeded",
        "lines 200k": "succeeded",
        report: "succeeded",
        show: "succeeded"
      }, runtime)
      if (previous !== undefined) {
        assert.match(
          first.stdout,
          new RegExp(`^\\S+ \\[report\\] runs: the runtime differs \\(${previous} [\\d.]+ → ${runtime} [\\d.]+\\)(; the job's definition \\(its code, command, schemas\\) changed)?$`, "m")
        )
        // The runner's own files are not the job's code: only the task file's modules are in its key.
        assert.notInclude(first.stdout, "code of")
      }
      const before = decodedLine.exec(first.stdout)
      assert.isNotNull(before, first.stdout.slice(-3000))
      // The command's output keeps the first 64 KiB of its 1.3 MB of stdout.
      assert.isAtMost(Number(before![1]), 64 * 1024)
      assert.isAbove(Number(before![1]), 60 * 1024)
      assert.deepStrictEqual(ran(dir), ["extract", "report"], runtime)
      // The code in the keys is the task file's, never the runner's own sources (covered by the runner's version).
      const modules = withDb(path.join(dir, "journal.db"), (db) =>
        db.prepare(`SELECT manifest FROM cache_entries`).all().flatMap((row) =>
          (JSON.parse(String(row.manifest)) as Array<[string, string, string]>).filter(([kind]) => kind === "module").map(([, name]) => name)
        ))
      assert.deepStrictEqual([...new Set(modules)], ["tasks.ts"])

      const second = await cli(dir, args, { runtime })
      ok(second)
      assert.deepStrictEqual(statuses(second.stdout, valueJobs), {
        "extract #1 ☃ users": "cached",
        "lines 200k": "cached",
        report: "cached",
        show: "succeeded"
      }, runtime)
      assert.deepStrictEqual(ran(dir), [], runtime)
      assert.notInclude(second.stdout, "[lines 200k] 1\n")
      const after = decodedLine.exec(second.stdout)
      assert.isNotNull(after, second.stdout)
      assert.strictEqual(after![0], before![0])
      previous = runtime
    }
  }, 180_000)
})

describe("the key across processes; RUNNER_CACHE=off", () => {
  it("the task file named as tasks.ts, ./tasks.ts or by its absolute path: one key, reused by each later process; RUNNER_CACHE=off reuses nothing for one invocation, the successes are still kept for the next", async () => {
    const dir = valuesDir(SMALL)
    const cached = {
      "extract #1 ☃ users": "cached",
      "lines 2k": "cached",
      report: "cached",
      show: "succeeded"
    }
    const first = await cli(dir, ["tasks.ts", "--journal", "journal.db"])
    ok(first)
    assert.strictEqual(statusOf(first.stdout, "report"), "succeeded")
    assert.deepStrictEqual(ran(dir), ["extract", "report"])
    const dotted = await cli(dir, ["./tasks.ts", "--journal", "journal.db"])
    ok(dotted)
    assert.deepStrictEqual(statuses(dotted.stdout, smallJobs), cached)
    assert.deepStrictEqual(ran(dir), [])
    // Off for one invocation (./tasks.ts): every cached job runs again.
    const off = await cli(dir, ["./tasks.ts", "--journal", "journal.db"], { env: { RUNNER_CACHE: "off" } })
    ok(off)
    assert.deepStrictEqual(statuses(off.stdout, smallJobs).report, "succeeded")
    assert.deepStrictEqual(ran(dir), ["extract", "report"])
    // On again, by the absolute path: the kept successes (under the one key) are reused.
    const absolute = await cli(dir, [path.join(dir, "tasks.ts"), "--journal", "journal.db"])
    ok(absolute)
    assert.deepStrictEqual(statuses(absolute.stdout, smallJobs), cached)
    assert.deepStrictEqual(ran(dir), [])
  })
})

describe("reusing nothing: --force, --force=<jobs>", () => {
  it("--force runs every job; --force=<job> runs that job and, by early cutoff, not its dependents when its output is the same", async () => {
    const dir = valuesDir(SMALL)
    const args = ["tasks.ts", "--journal", "journal.db"]
    ok(await cli(dir, args))
    ran(dir)
    const all = await cli(dir, [...args, "--force"])
    ok(all)
    assert.deepStrictEqual(statuses(all.stdout, smallJobs), {
      "extract #1 ☃ users": "succeeded",
      "lines 2k": "succeeded",
      report: "succeeded",
      show: "succeeded"
    })
    assert.deepStrictEqual(ran(dir), ["extract", "report"])

    const one = await cli(dir, [...args, "--force=extract #1 ☃ users"])
    ok(one)
    assert.deepStrictEqual(statuses(one.stdout, smallJobs), {
      "extract #1 ☃ users": "succeeded",
      "lines 2k": "cached",
      report: "cached",
      show: "succeeded"
    })
    assert.deepStrictEqual(ran(dir), ["extract"])

    const two = await cli(dir, [...args, "--force=lines 2k, report"])
    ok(two)
    assert.deepStrictEqual(statuses(two.stdout, smallJobs), {
      "extract #1 ☃ users": "cached",
      "lines 2k": "succeeded",
      report: "succeeded",
      show: "succeeded"
    })
    assert.deepStrictEqual(ran(dir), ["report"])
    assert.match(two.stdout, decodedLine)
  })

  it("--force naming a job not in the run: exit 2 with the name and the jobs, nothing runs", async () => {
    const dir = valuesDir()
    const result = await cli(dir, ["tasks.ts", "--journal", "journal.db", "--force=report,nope"])
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.include(result.stderr, `--force: names "nope", not a job of this run (jobs: extract #1 ☃ users, lines 200k, report, show)`)
    assert.deepStrictEqual(ran(dir), [])
  })
})

describe("bad input: exit 2, naming the job and the option", () => {
  const badDir = (job: string) => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "tasks.ts"), `${header}\n${job}\nexport default Dag.make("bad", [job])\n`)
    return dir
  }

  it("an env name that is not a variable name", async () => {
    const dir = badDir(`export const job = Job.make("build it", { cache: { env: ["NODE_ENV", "1BAD-NAME"] }, run: () => count("build") })`)
    const result = await cli(dir, ["tasks.ts", "--journal", "journal.db"])
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.include(result.stderr, `job "build it" cache.env: "1BAD-NAME" is not a valid environment variable name`)
    assert.deepStrictEqual(ran(dir), [])
  })

  it("a ttl that is not a duration", async () => {
    const dir = badDir(`export const job = Job.make("build it", { cache: { ttl: "next week" }, run: () => count("build") })`)
    const result = await cli(dir, ["tasks.ts", "--journal", "journal.db"])
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.include(result.stderr, `job "build it" cache.ttl: invalid duration "next week"`)
  })

  it("a config variable not named in cache.env (plan time, with its name; declared ones are fine)", async () => {
    const dir = badDir(
      `export const job = Job.make("deploy it", { cache: { env: ["REGION"] }, config: { region: Config.String("REGION"), token: Config.String("API_TOKEN") }, run: () => count("deploy") })`
    )
    const result = await cli(dir, ["tasks.ts", "--journal", "journal.db"], { env: { REGION: "eu", API_TOKEN: "t0ps3cret" } })
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.include(result.stderr, `job "deploy it": config token: reads API_TOKEN, not named in cache.env`)
    assert.notInclude(result.stderr, "config region")
    assert.notInclude(result.stdout + result.stderr, "t0ps3cret")
    assert.deepStrictEqual(ran(dir), [])
  })

  // As root, file permissions do not stop the runner unless it runs without CAP_DAC_OVERRIDE: util-linux's setpriv.
  const setpriv = process.getuid?.() === 0 ? requireTool("setpriv", "apt-get install util-linux") : { skip: false }
  it.skipIf(setpriv.skip)("a declared file that cannot be read (chmod 000; as root, the runner runs without the capability to read it anyway)", async () => {
    const dir = badDir(`export const job = Job.make("read it", { cache: { files: ["secret/*.txt"] }, run: () => count("read") })`)
    fs.mkdirSync(path.join(dir, "secret"))
    fs.writeFileSync(path.join(dir, "secret/a.txt"), "x")
    fs.writeFileSync(path.join(dir, "secret/b.txt"), "y")
    fs.chmodSync(path.join(dir, "secret/b.txt"), 0o000)
    const root = process.getuid?.() === 0
    const result = await cli(dir, ["tasks.ts", "--journal", "journal.db"], { permissionsApply: root })
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    assert.include(result.stderr, `job "read it": cache.files secret/b.txt: is not readable`)
    assert.notInclude(result.stderr, "secret/a.txt")
    assert.deepStrictEqual(ran(dir), [])
  })
})

describe("a glob matching nothing", () => {
  it("warns once and hashes the empty set: reused next time, until a file matches", async () => {
    const dir = tempDir()
    fs.writeFileSync(
      path.join(dir, "tasks.ts"),
      `${header}\nexport const job = Job.make("gen", { cache: { files: ["schemas/**/*.json", "tasks.ts"] }, run: () => count("gen") })\nexport default Dag.make("globs", [job])\n`
    )
    const args = ["tasks.ts", "--journal", "journal.db"]
    const warning = `[gen] cache.files "schemas/**/*.json" matches no file (hashed as the empty set)`
    const first = await cli(dir, args)
    ok(first)
    assert.strictEqual(first.stdout.split(warning).length - 1, 1, first.stdout)
    assert.strictEqual(statusOf(first.stdout, "gen"), "succeeded")
    const second = await cli(dir, args)
    ok(second)
    assert.strictEqual(statusOf(second.stdout, "gen"), "cached")
    fs.mkdirSync(path.join(dir, "schemas/v1"), { recursive: true })
    fs.writeFileSync(path.join(dir, "schemas/v1/user.json"), "{}")
    const third = await cli(dir, args)
    ok(third)
    assert.strictEqual(statusOf(third.stdout, "gen"), "succeeded")
    assert.include(third.stdout, "[gen] runs: file schemas/v1/user.json was added")
    assert.notInclude(third.stdout, warning)
    assert.deepStrictEqual(ran(dir), ["gen", "gen"])
  })
})

describe("runs sharing a journal", () => {
  /** Six cached jobs with typed outputs, each a little slow, and one that checks every output it receives. */
  const sharedTaskFile = `${header}
const Out = Schema.Struct({ n: Schema.Number, at: Schema.Date, big: Schema.BigInt, tag: Schema.String })
const jobs = Array.from({ length: 6 }, (_, n) =>
  Job.make("part " + n, {
    cache: { files: ["inputs/" + n + ".txt"] },
    output: Out,
    run: () => Effect.gen(function*() {
      yield* Effect.sleep(20 + 15 * n)
      const tag = fs.readFileSync("inputs/" + n + ".txt", "utf8")
      return { n, at: new Date(Date.UTC(2026, 0, n + 1)), big: (1n << 64n) + BigInt(n), tag: tag.repeat(500) }
    })
  }))
export const check = Job.make("check", {
  needs: Object.fromEntries(jobs.map((job, n) => ["p" + n, job])),
  run: (inputs) => Effect.suspend(() => {
    const bad = Object.entries(inputs as Record<string, any>).filter(([name, v]) => {
      const n = Number(name.slice(1))
      const tag = fs.readFileSync("inputs/" + n + ".txt", "utf8")
      return !(v.n === n && v.at instanceof Date && v.at.getTime() === Date.UTC(2026, 0, n + 1) &&
        v.big === (1n << 64n) + BigInt(n) && v.tag === tag.repeat(500))
    })
    return bad.length > 0
      ? Effect.fail("torn: " + bad.map(([name]) => name).join(","))
      : Effect.log("all six outputs intact")
  })
})
export default Dag.make("shared", [...jobs, check])
`
  const parts = Array.from({ length: 6 }, (_, n) => `part ${n}`)

  it.each(["node", "bun", "deno"] as const)("on %s: two runs of the same task file at once both succeed; every job ends cached or succeeded with its output intact", async (runtime) => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "tasks.ts"), sharedTaskFile)
    fs.mkdirSync(path.join(dir, "inputs"))
    for (let n = 0; n < 6; n++) fs.writeFileSync(path.join(dir, `inputs/${n}.txt`), `v1-${n}`)
    const args = ["tasks.ts", "--journal", "journal.db"]
    const round = async () => {
      const results = await Promise.all([cli(dir, args, { runtime }), cli(dir, args, { runtime })])
      for (const result of results) {
        ok(result)
        assert.include(result.stdout, "all six outputs intact")
        for (const part of parts) assert.oneOf(statusOf(result.stdout, part), ["cached", "succeeded"], result.stdout)
      }
      return results
    }
    // Cold: both run (or one reuses what the other kept meanwhile).
    await round()
    // Warm, with two inputs changed: those two run (in one process or both), the rest are reused by both.
    fs.writeFileSync(path.join(dir, "inputs/1.txt"), "v2-1")
    fs.writeFileSync(path.join(dir, "inputs/4.txt"), "v2-4")
    const warm = await round()
    for (const result of warm) {
      for (const n of [0, 2, 3, 5]) assert.strictEqual(statusOf(result.stdout, `part ${n}`), "cached", result.stdout)
    }
    // Both kept the same successes: one more run reuses them all.
    const last = await cli(dir, args, { runtime })
    ok(last)
    for (const part of parts) assert.strictEqual(statusOf(last.stdout, part), "cached")
  })
})

describe("a kill -9 in the middle of a run whose earlier jobs were cached", () => {
  it.each(["node", "bun", "deno"] as const)("on %s: --resume finishes it: the cached jobs are not run again, the rest runs", async (runtime) => {
    const dir = tempDir()
    fs.writeFileSync(
      path.join(dir, "tasks.ts"),
      `${header}
export const fetch = Job.make("fetch", { cache: true, output: Schema.Date, run: () => Effect.as(count("fetch"), new Date("2026-01-02T03:04:05.000Z")) })
export const parse = Job.make("parse", { needs: { fetch }, cache: true, output: Schema.BigInt, run: ({ fetch }) => Effect.as(count("parse"), BigInt(fetch.getTime())) })
export const load = Job.make("load", {
  needs: { fetch, parse },
  cache: { files: ["input.txt"] },
  run: ({ fetch, parse }) => Effect.gen(function*() {
    yield* count("load")
    yield* Effect.log("loading")
    while (fs.existsSync("hold")) yield* Effect.sleep(50)
    yield* Effect.log("loaded " + fetch.toISOString() + " " + (parse + 1n))
  })
})
export default Dag.make("killed", [fetch, parse, load])
`
    )
    const args = ["tasks.ts", "--journal", "journal.db", "--log-format", "plain"]
    fs.writeFileSync(path.join(dir, "input.txt"), "v1")
    ok(await cli(dir, ["tasks.ts", "--journal", "journal.db"], { runtime }))
    assert.deepStrictEqual(ran(dir), ["fetch", "parse", "load"])
    // load's input changes: it runs (and is held) while fetch and parse are reused.
    fs.writeFileSync(path.join(dir, "input.txt"), "v2")
    fs.writeFileSync(path.join(dir, "hold"), "")
    const held = start(dir, args, { runtime })
    await waitUntil(() => held.output().includes("[load] loading"), 30_000)
    held.child.kill("SIGKILL")
    const killed = await held.done
    assert.strictEqual(killed.status, null)
    fs.rmSync(path.join(dir, "hold"))
    assert.deepStrictEqual(ran(dir), ["load"])
    const resumed = await cli(dir, ["tasks.ts", "--journal", "journal.db", "--resume"], { runtime })
    ok(resumed)
    assert.deepStrictEqual(ran(dir), ["load"])
    assert.include(resumed.stdout, "[load] loaded 2026-01-02T03:04:05.000Z 1767323045001")
    assert.match(resumed.stdout, /run \S+ succeeded/)
    // The killed attempt of load was never kept (the resumed run ran it); the resumed run's success is.
    const again = await cli(dir, ["tasks.ts", "--journal", "journal.db"], { runtime })
    ok(again)
    assert.deepStrictEqual(statuses(again.stdout, ["fetch", "parse", "load"]), { fetch: "cached", parse: "cached", load: "cached" })
    assert.deepStrictEqual(ran(dir), [])
  })
})

describe("runner ws with cached packages", () => {
  /**
   * core <- lib <- app (package order). Each package's build declares its own `src/**` and `notes.md`, relative to its
   * package folder, and outputs the text of its src/index.ts (so notes.md changes its key, not its output).
   */
  const workspace = (dir: string) =>
    writeWorkspace(dir, {
      "package.json": { name: "root", private: true, workspaces: ["packages/*"] },
      ...Object.fromEntries(["core", "lib", "app"].flatMap((name, i, all) => [
        [`packages/${name}/package.json`, pkg(name, i === 0 ? {} : { [all[i - 1]!]: "*" })],
        [`packages/${name}/src/index.ts`, `export const ${name} = 1\n`],
        [`packages/${name}/notes.md`, "notes\n"],
        [`packages/${name}/tasks/build.ts`, buildTask(dir, name)]
      ]))
    })
  const buildTask = (dir: string, name: string) =>
    [
      `import { Job } from ${JSON.stringify(index)}`,
      `import * as Effect from "effect/Effect"`,
      `import * as fs from "node:fs"`,
      `export const build = Job.make("build", {`,
      `  cache: { files: ["src/**/*.ts", "notes.md"] },`,
      `  run: () => Effect.sync(() => {`,
      `    fs.appendFileSync(${JSON.stringify(path.join(dir, "ran.txt"))}, ${JSON.stringify(name)} + "\\n")`,
      `    return fs.readFileSync(${JSON.stringify(path.join(dir, "packages", name, "src/index.ts"))}, "utf8")`,
      `  })`,
      `})`
    ].join("\n")
  const jobs = ["core#build", "lib#build", "app#build"]

  // Every step on Node; on Bun and Deno (package-relative globs hashed by their fs), the reuse and a changed source.
  it.each(["node", "bun", "deno"] as const)("on %s: the second `runner ws build` reuses every build; a changed file re-runs its package's, and dependents whose inputs change", async (runtime) => {
    const dir = tempDir()
    workspace(dir)
    const args = ["ws", "build", "--journal", "journal.db"]
    const first = await cli(dir, args, { runtime })
    ok(first)
    assert.deepStrictEqual(statuses(first.stdout, jobs), { "core#build": "succeeded", "lib#build": "succeeded", "app#build": "succeeded" })
    assert.deepStrictEqual(ran(dir), ["core", "lib", "app"])
    const second = await cli(dir, args, { runtime })
    ok(second)
    assert.deepStrictEqual(statuses(second.stdout, jobs), { "core#build": "cached", "lib#build": "cached", "app#build": "cached" })
    assert.deepStrictEqual(ran(dir), [])

    if (runtime === "node") {
      // lib's notes change: lib runs again, with the same output, so app (after lib) is still reused (early cutoff).
      fs.writeFileSync(path.join(dir, "packages/lib/notes.md"), "more notes\n")
      const notes = await cli(dir, args, { runtime })
      ok(notes)
      assert.deepStrictEqual(statuses(notes.stdout, jobs), { "core#build": "cached", "lib#build": "succeeded", "app#build": "cached" })
      assert.include(notes.stdout, "[lib#build] runs: file notes.md changed")
      assert.deepStrictEqual(ran(dir), ["lib"])
    }

    // lib's source changes its output: app, which runs after lib and receives its output, runs again too.
    fs.writeFileSync(path.join(dir, "packages/lib/src/index.ts"), "export const lib = 2\n")
    const source = await cli(dir, args, { runtime })
    ok(source)
    assert.deepStrictEqual(statuses(source.stdout, jobs), { "core#build": "cached", "lib#build": "succeeded", "app#build": "succeeded" })
    assert.include(source.stdout, "[lib#build] runs: file src/index.ts changed")
    assert.match(source.stdout, /\[app#build\] runs: needed output of \S*lib#build changed/)
    assert.deepStrictEqual(ran(dir), ["lib", "app"])

    if (runtime !== "node") return
    // The same file names in another package are that package's: app's change re-runs app only.
    fs.writeFileSync(path.join(dir, "packages/app/src/index.ts"), "export const app = 2\n")
    const app = await cli(dir, args, { runtime })
    ok(app)
    assert.deepStrictEqual(statuses(app.stdout, jobs), { "core#build": "cached", "lib#build": "cached", "app#build": "succeeded" })
    assert.deepStrictEqual(ran(dir), ["app"])
  })
})
