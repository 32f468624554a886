/**
 * Self time of a V8 .cpuprofile (node --cpu-prof) by function and by file, highest first: what bench/exec-profile.ts
 * is read with.
 *
 * Run: node bench/profile-summary.ts file.cpuprofile [--top 40]
 */
import * as fs from "node:fs"
import process from "node:process"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number; readonly columnNumber: number }
}
const argv = process.argv.slice(2)
const file = argv[0]!
const top = argv.includes("--top") ? Number(argv[argv.indexOf("--top") + 1]) : 40
const profile = JSON.parse(fs.readFileSync(file, "utf8")) as {
  nodes: ReadonlyArray<Node>
  samples: ReadonlyArray<number>
  timeDeltas: ReadonlyArray<number>
}
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const byFunction = new Map<string, number>()
const byFile = new Map<string, number>()
let total = 0
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0
  const { callFrame } = byId.get(id)!
  const short = callFrame.url.replace(/^.*node_modules\//, "").replace(/^.*\/(src|bench)\//, "$1/")
  const fn = `${callFrame.functionName || "(anonymous)"} ${short}:${callFrame.lineNumber + 1}`
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + delta)
  byFile.set(short || callFrame.functionName, (byFile.get(short || callFrame.functionName) ?? 0) + delta)
  total += delta
})
const show = (title: string, map: Map<string, number>) => {
  console.log(`${title} (total ${(total / 1000).toFixed(0)} ms)`)
  for (const [name, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(micros / total * 100).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`)
  }
}
show("by function", byFunction)
show("by file", byFile)
