/**
 * Two versions of the executor in one process, round by round: `Executor.run` of the same 10,000-job layered plan, the
 * memory journal and a reporter that discards, timed in process CPU, each round running both (in alternating order).
 * Each directory is a copy of the project (`git archive <commit> | tar -x -C dir`, with node_modules linked): each
 * loads its own modules (Plan, Journal, Reporter, bench/workloads.ts), Effect is shared. On a machine shared with
 * other work, the paired difference moves far less than either figure (two copies of the same commit: ±0.2 µs).
 *
 * Run: node bench/exec-ab.ts <dirA> <dirB> [rounds]   (bun, deno run -A: the same)
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import process from "node:process"
const [dirA, dirB, roundsArg] = process.argv.slice(2)
const rounds = Number(roundsArg ?? "30")
const cpu = () => { const { system, user } = process.cpuUsage(); return user + system }
const load = async (dir: string) => {
  const Plan = await import(`${dir}/src/internal/Plan.ts`)
  const Journal = await import(`${dir}/src/internal/Journal.ts`)
  const Reporter = await import(`${dir}/src/internal/reporter/Reporter.ts`)
  const W = await import(`${dir}/bench/workloads.ts`)
  const silent = Layer.succeed(Reporter.Reporter)(Reporter.Reporter.of({ event: () => Effect.void, log: () => {} }))
  const layer = Layer.mergeAll(Journal.layerMemory, NodeServices.layer, FetchHttpClient.layer, silent)
  const plan = await Effect.runPromise(Plan.plan(W.toDag(W.spec("layered", 10000))))
  return () => Effect.runPromise(W.timedRun(plan, cpu).pipe(Effect.provide(layer))) as Promise<number>
}
const a = await load(dirA!), b = await load(dirB!)
for (let i = 0; i < 3; i++) { await a(); await b() }
const A: number[] = [], B: number[] = [], D: number[] = []
for (let i = 0; i < rounds; i++) {
  const first = i % 2 === 0
  const x = first ? await a() : 0
  const y = await b()
  const x2 = first ? x : await a()
  A.push(x2 / 10000); B.push(y / 10000); D.push((y - x2) / 10000)
}
const med = (v: number[]) => { const s = [...v].sort((p, q) => p - q); return s[s.length >> 1]! }
console.log(`A ${med(A).toFixed(2)}  B ${med(B).toFixed(2)}  median(B-A) ${med(D).toFixed(2)} µs/job CPU (${rounds} paired rounds)`)
