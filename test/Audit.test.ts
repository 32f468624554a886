/**
 * The audit record's git facts, and what they cost: a task file in no repository starts no git process; one in a
 * repository starts two (status with the commit, ls-files), counted through a spawner that records what it starts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Audit from "../src/internal/Audit.ts"
import { tempDirs } from "./support/tmp.ts"
import { requireTool } from "./support/tools.ts"

const tempDir = tempDirs("runner-audit-")
const git = requireTool("git", "apt-get install git")

/** Collects the audit of `file` with Node's spawner, recording every command it starts. */
const collect = (file: string) => {
  const started: Array<string> = []
  const recording = Layer.effect(ChildProcessSpawner.ChildProcessSpawner)(Effect.map(
    Effect.service(ChildProcessSpawner.ChildProcessSpawner),
    (real) =>
      ChildProcessSpawner.make((command) => {
        started.push((command as ChildProcess.StandardCommand).command)
        return real.spawn(command)
      })
  )).pipe(Layer.provide(NodeServices.layer))
  return Effect.runPromise(Audit.collect(file, "0.0.0").pipe(Effect.provide(recording))).then((audit) => ({ audit, started }))
}

describe("Audit", () => {
  it("a task file in no repository starts no git process and records no git facts", async () => {
    const dir = tempDir()
    const file = path.join(dir, "tasks.ts")
    fs.writeFileSync(file, "export {}\n")
    const { audit, started } = await collect(file)
    assert.deepStrictEqual(started, [])
    assert.strictEqual(audit.taskFile, file)
    assert.isUndefined(audit.gitCommit)
    assert.isUndefined(audit.gitDirty)
    assert.isUndefined(audit.gitTracked)
  })

  it.skipIf(git.skip)("in a repository: two git processes give the commit, the changes and whether git tracks the file", async () => {
    const dir = tempDir()
    const run = (...args: Array<string>) =>
      execFileSync("git", ["-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", ...args], { encoding: "utf8" })
    run("init", "-q")
    const tracked = path.join(dir, "tracked.ts")
    fs.writeFileSync(tracked, "export {}\n")
    // Before the first commit there is no commit to record (and nothing is tracked).
    const empty = await collect(tracked)
    assert.isUndefined(empty.audit.gitTracked)
    run("add", "tracked.ts")
    run("commit", "-q", "-m", "tasks")
    const commit = run("rev-parse", "HEAD").trim()

    const clean = await collect(tracked)
    assert.deepStrictEqual(clean.started, ["git", "git"])
    assert.deepInclude(clean.audit, { gitCommit: commit, gitDirty: false, gitTracked: true })

    fs.appendFileSync(tracked, "// changed\n")
    assert.deepInclude((await collect(tracked)).audit, { gitCommit: commit, gitDirty: true, gitTracked: true })

    // A file git does not track is recorded as untracked, without a commit, from a folder below the repository's root.
    fs.mkdirSync(path.join(dir, "sub"))
    const scratch = path.join(dir, "sub", "scratch.ts")
    fs.writeFileSync(scratch, "export {}\n")
    const untracked = await collect(scratch)
    assert.deepInclude(untracked.audit, { gitTracked: false })
    assert.isUndefined(untracked.audit.gitCommit)
    assert.isUndefined(untracked.audit.gitDirty)

    // Through a symlink (outside the repository) to a folder inside it: git, changing into the folder, finds the
    // repository, so the file is in one (untracked), not outside any.
    const link = path.join(tempDir(), "link")
    fs.symlinkSync(path.join(dir, "sub"), link)
    const linked = await collect(path.join(link, "scratch.ts"))
    assert.deepStrictEqual(linked.started, ["git", "git"])
    assert.deepInclude(linked.audit, { gitTracked: false })
  })
})
