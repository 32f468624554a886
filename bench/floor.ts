/**
 * The runtime's own floors, to set the runner's figures against (bench/run.ts, RESULTS.md):
 *
 *   <runtime> bench/floor.ts import FILE          imports FILE and exits: what loading a task file costs with nothing
 *                                                 of the runner's CLI (on Node with the compile cache the bin uses)
 *   <runtime> bench/floor.ts effect               a plain Effect program that logs "hello" (`Effect.runPromise(Effect.log(
 *                                                 "hello"))`), no runner: what any Effect script pays to start, the
 *                                                 floor under `runner tasks/hello.ts` that the runner cannot go below
 *   <runtime> bench/floor.ts cli [--name X]       a plain effect/cli program: one command with one flag, parsed from argv
 *                                                 and run through NodeServices, as the runner's command line is, that
 *                                                 logs "hello". No runner: what any command-line program built on
 *                                                 effect/cli (the decided stack's CLI) pays to start
 *   <runtime> bench/floor.ts cli-group N [C]      the two above in one process: the effect/cli program's command starts
 *                                                 the N `true` as `group` does. What a runner whose command line is
 *                                                 effect/cli does at the least for N shell jobs, start-up included
 *   <runtime> bench/floor.ts cli-group-journal N [C [DIR]]
 *                                                 the same, with the least a durable journal writes: SQLite (node:sqlite,
 *                                                 as the runner's default journal: WAL, synchronous=FULL) in DIR (default:
 *                                                 the working folder), one row inserted when a job starts and updated
 *                                                 when it ends, the writes of one turn of the event loop committed
 *                                                 together (one fsync), none awaited by the next job. What a runner
 *                                                 that records each job on this stack pays at the least for N shell jobs
 *                                                 (the runner also waits for a job's commit before its dependents start,
 *                                                 writes an attempt row and the output)
 *   <runtime> bench/floor.ts spawn N [C]          starts `true` N times, C at once (default 8), with the runtime's
 *                                                 native spawn, and exits: the shell jobs' floor on this runtime
 *   <runtime> bench/floor.ts group N [C]          the same, each `true` in a process group of its own with its stdout
 *                                                 and stderr piped and read to the end: what a runner must do at the
 *                                                 least to kill a job's whole tree and keep its output (make does
 *                                                 neither). On Deno that takes `setsid` (Deno.Command cannot start a
 *                                                 group), as the runner does
 *
 *   <runtime> bench/floor.ts dag FILE             a plain Effect program running the DAG whose needs FILE holds (JSON, the
 *                                                 needs of each job by index): a Deferred per job, one fiber per job that
 *                                                 awaits its needs' Deferreds, 8 at once by a semaphore, each job a
 *                                                 `yieldNow`. No runner: the memory floor under a DAG of that size
 *                                                 (bench/run.ts runs it under GNU time for its peak RSS; on Node with the
 *                                                 8 MiB semi-spaces the bin gives the runner)
 *   <runtime> bench/floor.ts cli-dag-journal FILE the same DAG run by the command of the plain effect/cli program of `cli`,
 *                                                 each job's start and end written to SQLite in the working folder as
 *                                                 `cli-group-journal` writes them: the memory floor of a runner on the
 *                                                 decided stack (effect/cli, a durable SQLite journal) for that DAG
 *
 * All are timed from the outside, spawn to exit, like the runner, so the runtime's own start is included.
 */
import * as path from "node:path"

const [what, arg, concurrencyArg, journalDir] = process.argv.slice(2)
const deno = Reflect.get(globalThis, "Deno")
const bun = Reflect.get(globalThis, "Bun")

/** One `true`, awaited, with the runtime's own API (what the runner's spawner uses on that runtime). */
const spawnTrue = async (): Promise<void> => {
  if (bun !== undefined) {
    await bun.spawn(["true"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }).exited
  } else if (deno !== undefined) {
    await new deno.Command("true", { stdin: "null", stdout: "null", stderr: "null" }).output()
  } else {
    const { spawn } = await import("node:child_process")
    await new Promise<void>((resolve, reject) => {
      const child = spawn("true", [], { stdio: "ignore" })
      child.on("error", reject)
      child.on("close", () => resolve())
    })
  }
}

/** On Node, the compile cache the bin uses in a clone (the same folder), so a floor is what Node can do at best. */
const compileCache = async (): Promise<void> => {
  if (deno !== undefined || bun !== undefined) return
  const Module = await import("node:module")
  Module.enableCompileCache?.(path.resolve(import.meta.dirname, "../node_modules/.cache/effect-runner"))
}

/** One `true` in a new process group (session), its output piped and read to the end: the runner's least per job. */
const spawnTrueInGroup = async (): Promise<void> => {
  if (bun !== undefined) {
    const child = bun.spawn(["true"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true })
    await Promise.all([new Response(child.stdout).arrayBuffer(), new Response(child.stderr).arrayBuffer(), child.exited])
  } else if (deno !== undefined) {
    await new deno.Command("setsid", { args: ["true"], stdin: "null", stdout: "piped", stderr: "piped" }).output()
  } else {
    const { spawn } = await import("node:child_process")
    await new Promise<void>((resolve, reject) => {
      const child = spawn("true", [], { stdio: ["ignore", "pipe", "pipe"], detached: true })
      child.stdout.resume()
      child.stderr.resume()
      child.on("error", reject)
      child.on("close", () => resolve())
    })
  }
}

/** Starts `true` N (the argument) times, C at once (default 8), each with `one` (given its index). */
async function spawnAll(one: (index: number) => Promise<void>): Promise<void> {
  const total = Number(arg)
  const concurrency = Number(concurrencyArg ?? "8")
  let next = 0
  const worker = async () => {
    while (next < total) await one(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker))
}

/**
 * The least a durable journal does for a job (see cli-group-journal above): `started` and `ended` write its row at its
 * start and at its end, and `close` commits what is left.
 */
const journaled = async () => {
  const fs = await import("node:fs")
  const { DatabaseSync } = await import("node:sqlite")
  const file = path.join(path.resolve(journalDir ?? "."), "floor-journal.db")
  for (const suffix of ["", "-wal", "-shm"]) fs.rmSync(file + suffix, { force: true })
  const db = new DatabaseSync(file)
  db.exec("PRAGMA journal_mode = WAL")
  db.exec("PRAGMA synchronous = FULL")
  db.exec("CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, started_at INTEGER NOT NULL, ended_at INTEGER)")
  const start = db.prepare("INSERT INTO jobs (id, status, started_at) VALUES (?, 'running', ?)")
  const end = db.prepare("UPDATE jobs SET status = 'succeeded', ended_at = ? WHERE id = ?")
  let open = false
  const commit = () => {
    if (!open) return
    open = false
    db.exec("COMMIT")
  }
  const write = (statement: { run: (...values: Array<number>) => unknown }, ...values: Array<number>) => {
    if (!open) {
      db.exec("BEGIN")
      open = true
      setImmediate(commit)
    }
    statement.run(...values)
  }
  return {
    started: (index: number) => write(start, index, Date.now()),
    ended: (index: number) => write(end, Date.now(), index),
    close: () => {
      commit()
      db.close()
    }
  }
}

/**
 * The plain Effect DAG of `dag` (the needs of each job by index, read from the file argument): a Deferred per job, one
 * fiber per job that awaits its needs' Deferreds, 8 at once by a semaphore, each job a `yieldNow`; with `journal`, each
 * job's start and end written as `cli-group-journal` writes them.
 */
async function runDag(
  Effect: typeof import("effect/Effect"),
  journal?: { readonly started: (index: number) => void; readonly ended: (index: number) => void }
): Promise<void> {
  const fs = await import("node:fs")
  const needs = JSON.parse(fs.readFileSync(arg!, "utf8")) as ReadonlyArray<ReadonlyArray<number>>
  const Deferred = await import("effect/Deferred")
  const Semaphore = await import("effect/Semaphore")
  await Effect.runPromise(Effect.gen(function*() {
    const done = needs.map(() => Deferred.makeUnsafe<void>())
    const slots = yield* Semaphore.make(8)
    yield* Effect.forEach(needs, (indices, i) =>
      Effect.gen(function*() {
        for (const index of indices) yield* Deferred.await(done[index]!)
        yield* slots.withPermits(1)(
          journal === undefined
            ? Effect.yieldNow
            : Effect.andThen(Effect.sync(() => journal.started(i)), Effect.andThen(Effect.yieldNow, Effect.sync(() => journal.ended(i))))
        )
        Deferred.doneUnsafe(done[i]!, Effect.void)
      }), { concurrency: "unbounded", discard: true })
  }))
}

if (what === "effect") {
  await compileCache()
  const Effect = await import("effect/Effect")
  await Effect.runPromise(Effect.log("hello"))
} else if (what === "cli" || what === "cli-group" || what === "cli-group-journal" || what === "cli-dag-journal") {
  await compileCache()
  const [NodeServices, Command, Flag, Effect] = await Promise.all([
    import("@effect/platform-node/NodeServices"),
    import("effect/cli/Command"),
    import("effect/cli/Flag"),
    import("effect/Effect")
  ])
  const hello = Command.make(
    "hello",
    { name: Flag.String("name").pipe(Flag.withDefault("hello")) },
    ({ name }) =>
      what === "cli"
        ? Effect.log(name)
        : what === "cli-group"
        ? Effect.promise(() => spawnAll(spawnTrueInGroup))
        : Effect.promise(async () => {
          const journal = await journaled()
          if (what === "cli-dag-journal") await runDag(Effect, journal)
          else {
            await spawnAll(async (index) => {
              journal.started(index)
              await spawnTrueInGroup()
              journal.ended(index)
            })
          }
          journal.close()
        })
  )
  await Effect.runPromise(
    Command.runWith(hello, { version: "0.0.0" })(what === "cli" ? process.argv.slice(3) : []).pipe(
      Effect.provide(NodeServices.layer)
    )
  )
} else if (what === "import") {
  await compileCache()
  if (deno === undefined && bun === undefined) {
    // A clone that was never built (the smoke test on a fresh machine) has no dist/ for the package to resolve to: the
    // runner's own hook maps it to src/ there, as the runner does. `npm run bench` builds first, so figures use dist/.
    const fs = await import("node:fs")
    if (!fs.existsSync(path.resolve(import.meta.dirname, "../dist/index.js"))) {
      ;(await import("../src/internal/runtime/nodeHooks.ts")).register()
    }
  }
  await import(path.resolve(arg!))
} else if (what === "dag") {
  await compileCache()
  await runDag(await import("effect/Effect"))
} else if (what === "spawn" || what === "group") {
  await spawnAll(what === "spawn" ? spawnTrue : spawnTrueInGroup)
} else {
  process.stderr.write("usage: bench/floor.ts import FILE | effect | cli | cli-group N [CONCURRENCY] | cli-group-journal N [CONCURRENCY [DIR]] | dag FILE | cli-dag-journal FILE | spawn N [CONCURRENCY] | group N [CONCURRENCY]\n")
  process.exit(2)
}
