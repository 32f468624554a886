/**
 * The full-size chaos campaign of cluster mode (issue 15, section 3), round after round: the scenarios of
 * test/support/chaos.ts (which test/ClusterChaos.test.ts runs small in `npm test`) with bigger parameters. Each round:
 * kill -9 of 3 of 4 workers at random moments in a run of 80 jobs of 2 s (takeover <= 8 s at the default lease); a
 * worker SIGSTOPped past its 3 s lease in a run of 24 jobs of 6 s, then woken; the link of any worker host (the run's
 * coordinator's too) cut for 2 leases in a run of 30 jobs of 4 s (needs root and `ip`; left out otherwise). A round's
 * violations are the claims that did not hold; the campaign exits 1 if any round had one. Each scenario gets a fresh
 * database. Needs PostgreSQL: `RUNNER_BENCH_PG` (default postgres://postgres@127.0.0.1:5432), which must allow
 * CREATE DATABASE. Prints one JSON line per scenario and a summary; writes nothing.
 * Run: node bench/cluster-chaos.ts [--rounds N (3)] [--only kill,freeze,partition] [--seed S]
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as chaos from "../test/support/chaos.ts"
import * as cluster from "../test/support/cluster.ts"
import { netnsUsable } from "../test/support/netns.ts"

const argv = process.argv.slice(2)
const option = (name: string, fallback: string) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1]! : fallback
}
const rounds = Number(option("--rounds", "3"))
const only = new Set(option("--only", "kill,freeze,partition").split(","))
const firstSeed = Number(option("--seed", String(Date.now() % 100_000)))
const base = process.env["RUNNER_BENCH_PG"] ?? "postgres://postgres@127.0.0.1:5432"

const freshDatabase = async () => {
  const name = `runner_bench_${crypto.randomBytes(5).toString("hex")}`
  await cluster.query(`${base}/postgres`, `CREATE DATABASE ${name}`)
  return { name, url: `${base}/${name}`, drop: () => cluster.query(`${base}/postgres`, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

/** Runs one scenario on a fresh database and folder; its report (or the error that stopped it, as a violation). */
const scenario = async <R extends { readonly violations: ReadonlyArray<string> }>(
  name: string,
  round: number,
  run: (db: { readonly name: string; readonly url: string }, dir: string) => Promise<R>
) => {
  const db = await freshDatabase()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runner-chaos-bench-${name}-`))
  try {
    const report: R | { readonly violations: ReadonlyArray<string> } = await run(db, dir)
      .catch((error: unknown) => ({ violations: [`${name} did not finish: ${String(error)}`] }))
    console.log(JSON.stringify({ scenario: name, round, ...report }))
    return report
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    await db.drop().catch(() => {})
  }
}

const netns = only.has("partition") && netnsUsable()
if (only.has("partition") && !netns) console.error("partition left out: network namespaces need root and iproute2's ip")
const failed: Array<string> = []
const takeovers: Array<number> = []
for (let round = 1; round <= rounds; round++) {
  if (only.has("kill")) {
    const seed = firstSeed + round - 1
    const report = await scenario("kill", round, (db, dir) =>
      chaos.kill({ url: db.url, dir, jobs: 80, millis: 2_000, concurrency: 8, workers: 4, kills: 3, pause: [1_500, 4_000], seed }))
    if ("kills" in report) takeovers.push(...report.kills.flatMap((k) => k.takeover === undefined ? [] : [k.takeover]))
    if (report.violations.length > 0) failed.push(`kill, round ${round} (seed ${seed})`)
  }
  if (only.has("freeze")) {
    const report = await scenario("freeze", round, (db, dir) =>
      chaos.freeze({ url: db.url, dir, jobs: 24, millis: 6_000, lease: 3_000, freezeAfter: 1_000 }))
    if (report.violations.length > 0) failed.push(`freeze, round ${round}`)
  }
  if (netns) {
    const report = await scenario("partition", round, (db, dir) =>
      chaos.partition({ url: db.url, name: db.name, dir, jobs: 30, millis: 4_000, lease: 3_000, cutAfter: 1_000, cut: "any" }))
    if (report.violations.length > 0) failed.push(`partition, round ${round}`)
  }
}
const sorted = [...takeovers].sort((a, b) => a - b)
console.log(JSON.stringify({
  rounds,
  takeovers: { count: sorted.length, median: sorted[Math.floor(sorted.length / 2)] ?? null, max: sorted.at(-1) ?? null },
  failed
}))
process.exitCode = failed.length > 0 ? 1 : 0
