/**
 * Cluster mode under failure, through the real CLI (issue 15, section 3): workers killed with -9 several times in one
 * run, a worker frozen (SIGSTOP) past its lease and woken, and a worker cut off by a network partition. The scenarios
 * and the claims they check live in test/support/chaos.ts; here they run small enough for `npm test` (80-100 s in all
 * on the loaded 2-core machine, 160-190 s before), and bench/cluster-chaos.ts runs them full size, round after round.
 * Each test has its own PostgreSQL database.
 */
import { describe, expect, it } from "vitest"
import * as chaos from "./support/chaos.ts"
import { requireNetns } from "./support/netns.ts"
import { databases, requirePostgres } from "./support/postgres.ts"
import { tempDirs } from "./support/tmp.ts"

const pg = requirePostgres()
const netns = requireNetns()
const database = databases()
const tempDir = tempDirs("runner-chaos-")

describe.skipIf(pg.skip)("cluster chaos (PostgreSQL, real CLI)", () => {
  it("kill -9 of a worker three times in one run, at random moments: every job completes, only the killed workers' in-flight jobs run again, takeover <= 8 s", async () => {
    const seed = Number(process.env["CHAOS_SEED"] ?? Date.now() % 100_000)
    // 4 workers, 3 killed (the issue's "several times"); the jobs last past the third kill (a takeover takes 2-6 s at
    // the default lease). The bench does the same in a longer run, round after round.
    const report = await chaos.kill({
      url: database().url, dir: tempDir(), jobs: 48, millis: 3_000, concurrency: 8, workers: 4, kills: 3, pause: [300, 1_500], seed
    })
    console.log(`chaos seed ${seed}: ${report.kills.map((k) => `kill of ${k.pid}: ${k.inFlight.length} in flight, takeover ${k.takeover} ms`).join("; ")}; ` +
      `${report.rerun} executions again; ms ${JSON.stringify(report.millis)}`)
    expect(report.kills.length).toBe(3)
    expect(report.violations).toEqual([])
  }, 120_000)

  it("SIGSTOP of a worker past its lease, then SIGCONT: its late journal writes do not land, its jobs ran once more elsewhere, the run succeeds", async () => {
    const report = await chaos.freeze({ url: database().url, dir: tempDir(), jobs: 8, millis: 3_000, lease: 3_000, freezeAfter: 700 })
    console.log(`sigstop: ${report.inFlight} jobs in flight on the frozen worker, frozen ${report.frozenFor} ms; it finished ${report.lateEnds} ` +
      `of their bodies after SIGCONT (none of their writes landed); jobs run twice though not in flight on it: ${report.extra.length}; ms ${JSON.stringify(report.millis)}`)
    expect(report.inFlight).toBeGreaterThan(0)
    expect(report.violations).toEqual([])
  }, 120_000)

  it.skipIf(netns.skip)("a partition: a worker host's link cut for 2 leases, then healed: no overlapping attempts in the journal, every job completes", async () => {
    const { url, name } = database()
    // The cut host is not the coordinator's (whose partition moves the run and back: 30-40 s more); the bench cuts any.
    const report = await chaos.partition({ url, name, dir: tempDir(), jobs: 9, millis: 3_000, lease: 3_000, cutAfter: 700, cut: "not the coordinator's" })
    console.log(`partition: cut ${report.host} with ${report.inFlight} jobs in flight for 6000 ms; ${report.rerun} of them ran again elsewhere; ` +
      `bodies overlapping by their marks: ${report.physical}; ms ${JSON.stringify(report.millis)}`)
    expect(report.inFlight).toBeGreaterThan(0)
    expect(report.violations).toEqual([])
  }, 120_000)
})
