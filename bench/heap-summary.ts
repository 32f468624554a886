/**
 * Allocated bytes of a sampling heap profile (bench/exec-profile.ts --heap) by allocating function, highest first.
 *
 * Run: node bench/heap-summary.ts file.heapprofile [--top 40] [--per N] (N: divide, e.g. by the jobs run, for bytes per job)
 */
import * as fs from "node:fs"
import process from "node:process"

interface Node {
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly selfSize: number
  readonly children: ReadonlyArray<Node>
}
const argv = process.argv.slice(2)
const top = argv.includes("--top") ? Number(argv[argv.indexOf("--top") + 1]) : 40
const per = argv.includes("--per") ? Number(argv[argv.indexOf("--per") + 1]) : 1
const { head } = JSON.parse(fs.readFileSync(argv[0]!, "utf8")) as { head: Node }
const byFunction = new Map<string, number>()
let total = 0
const walk = (node: Node) => {
  const { functionName, lineNumber, url } = node.callFrame
  const name = `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^.*\/(src|bench)\//, "$1/")}:${lineNumber + 1}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + node.selfSize)
  total += node.selfSize
  for (const child of node.children) walk(child)
}
walk(head)
console.log(`total ${(total / per).toFixed(0)} B${per === 1 ? "" : " per unit"}`)
for (const [name, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${(bytes / per).toFixed(0).padStart(8)} B  ${(bytes / total * 100).toFixed(1).padStart(5)}%  ${name}`)
}
