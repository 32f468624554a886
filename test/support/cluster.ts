/**
 * Cluster processes for the chaos, resource and benchmark scripts: workers (`runner worker`) and submitters
 * (`runner <file> --cluster`) spawned asynchronously (a TCP relay to PostgreSQL may be serving from this process's
 * event loop), the side-effect lines the test task files append, and psql queries run without blocking.
 * No vitest import: bench/cluster.ts uses it too.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export const root = path.resolve(import.meta.dirname, "../..")
const node = path.join(root, "node_modules/.bin/node")
const bin = path.join(root, "bin/runner.js")

export interface Proc {
  readonly process: ChildProcess
  readonly pid: number
  /** stdout + stderr so far. */
  readonly output: () => string
  readonly done: Promise<{ readonly status: number | null; readonly signal: NodeJS.Signals | null; readonly output: string }>
}

export const start = (argv: ReadonlyArray<string>, env: Record<string, string>, prefix: ReadonlyArray<string> = []): Proc => {
  const [command, ...rest] = [...prefix, node, bin, ...argv]
  const child = spawn(command!, rest, { cwd: root, env: { ...process.env, NO_COLOR: "1", ...env } })
  let output = ""
  child.stdout!.on("data", (chunk) => (output += chunk))
  child.stderr!.on("data", (chunk) => (output += chunk))
  const done = new Promise<{ status: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) =>
    child.on("close", (status, signal) => resolve({ status, signal, output }))
  )
  return { process: child, pid: child.pid!, output: () => output, done }
}

/** A distinct port for each worker of this process (a restarted worker never reuses a dead one's address). */
// Below Linux's ephemeral range (32768-60999): a port there may be taken by an outgoing connection (PostgreSQL's
// clients) at the moment a worker listens, and the worker then exits ("cluster: Open").
let nextPort = 20_000 + Math.floor(Math.random() * 10_000)
export const port = () => nextPort++

export interface Worker extends Proc {
  readonly address: string
  /** Resolves once the worker printed its "joined the cluster" line. */
  readonly joined: Promise<void>
}

/** Starts `runner worker files... --journal url` listening (and advertised) on `host:port`, optionally in a netns. */
export const worker = (options: {
  readonly url: string
  readonly files: ReadonlyArray<string>
  readonly concurrency: number
  readonly host?: string
  readonly lease?: string
  readonly grace?: string
  readonly exec?: ReadonlyArray<string>
  readonly env?: Record<string, string>
}): Worker => {
  const address = `${options.host ?? "127.0.0.1"}:${port()}`
  const argv = [
    "worker", ...options.files, "--journal", options.url, "--concurrency", String(options.concurrency),
    "--listen", address, "--advertise", address,
    ...(options.lease === undefined ? [] : ["--lease", options.lease]),
    ...(options.grace === undefined ? [] : ["--grace", options.grace])
  ]
  const proc = start(argv, options.env ?? {}, options.exec)
  const joined = new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/joined the cluster/.test(proc.output())) return resolve()
      setTimeout(check, 50)
    }
    check()
    void proc.done.then((end) => reject(new Error(`worker ${address} exited ${end.status ?? end.signal}: ${end.output}`)))
  })
  joined.catch(() => {})
  return { ...proc, address, joined }
}

/** `runner file --journal url --cluster --concurrency n [--key k]`: submits the run and follows it. */
export const submit = (options: {
  readonly url: string
  readonly file: string
  readonly concurrency: number
  readonly key?: string
  readonly env?: Record<string, string>
}): Proc =>
  start([
    options.file, "--journal", options.url, "--cluster", "--concurrency", String(options.concurrency),
    "--log-format", "plain", ...(options.key === undefined ? [] : ["--key", options.key])
  ], options.env ?? {})

/** Runs SQL with psql (asynchronously); rows of `|`-separated columns. */
export const query = (url: string, sql: string): Promise<Array<Array<string>>> => {
  const u = new URL(url)
  const args = ["-h", u.hostname, "-p", u.port || "5432", "-U", decodeURIComponent(u.username || "postgres"),
    "-d", u.pathname.slice(1), "-v", "ON_ERROR_STOP=1", "-Atqc", sql]
  return new Promise((resolve, reject) =>
    execFile("psql", args, { encoding: "utf8" }, (error, stdout, stderr) =>
      error ? reject(new Error(`psql: ${stderr || error.message}`)) :
        resolve(stdout.split("\n").filter((line) => line !== "").map((line) => line.split("|"))))
  )
}

/** One side-effect line of a test job: `<what> <job> <epoch> <epoch ms> <pid>`. */
export interface Mark {
  readonly what: string
  readonly job: string
  readonly epoch: number
  readonly at: number
  readonly pid: number
}

export const marks = (file: string): Array<Mark> => {
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "").map((line) => {
    const [what, job, epoch, at, pid] = line.split(" ")
    return { what: what!, job: job!, epoch: Number(epoch), at: Number(at), pid: Number(pid) }
  })
}

/**
 * The source of a test job's body that appends `start` and `end` marks around `body` (an Effect expression); the
 * task file must import Effect, fs and Job, and define `const marksFile`.
 */
export const markedBody = (id: string, body: string) => `Effect.gen(function*() {
    const epoch = yield* Job.fencingToken
    const mark = (what) => fs.appendFileSync(marksFile, what + " " + ${JSON.stringify(id)} + " " + epoch + " " + Date.now() + " " + process.pid + "\\n")
    mark("start")
    yield* ${body}
    mark("end")
  })`

export const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** A seeded pseudo-random generator (mulberry32): the chaos moments are reproducible from the seed printed. */
export const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** Stops a process group of workers at the end of a test: SIGCONT (in case it is stopped), then SIGKILL. */
export const killAll = async (procs: ReadonlyArray<Proc>) => {
  for (const proc of procs) {
    if (proc.process.exitCode !== null || proc.process.signalCode !== null) continue
    try {
      proc.process.kill("SIGCONT")
      proc.process.kill("SIGKILL")
    } catch { /* already gone */ }
  }
  await Promise.all(procs.map((proc) => proc.done))
}

/** With CHAOS_DEBUG=<dir>: the processes' outputs (and the given files) are copied there, for a failing run's story. */
export const keepOutputs = (name: string, procs: ReadonlyArray<Proc>, files: ReadonlyArray<string> = []) => {
  const into = process.env["CHAOS_DEBUG"]
  if (into === undefined) return
  const dir = path.join(into, name)
  fs.mkdirSync(dir, { recursive: true })
  for (const proc of procs) fs.writeFileSync(path.join(dir, `${proc.pid}.out`), proc.output())
  for (const file of files) if (fs.existsSync(file)) fs.copyFileSync(file, path.join(dir, path.basename(file)))
}
