/**
 * Secrets passed as `Redacted` never appear in clear where the runner writes: stdout, stderr and the journal's files
 * (the raw bytes, free pages and WAL included). The real CLI runs test/fixtures/secrets.ts, whose jobs log a Redacted,
 * fail and die with errors that carry and interpolate one, pass one to a shell command in argv and env, and output
 * one (with and without `Schema.Redacted`), all with a random canary read from $CANARY.
 *
 * What a child process prints is out of the runner's hands: a command that echoes the secret it was given puts it in
 * its own output, which is logged and journaled as printed. The fixture's shell job proves that the child received
 * the secret without printing it; only the runner's own rendering (argv display, errors, logs, outputs) is tested.
 *
 * The same run checks that job ids and errors containing quotes and SQL are stored verbatim, as bound parameters.
 */
import { assert, beforeAll, describe, it } from "vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { type Result, runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const fixture = "test/fixtures/secrets.ts"
const canary = `sk_canary_${randomBytes(12).toString("hex")}`
const injectionId = `quote'"); DROP TABLE runs; --`
const injectionError = `it's "broken"'); DROP TABLE runs; --`

const tempDir = tempDirs("runner-secrets-")

/** The journal's files as they are on disk after the runner exited. */
const journalFiles = (db: string) => [db, `${db}-wal`, `${db}-shm`].filter((f) => fs.existsSync(f))

const assertNoCanary = (where: string, text: string | Buffer) => {
  const found = typeof text === "string" ? text.includes(canary) : text.includes(Buffer.from(canary, "utf8"))
  assert.isFalse(found, `the canary appears in clear in ${where}`)
}

describe("secrets never appear in clear", () => {
  it("the fixture fails without a canary (so the runs below really carry one)", () => {
    const result = runner([fixture, "--journal", "none"], { env: { CANARY: "" } })
    assert.strictEqual(result.status, 2, result.stdout)
    assert.match(result.stderr, /set CANARY/)
  })

  it("--dry-run shows the shell job's argv with the secret masked", () => {
    const result = runner([fixture, "--dry-run"], { env: { CANARY: canary } })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.match(result.stdout, /runs sh -c .* sh <redacted>/)
    assertNoCanary("the --dry-run output", result.stdout + result.stderr)
  })

  for (const format of ["plain", "json"] as const) {
    describe(`--log-format ${format}`, () => {
      let db = ""
      let result: Result = { status: null, stdout: "", stderr: "" }
      beforeAll(() => {
        db = path.join(tempDir(), "j.db")
        result = runner([fixture, "--journal", db, "--log-format", format], { env: { CANARY: canary } })
      })

      it("the run did what the fixture asks: every job ran, secrets reached the child and the consumer", () => {
        // Only non-critical jobs fail, so the run succeeds.
        assert.strictEqual(result.status, 0, result.stderr + result.stdout)
        const out = result.stdout
        // The child exits 3 only when it received the secret both in argv and in $TOKEN.
        assert.match(out, /sh <redacted> exited with code 3/)
        assert.include(out, "child received the token")
        assert.include(out, "the consumer received the token intact")
        assert.include(out, "TokenRejected: token <redacted> was rejected with status 401")
        assert.include(out, "TokenRejected: token <redacted> was rejected with status 500")
        if (format === "json") {
          const lines = out.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
          const logs = lines.filter((l) => l["event"] === "Log" && l["jobId"] === "logs-secret").map((l) => l["message"])
          assert.deepStrictEqual(logs, [`"<redacted>"`, `the token is "<redacted>" {"token":"<redacted>"}`, "interpolated: <redacted>"])
        } else {
          assert.include(out, `[logs-secret] "<redacted>"`)
          assert.include(out, `[logs-secret] interpolated: <redacted>`)
        }
      })

      it("stdout and stderr do not contain the secret", () => {
        assertNoCanary("stdout", result.stdout)
        assertNoCanary("stderr", result.stderr)
      })

      it("the journal's files do not contain the secret, byte for byte", () => {
        const files = journalFiles(db)
        assert.include(files, db)
        for (const file of files) {
          const bytes = fs.readFileSync(file)
          assertNoCanary(path.basename(file), bytes)
        }
        // The bytes searched are the journal's: what the run wrote is in them.
        const all = Buffer.concat(files.map((f) => fs.readFileSync(f)))
        assert.isTrue(all.includes(Buffer.from("was rejected with status 401")), "the journal holds the run's errors")
        assert.isTrue(all.includes(Buffer.from(injectionError)), "the journal holds the run's text in UTF-8")
      })

      it("journaled outputs, errors and logs hold the redacted form", () => {
        const journal = new DatabaseSync(db, { readOnly: true })
        try {
          const job = (id: string) =>
            journal.prepare("SELECT status, output, error FROM jobs WHERE job_id = ?").get(id) as
              | { status: string; output: string | null; error: string | null }
              | undefined
          // An output holding a secret is not journaled at all: a marker stands for it, and a resume runs the job again.
          const marker = `{"~effect-runner/unrestorable":"it holds a secret (Redacted), which the journal never stores"}`
          assert.deepStrictEqual({ ...job("output-secret") }, { status: "succeeded", output: marker, error: null })
          assert.deepStrictEqual({ ...job("output-secret-no-schema") }, { status: "succeeded", output: marker, error: null })
          assert.strictEqual(job("fails-with-secret")?.error, "TokenRejected: token <redacted> was rejected with status 401")
          assert.strictEqual(job("fails-with-object")?.error, `{"reason":"denied","token":"<redacted>"}`)
          assert.match(job("dies-with-secret")?.error ?? "", /^TokenRejected: token <redacted> was rejected with status 500\n/)
          assert.match(job("dies-with-object")?.error ?? "", /"token":"<redacted>"/)
          assert.match(job("shell-secret")?.error ?? "", /sh <redacted> exited with code 3/)
          const logs = (journal.prepare("SELECT message FROM logs WHERE job_id = 'logs-secret' ORDER BY id").all() as Array<{ message: string }>)
            .map((r) => r.message)
          assert.deepStrictEqual(logs, [`"<redacted>"`, `the token is "<redacted>" {"token":"<redacted>"}`, "interpolated: <redacted>"])
        } finally {
          journal.close()
        }
      })

      it("job ids and errors with quotes and SQL are stored verbatim; the runs table is intact", () => {
        const journal = new DatabaseSync(db, { readOnly: true })
        try {
          const tables = (journal.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>)
            .map((r) => r.name)
          assert.includeMembers(tables, ["runs", "jobs", "attempts", "logs"])
          const runs = journal.prepare("SELECT dag, status FROM runs").all().map((r) => ({ ...r }))
          assert.deepStrictEqual(runs, [{ dag: "secrets", status: "succeeded" }])
          const job = journal.prepare("SELECT job_id, status, error, attempts FROM jobs WHERE job_id = ?").all(injectionId)
          assert.deepStrictEqual(job.map((r) => ({ ...r })), [{ job_id: injectionId, status: "failed", error: injectionError, attempts: 1 }])
          const attempts = journal.prepare("SELECT job_id, status, error FROM attempts WHERE job_id = ?").all(injectionId)
          assert.deepStrictEqual(attempts.map((r) => ({ ...r })), [{ job_id: injectionId, status: "failed", error: injectionError }])
          const logs = journal.prepare("SELECT message FROM logs WHERE job_id = ?").all(injectionId).map((r) => r.message)
          assert.deepStrictEqual(logs, [`log of ${injectionId}`])
          // Every job of the DAG has its row, the injection's among 10.
          const count = journal.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }
          assert.strictEqual(count.n, 10)
        } finally {
          journal.close()
        }
      })
    })
  }
})
