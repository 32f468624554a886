/**
 * Config and secrets declared on jobs: where values come from (environment, --env-file, NAME_FILE), the preflight that
 * reports every problem before anything runs, `runner check`, and the masking of resolved secrets everywhere the
 * runner writes (stdout, stderr, the journal's bytes) — with canary secrets, on Node, Bun and Deno.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Dag from "../src/Dag.ts"
import * as Environment from "../src/internal/Environment.ts"
import * as Job from "../src/Job.ts"
import * as Secrets from "../src/internal/Secrets.ts"
import { withDb } from "./support/db.ts"
import { runDag } from "./support/run.ts"
import { type RuntimeName, runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const fixture = "test/fixtures/config.ts"
const tempDir = tempDirs("runner-config-")
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")
const canary = (what: string) => `${what}-canary-${randomBytes(10).toString("hex")}`

describe("Secrets.make", () => {
  it("masks each secret, its JSON and URL forms, and each line of a multi-line one; longest first", () => {
    const masker = Secrets.make(["p@ss\"w/rd", "ab", "abcdef", "-----BEGIN KEY-----\nline-one-xyz\n-----END KEY-----"])
    assert.strictEqual(masker.mask(`pw p@ss"w/rd json "p@ss\\"w/rd" url p%40ss%22w%2Frd`), "pw *** json \"***\" url ***")
    assert.strictEqual(masker.mask("abcdef ab"), "*** ***")
    assert.strictEqual(masker.mask("got line-one-xyz"), "got ***")
    assert.isFalse(masker.empty)
  })

  it("maskDeep keeps the same reference when nothing is masked, and masks keys and nested strings", () => {
    const masker = Secrets.make(["s3cret"])
    const clean = { a: ["x", { b: 1 }] }
    assert.strictEqual(masker.maskDeep(clean), clean)
    assert.deepStrictEqual(masker.maskDeep<unknown>({ a: ["s3cret!", { s3cret: 1 }] }), { a: ["***!", { "***": 1 }] })
    assert.isTrue(Secrets.make([]).empty)
    assert.strictEqual(Secrets.make([""]).mask("anything"), "anything")
  })

  it("collect finds the clear values of Redacted values, nested", () => {
    const values = { url: "u", password: Redacted.make("p1"), more: [Redacted.make("p2"), { deep: Redacted.make("p3") }] }
    assert.deepStrictEqual(Secrets.collect(values), ["p1", "p2", "p3"])
  })
})

describe("Environment.provider", () => {
  const resolve = <A>(config: Config.Config<A>, options: Environment.Options) =>
    Effect.flatMap(Environment.provider(options), (provider) => config.parse(provider))

  it.effect("the environment wins over --env-file; NAME_FILE is read, one trailing newline dropped", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      fs.writeFileSync(path.join(dir, ".env"), "A=from-file\nB=\"quoted value\"\n# comment\n")
      fs.writeFileSync(path.join(dir, "secret"), "line1\nline2\n\n")
      const envFile = path.join(dir, ".env")
      assert.strictEqual(yield* resolve(Config.String("A"), { env: { A: "from-env" }, envFile }), "from-env")
      assert.strictEqual(yield* resolve(Config.String("B"), { env: {}, envFile }), "quoted value")
      const secret = yield* resolve(Config.Redacted("S"), { env: { S_FILE: path.join(dir, "secret") } })
      assert.strictEqual(Redacted.value(secret), "line1\nline2\n")
      // NAME_FILE may itself come from the env file.
      fs.writeFileSync(path.join(dir, ".env2"), `S_FILE=${path.join(dir, "secret")}\n`)
      const fromFile = yield* resolve(Config.Redacted("S"), { env: {}, envFile: path.join(dir, ".env2") })
      assert.strictEqual(Redacted.value(fromFile), "line1\nline2\n")
    }))

  it.effect("NAME and NAME_FILE both set, an unreadable NAME_FILE and a missing env file are errors naming them", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const both = yield* Effect.exit(resolve(Config.String("S"), { env: { S: "x", S_FILE: "/etc/hostname" } }))
      assert.isTrue(Exit.isFailure(both))
      assert.include((Exit.isFailure(both) ? Cause.pretty(both.cause) : ""), "both S and S_FILE are set")
      const missing = yield* Effect.exit(resolve(Config.String("S"), { env: { S_FILE: path.join(dir, "nope") } }))
      assert.include((Exit.isFailure(missing) ? Cause.pretty(missing.cause) : ""), `S_FILE names ${path.join(dir, "nope")}`)
      const noEnvFile = yield* Effect.flip(Environment.provider({ env: {}, envFile: path.join(dir, "missing.env") }))
      assert.include(noEnvFile.message, `--env-file ${path.join(dir, "missing.env")}`)
      assert.include(noEnvFile.message, "ENOENT")
    }))
})

describe("config in run's inputs", () => {
  it.effect("is passed as `config` without being one of the needed outputs (Object.keys/values see only needs)", () =>
    Effect.gen(function*() {
      const seen: Array<unknown> = []
      const a = Job.make("a", { run: () => Effect.succeed(1) })
      const b = Job.make("b", {
        needs: { a },
        run: (inputs) => Effect.sync(() => void seen.push(Object.keys(inputs), Object.values(inputs), inputs.config))
      })
      const { result } = yield* runDag(Dag.make("inputs", [b]))
      assert.strictEqual(result.status, "succeeded")
      assert.deepStrictEqual(seen, [["a"], [1], {}])
    }))
})

describe("the preflight", () => {
  it("reports every missing or malformed value and missing input at once, names jobs and variables, exit 2, nothing journaled", () => {
    const dir = tempDir()
    const db = path.join(dir, "j.db")
    const result = runner([fixture, "--journal", db], {
      env: { CFG_OUT: dir, CFG_PORT: "not-a-number", CFG_TOKEN: "t0ken-value", CFG_INPUT: "data/nowhere" }
    })
    assert.strictEqual(result.status, 2, result.stdout + result.stderr)
    const err = result.stderr
    assert.include(err, fixture)
    assert.include(err, "5 problems found before the run; nothing ran")
    assert.include(err, `job "extract": config url: CFG_DB_URL is not set (nor CFG_DB_URL_FILE)`)
    assert.include(err, `job "extract": config port: CFG_PORT: Expected a string representing a finite number`)
    assert.include(err, `job "extract": input data/nowhere: does not exist`)
    assert.include(err, `job "load": config password: CFG_DB_PASSWORD is not set`)
    assert.include(err, `job "echo": config password: CFG_DB_PASSWORD is not set`)
    assert.notInclude(err, "not-a-number", "a malformed value is not printed (it might be a secret)")
    assert.isFalse(fs.existsSync(path.join(dir, "extract.json")), "no job ran")
    const runs = fs.existsSync(db) ? withDb(db, (d) => d.prepare("SELECT count(*) AS n FROM runs").get() as { n: number }).n : 0
    assert.strictEqual(runs, 0)
  })

  it("`runner check` prints the checklist; exit 2 with problems, 0 when all hold; --json", () => {
    const dir = tempDir()
    const bad = runner(["check", fixture], { env: { CFG_OUT: dir, CFG_PORT: "5432" } })
    assert.strictEqual(bad.status, 2, bad.stderr)
    assert.include(bad.stdout, `✓ ${fixture}: dag "config" is valid: 3 jobs in 3 levels`)
    assert.include(bad.stdout, `✓ job "extract": config port`)
    assert.include(bad.stdout, `✓ job "extract": input test/fixtures`)
    assert.include(bad.stdout, `✗ job "extract": config url: CFG_DB_URL is not set`)
    assert.include(bad.stdout, "4 problems: a run would not start")
    const env = { CFG_OUT: dir, CFG_PORT: "5432", CFG_DB_URL: "postgres://db", CFG_DB_PASSWORD: "pw-1234", CFG_TOKEN: "tok-1234" }
    const good = runner(["check", fixture], { env })
    assert.strictEqual(good.status, 0, good.stdout + good.stderr)
    assert.include(good.stdout, "all checks passed")
    assert.notInclude(good.stdout, "✗")
    const json = runner(["check", fixture, "--json"], { env: { ...env, CFG_INPUT: "nowhere" } })
    assert.strictEqual(json.status, 2)
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: Array<{ ok: boolean; text: string }> }
    assert.isFalse(parsed.ok)
    assert.deepStrictEqual(parsed.checks.filter((c) => !c.ok).map((c) => c.text), [`job "extract": input nowhere: does not exist`])
    assert.isFalse(fs.existsSync(path.join(dir, "extract.json")), "check runs nothing")
  })

  it("`runner check` on an invalid task file reports it as a failed check", () => {
    const result = runner(["check", "test/fixtures/cycle.ts"])
    assert.strictEqual(result.status, 2)
    assert.match(result.stdout, /✗ .*cycle/i)
  })
})

describe("secrets resolved from config are masked everywhere", () => {
  const run = (runtime: RuntimeName, fail: boolean) => {
    const dir = tempDir()
    const password = canary("pw")
    const token = canary("tok")
    fs.writeFileSync(path.join(dir, "password"), `${password}\n`, { mode: 0o600 })
    fs.writeFileSync(path.join(dir, ".env"), `CFG_DB_URL=postgres://db/app\nCFG_TOKEN=${token}\n`)
    const db = path.join(dir, "j.db")
    const result = runner([fixture, "--journal", db, "--log-format", "json", "--env-file", path.join(dir, ".env")], {
      runtime,
      env: {
        CFG_OUT: dir,
        CFG_PORT: "5432",
        CFG_DB_PASSWORD_FILE: path.join(dir, "password"),
        ...(fail ? { CFG_FAIL: "1" } : {})
      }
    })
    const journal = Buffer.concat([db, `${db}-wal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)))
    return { dir, db, password, token, result, journal }
  }

  const assertMasked = (r: ReturnType<typeof run>) => {
    for (const secret of [r.password, r.token]) {
      assert.notInclude(r.result.stdout, secret)
      assert.notInclude(r.result.stderr, secret)
      assert.isFalse(r.journal.includes(Buffer.from(secret)), "the journal's bytes hold a secret in clear")
    }
  }

  it("config values arrive typed (env file, environment, NAME_FILE); logs, child output, outputs and checkpoints are masked", () => {
    const r = run("node", false)
    assert.strictEqual(r.result.status, 0, r.result.stdout + r.result.stderr)
    assert.deepStrictEqual(JSON.parse(fs.readFileSync(path.join(r.dir, "extract.json"), "utf8")), { url: "postgres://db/app", port: 5432 })
    const load = JSON.parse(fs.readFileSync(path.join(r.dir, "load.json"), "utf8"))
    assert.deepStrictEqual(load, { password: sha256(r.password), token: sha256(r.token), rows: 5432 })
    assertMasked(r)
    const messages = r.result.stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string; message?: string })
      .filter((e) => e.event === "Log").map((e) => e.message)
    assert.include(messages, "connecting with password=*** and token ***")
    assert.include(messages, "child sees ***")
    assert.include(messages, "stderr ***")
    withDb(r.db, (d) => {
      const output = (d.prepare("SELECT output FROM jobs WHERE job_id = 'load'").get() as { output: string }).output
      assert.include(output, "unrestorable", "an output that held a secret is not journaled")
      const checkpoint = d.prepare("SELECT * FROM checkpoints").all().map((row) => JSON.stringify(row)).join("\n")
      assert.include(checkpoint, "unrestorable")
      const logs = (d.prepare("SELECT message FROM logs WHERE job_id = 'load'").all() as Array<{ message: string }>).map((x) => x.message)
      assert.include(logs, "connecting with password=*** and token ***")
    })
  })

  it("an error message carrying a secret is masked on screen and in the journal", () => {
    const r = run("node", true)
    assert.strictEqual(r.result.status, 1, r.result.stdout + r.result.stderr)
    assert.include(r.result.stdout, "login failed for password ***")
    assertMasked(r)
    withDb(r.db, (d) => {
      const error = (d.prepare("SELECT error FROM jobs WHERE job_id = 'load'").get() as { error: string }).error
      assert.include(error, "login failed for password ***")
    })
  })

  for (const runtime of ["bun", "deno"] as const) {
    it(`on ${runtime}: config arrives and secrets are masked`, () => {
      const r = run(runtime, false)
      assert.strictEqual(r.result.status, 0, r.result.stdout + r.result.stderr)
      const load = JSON.parse(fs.readFileSync(path.join(r.dir, "load.json"), "utf8"))
      assert.strictEqual(load.password, sha256(r.password))
      assert.include(r.result.stdout, "child sees ***")
      assertMasked(r)
    })
  }
})
