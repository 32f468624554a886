/**
 * The parts of an up-to-date check, each on its own: the manifest's canonical key and its differences in words, the
 * hashes of declared files (with the stat memo), and the local modules a task file's code reaches.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import * as FileHashes from "../src/internal/cache/FileHashes.ts"
import * as Manifest from "../src/internal/cache/Manifest.ts"
import * as ModuleGraph from "../src/internal/cache/ModuleGraph.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-cache-")

const write = (dir: string, files: Record<string, string>, mtime?: Date) => {
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
    if (mtime !== undefined) fs.utimesSync(file, mtime, mtime)
  }
}

const part = (kind: Manifest.Kind, name: string, value: string): Manifest.Part => ({ kind, name, value })

describe("Manifest", () => {
  it("the key does not depend on the order parts are given in, and any changed part changes it", () => {
    const arbitrary = fc.uniqueArray(
      fc.record({ kind: fc.constantFrom(...Manifest.kinds), name: fc.string(), value: fc.string() }),
      { selector: (p) => `${p.kind}\u0000${p.name}`, minLength: 1, maxLength: 20 }
    )
    fc.assert(fc.property(arbitrary, fc.nat(), fc.string(), (parts, pick, other) => {
      const key = Manifest.make(parts).key
      assert.strictEqual(Manifest.make([...parts].reverse()).key, key)
      const i = pick % parts.length
      if (parts[i]!.value === other) return
      const changed = parts.map((p, j) => j === i ? { ...p, value: other } : p)
      assert.notStrictEqual(Manifest.make(changed).key, key)
    }))
  })

  it("length prefixes keep neighbouring fields apart (a+bc is not ab+c)", () => {
    assert.notStrictEqual(
      Manifest.make([part("file", "a", "bc")]).key,
      Manifest.make([part("file", "ab", "c")]).key
    )
  })

  it("round-trips through its journaled form; a corrupt row decodes to nothing", () => {
    const manifest = Manifest.make([part("file", "src/a.ts", "1"), part("env", "NODE_ENV", Manifest.digest("production"))])
    assert.deepStrictEqual(Manifest.decode(Manifest.encode(manifest)), manifest)
    for (const bad of ["", "{", "[1]", "[[\"file\",\"a\"]]", "[[\"nonsense\",\"a\",\"b\"]]", "[[\"file\",\"a\",\"1\"],[\"file\",\"a\",\"2\"]]"]) {
      assert.isUndefined(Manifest.decode(bad), bad)
    }
  })

  it("names each difference", () => {
    const before = Manifest.make([
      part("file", "src/a.ts", "1"),
      part("file", "src/gone.ts", "1"),
      part("env", "NODE_ENV", "x"),
      part("need", "build", "o1"),
      part("module", "src/util.ts", "m1"),
      part("runtime", "", "node 24.21.0")
    ])
    const after = Manifest.make([
      part("file", "src/a.ts", "2"),
      part("file", "src/new.ts", "1"),
      part("env", "NODE_ENV", "y"),
      part("need", "build", "o2"),
      part("module", "src/util.ts", "m2"),
      part("runtime", "", "bun 1.4.5")
    ])
    assert.deepStrictEqual(Manifest.differences(before, after), [
      "the runtime differs (node 24.21.0 → bun 1.4.5)",
      "code of src/util.ts changed",
      "needed output of build changed",
      "file src/a.ts changed",
      "file src/new.ts was added",
      "env NODE_ENV differs",
      "file src/gone.ts was removed"
    ])
    assert.deepStrictEqual(Manifest.differences(before, before), [])
  })
})

describe("FileHashes", () => {
  const old = new Date(Date.now() - 60_000)

  it.effect("hashes the matched files, sorted, relative to the folder; node_modules only when a glob names it", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, { "src/b.ts": "b", "src/a.ts": "a", "src/x.md": "x", "node_modules/p/i.ts": "p", "tsconfig.json": "{}" }, old)
      const hashed = yield* FileHashes.hash(dir, ["src/**/*.ts", "tsconfig.json", "**/*.ts"])
      assert.deepStrictEqual(hashed.files.map(([p]) => p), ["src/a.ts", "src/b.ts", "tsconfig.json"])
      assert.strictEqual(hashed.files[0]![1], Manifest.digest("a"))
      const modules = yield* FileHashes.hash(dir, ["node_modules/**/*.ts"])
      assert.deepStrictEqual(modules.files.map(([p]) => p), ["node_modules/p/i.ts"])
    }))

  it.effect("a glob that matches nothing is reported and hashes the empty set", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const hashed = yield* FileHashes.hash(dir, ["dist/**"])
      assert.deepStrictEqual(hashed, { files: [], unmatched: ["dist/**"], read: 0 })
    }))

  it.effect("the memo answers for a file whose size, mtime and inode are unchanged; any change reads it again", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, { "a.txt": "one", "b.txt": "two" }, old)
      const memo = FileHashes.memoryMemo()
      assert.strictEqual((yield* FileHashes.hash(dir, ["*.txt"], memo)).read, 2)
      assert.strictEqual((yield* FileHashes.hash(dir, ["*.txt"], memo)).read, 0)
      // Same size, same mtime, other content: only the inode (a new file renamed over it) gives it away. The new file
      // exists beside the old one before the rename, so it cannot reuse the old one's inode.
      write(dir, { "a.new": "uno" }, old)
      fs.renameSync(path.join(dir, "a.new"), path.join(dir, "a.txt"))
      const again = yield* FileHashes.hash(dir, ["*.txt"], memo)
      assert.strictEqual(again.read, 1)
      assert.strictEqual(again.files[0]![1], Manifest.digest("uno"))
    }))

  it.effect("a file modified within the last two seconds is read every time (a write in the same mtime tick would not show)", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      write(dir, { "fresh.txt": "now" })
      const memo = FileHashes.memoryMemo()
      yield* FileHashes.hash(dir, ["*.txt"], memo)
      assert.strictEqual((yield* FileHashes.hash(dir, ["*.txt"], memo)).read, 1)
      assert.strictEqual(memo.entries.size, 0)
    }))
})

describe("ModuleGraph", () => {
  it("follows relative imports two deep (.js naming a .ts, index files, dynamic imports); ignores unrelated files and packages", () => {
    const dir = tempDir()
    write(dir, {
      "tasks/build.ts": [
        `import { Job } from "effect-runner"`,
        `import { helper } from "../src/helpers.js"`,
        `export const later = () => import("./lazy.ts")`
      ].join("\n"),
      "tasks/lazy.ts": `export {}`,
      "src/helpers.ts": `export * from "./deep"\nimport "./side-effect.ts"`,
      "src/deep/index.ts": `export const helper = 1`,
      "src/side-effect.ts": ``,
      "src/unrelated.ts": `export const x = 1`,
      "node_modules/pkg/index.ts": ``
    })
    const found = ModuleGraph.modules(path.join(dir, "tasks/build.ts"), dir)
    assert.deepStrictEqual(found.map((m) => m.path), [
      "src/deep/index.ts",
      "src/helpers.ts",
      "src/side-effect.ts",
      "tasks/build.ts",
      "tasks/lazy.ts"
    ])
    const before = new Map(found.map((m) => [m.path, m.sha256]))
    write(dir, { "src/deep/index.ts": `export const helper = 2` })
    const after = new Map(ModuleGraph.modules(path.join(dir, "tasks/build.ts"), dir).map((m) => [m.path, m.sha256]))
    assert.notStrictEqual(after.get("src/deep/index.ts"), before.get("src/deep/index.ts"))
    assert.strictEqual(after.get("src/helpers.ts"), before.get("src/helpers.ts"))
  })
})
