/**
 * The README shows the acceptance examples of examples/effect-native/ as they are: each block marked
 * `<!-- example: path -->` must be that file, verbatim, so the tested file and the documented one cannot drift apart.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"

const root = path.join(import.meta.dirname, "..")
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
const blocks = [...readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)].map((m) => [m[1]!, m[2]!] as const)

describe("README examples", () => {
  it("shows each example of examples/effect-native/ once, verbatim", () => {
    const files = fs.readdirSync(path.join(root, "examples/effect-native")).filter((f) => f.endsWith(".ts")).sort()
    assert.deepStrictEqual(blocks.map(([file]) => path.basename(file)).sort(), files)
    for (const [file, text] of blocks) {
      assert.strictEqual(text, fs.readFileSync(path.join(root, file), "utf8").trimEnd(), `${file} differs from its README block`)
    }
  })
})
