/**
 * `runner init`: what it writes into an empty folder, a CommonJS project and a project with a tsconfig.json of its
 * own; that it refuses to overwrite (exit 2, naming the file, nothing written) unless --force. Through the real CLI
 * (the installed package's init is run in Package.test.ts).
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import { compilerOptions, helloTask, helloTest, missingOptions } from "../src/internal/cli/init.ts"
import { runner } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-init-")
const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8")
const exists = (dir: string, file: string) => fs.existsSync(path.join(dir, file))

describe("runner init", () => {
  it("in an empty folder writes tasks/hello.ts, package.json with the script, tsconfig.json and .gitignore", () => {
    const dir = tempDir()
    const result = runner(["init"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.strictEqual(read(dir, "tasks/hello.ts"), helloTask)
    assert.strictEqual(read(dir, "tasks/hello.test.ts"), helloTest)
    const pkg = JSON.parse(read(dir, "package.json"))
    assert.deepStrictEqual([pkg.type, pkg.scripts], ["module", { tasks: "runner" }])
    assert.deepStrictEqual(JSON.parse(read(dir, "tsconfig.json")).compilerOptions, compilerOptions)
    assert.strictEqual(read(dir, ".gitignore"), ".runner/\n")
    assert.isFalse(exists(dir, "tasks/package.json"), "the project is an ES module package already")

    // The scaffold runs as it is.
    const hello = runner(["tasks/hello.ts", "--log-format", "plain"], { cwd: dir })
    assert.strictEqual(hello.status, 0, hello.stdout + hello.stderr)
    assert.include(hello.stdout, "HELLO FROM EFFECT-RUNNER")

    // Its test is no task file: `runner cron tasks/` loads hello.ts only (and finds no schedule in it).
    const cron = runner(["cron", "tasks/"], { cwd: dir })
    assert.notInclude(cron.stdout + cron.stderr, "hello.test.ts")

    const again = runner(["init"], { cwd: dir })
    assert.strictEqual(again.status, 0, again.stderr)
    assert.include(again.stdout, "nothing to do")
  })

  it("keeps a CommonJS project's package.json (adds the script, keeps its indent) and makes tasks/ an ES module folder", () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "package.json"), `{\n    "name": "app",\n    "type": "commonjs",\n    "scripts": { "test": "x" }\n}\n`)
    fs.writeFileSync(path.join(dir, ".gitignore"), "node_modules")
    const result = runner(["init"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    const text = read(dir, "package.json")
    assert.deepStrictEqual(JSON.parse(text), { name: "app", type: "commonjs", scripts: { test: "x", tasks: "runner" } })
    assert.match(text, /^\{\n {4}"name"/)
    assert.deepStrictEqual(JSON.parse(read(dir, "tasks/package.json")), { type: "module" })
    assert.strictEqual(read(dir, ".gitignore"), "node_modules\n.runner/\n")
  })

  it("leaves an existing tsconfig.json as it is and prints the options task files need that it lacks", () => {
    const dir = tempDir()
    const tsconfig = `{\n  // mine\n  "compilerOptions": { "strict": true, "module": "nodenext", "noEmit": true, },\n}\n`
    fs.writeFileSync(path.join(dir, "tsconfig.json"), tsconfig)
    const result = runner(["init", "--force"], { cwd: dir })
    assert.strictEqual(result.status, 0, result.stderr)
    assert.strictEqual(read(dir, "tsconfig.json"), tsconfig)
    assert.include(result.stdout, "tsconfig.json exists and was left as it is")
    for (const option of ["moduleResolution", "allowImportingTsExtensions", "verbatimModuleSyntax", "erasableSyntaxOnly"]) {
      assert.include(result.stdout, `"${option}"`)
    }
    assert.notInclude(result.stdout, `"strict"`)
    assert.deepStrictEqual(missingOptions(tsconfig).map(([name]) => name), [
      "moduleResolution",
      "allowImportingTsExtensions",
      "verbatimModuleSyntax",
      "erasableSyntaxOnly"
    ])
  })

  it("refuses to overwrite a changed file (exit 2, names it, writes nothing); --force overwrites", () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, "tasks"))
    fs.writeFileSync(path.join(dir, "tasks/hello.ts"), "// mine\n")
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "app", type: "module", scripts: { tasks: "make" } }))
    const refused = runner(["init"], { cwd: dir })
    assert.strictEqual(refused.status, 2)
    assert.include(refused.stderr, "tasks/hello.ts")
    assert.include(refused.stderr, `package.json (scripts.tasks is "make")`)
    assert.strictEqual(read(dir, "tasks/hello.ts"), "// mine\n")
    assert.isFalse(exists(dir, "tsconfig.json"), "nothing written")
    assert.isFalse(exists(dir, ".gitignore"), "nothing written")

    const forced = runner(["init", "--force"], { cwd: dir })
    assert.strictEqual(forced.status, 0, forced.stderr)
    assert.strictEqual(read(dir, "tasks/hello.ts"), helloTask)
    assert.strictEqual(JSON.parse(read(dir, "package.json")).scripts.tasks, "runner")
  })
})
