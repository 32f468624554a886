/**
 * `runner init [--force]`: scaffolds a project for task files in the current directory: `tasks/hello.ts` (a typed
 * two-job example), `"tasks": "runner"` in package.json's scripts, `.runner/` (the journal's folder) in .gitignore,
 * and the TypeScript settings task files need. It never changes a file it would overwrite unless `--force` is given:
 * it names the file and exits 2, having written nothing. An existing tsconfig.json is never rewritten, even with
 * `--force` (its comments, `extends` and layout are the user's): init prints the settings it lacks instead.
 */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { print } from "./common.ts"
import { InitRefused } from "./exit.ts"

/** The example task file: two jobs, the second receiving the first's typed output. */
export const helloTask = `// A typed two-job example: \`greet\` returns a greeting, \`shout\` needs it and logs it loudly.
// Run: npx runner tasks/hello.ts   (or: npm run tasks -- tasks/hello.ts)
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Dag, Job } from "effect-runner"

export const greet = Job.make("greet", {
  description: "make a greeting",
  output: Schema.Struct({ text: Schema.String }),
  run: () => Effect.succeed({ text: "hello from effect-runner" })
})

export const shout = Job.make("shout", {
  description: "log the greeting, loudly",
  needs: { greet },
  run: ({ greet }) => Effect.log(greet.text.toUpperCase())
})

export default Dag.make("hello", [shout])
`

/** The template's test of hello.ts with the test kit: a plain script (the project has no test runner to assume). */
export const helloTest = `// Tests tasks/hello.ts in-process with the test kit (effect-runner/test): faults, crash and resume, a test clock.
// Run: node tasks/hello.test.ts   (in vitest, bun test or deno test: the same lines inside a test)
import * as Effect from "effect/Effect"
import { Fault, TestRun } from "effect-runner/test"
import hello from "./hello.ts"

// greet's output replaced: shout logs it loudly.
const result = await Effect.runPromise(TestRun.run(hello, { faults: { greet: Fault.output({ text: "test" }) } }))
TestRun.assertSucceeded(result)
if (!result.logs.some((line) => line.message === "TEST")) throw new Error(\`no TEST logged:\n\${TestRun.describe(result)}\`)

// The process "dies" as shout starts; resume runs shout only (greet's output comes back from the journal).
const crashed = await Effect.runPromise(TestRun.run(hello, { faults: { shout: Fault.crash } }))
const resumed = await Effect.runPromise(TestRun.resume(crashed))
TestRun.assertSucceeded(resumed)
if (TestRun.ran(resumed).join() !== "shout") throw new Error(\`resume ran \${TestRun.ran(resumed).join()}\`)
console.log("hello.test.ts: ok")
`

/**
 * The compiler options task files need: ES modules resolved as Node resolves them (the package's `exports`), types
 * Node, Bun and Deno can strip, `.ts` extensions in relative imports, and strict checks (typed `needs` rely on them).
 */
export const compilerOptions = {
  target: "ES2022",
  module: "NodeNext",
  moduleResolution: "NodeNext",
  strict: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  erasableSyntaxOnly: true,
  skipLibCheck: true
} as const

/** The compiler options that matter for task files (target and skipLibCheck are a matter of taste). */
const required = Object.entries(compilerOptions).filter(([name]) => name !== "target" && name !== "skipLibCheck")

const tsconfig = JSON.stringify({ compilerOptions, include: ["tasks"] }, null, 2) + "\n"

/** What init finds in the directory. */
export interface Found {
  readonly helloTask: string | undefined
  readonly helloTest: string | undefined
  readonly packageJson: string | undefined
  readonly tasksPackageJson: string | undefined
  readonly tsconfig: string | undefined
  readonly gitignore: string | undefined
}

/** What init will do: the files to write, the ones it would overwrite, and what to tell the user. */
export interface Plan {
  readonly writes: ReadonlyArray<{ readonly file: string; readonly text: string; readonly what: string }>
  readonly conflicts: ReadonlyArray<string>
  /** Files init cannot work with (package.json that is not JSON): exit 2, nothing written. */
  readonly unreadable: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
}

/** A tsconfig.json as an object, if it can be read (comments and trailing commas allowed), else undefined. */
const parseJsonc = (text: string): Record<string, unknown> | undefined => {
  try {
    const stripped = text.replace(/("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_, string) => string ?? "")
    const parsed = JSON.parse(stripped.replace(/,(\s*[}\]])/g, "$1"))
    return typeof parsed === "object" && parsed !== null ? parsed : undefined
  } catch {
    return undefined
  }
}

/** The options of `compilerOptions` an existing tsconfig.json lacks or sets otherwise (all of them if unreadable). */
export const missingOptions = (text: string): ReadonlyArray<readonly [string, unknown]> => {
  const options = parseJsonc(text)?.["compilerOptions"]
  if (typeof options !== "object" || options === null) return required
  const set = options as Record<string, unknown>
  const same = (a: unknown, b: unknown) => typeof a === "string" && typeof b === "string" ? a.toLowerCase() === b.toLowerCase() : a === b
  return required.filter(([name, value]) => !same(set[name], value))
}

/** Decides what to write, from what is there. Pure: the tests check it directly and through the command. */
export const plan = (found: Found, options: { readonly force: boolean; readonly project: string }): Plan => {
  const writes: Array<Plan["writes"][number]> = []
  const conflicts: Array<string> = []
  const unreadable: Array<string> = []
  const notes: Array<string> = []
  const overwrite = (file: string) => {
    if (!options.force) conflicts.push(file)
  }

  if (found.helloTask !== undefined && found.helloTask !== helloTask) overwrite("tasks/hello.ts")
  if (found.helloTask !== helloTask) writes.push({ file: "tasks/hello.ts", text: helloTask, what: "a typed two-job example" })
  if (found.helloTest !== undefined && found.helloTest !== helloTest) overwrite("tasks/hello.test.ts")
  if (found.helloTest !== helloTest) {
    writes.push({ file: "tasks/hello.test.ts", text: helloTest, what: "its test, with the test kit (node tasks/hello.test.ts)" })
  }

  let moduleType: unknown
  if (found.packageJson === undefined) {
    const pkg = { name: path.basename(options.project), private: true, type: "module", scripts: { tasks: "runner" } }
    writes.push({ file: "package.json", text: JSON.stringify(pkg, null, 2) + "\n", what: `with "tasks": "runner"` })
    moduleType = "module"
  } else if (parseJsonc(found.packageJson) === undefined) {
    unreadable.push("package.json is not valid JSON")
  } else {
    const pkg = JSON.parse(found.packageJson)
    moduleType = pkg.type
    const scripts = pkg.scripts ?? {}
    if (scripts.tasks !== "runner") {
      if (scripts.tasks !== undefined) overwrite(`package.json (scripts.tasks is ${JSON.stringify(scripts.tasks)})`)
      const indent = /^\{\n([ \t]+)"/.exec(found.packageJson)?.[1] ?? "  "
      const text = JSON.stringify({ ...pkg, scripts: { ...scripts, tasks: "runner" } }, null, indent) + "\n"
      writes.push({ file: "package.json", text, what: `scripts: "tasks": "runner"` })
    }
  }

  // TypeScript reads a .ts file as CommonJS unless the nearest package.json says "module"; task files are ES modules.
  if (moduleType !== "module") {
    const tasksPkg = found.tasksPackageJson === undefined ? undefined : parseJsonc(found.tasksPackageJson)
    if (tasksPkg?.["type"] !== "module") {
      if (found.tasksPackageJson !== undefined) overwrite("tasks/package.json")
      writes.push({
        file: "tasks/package.json",
        text: JSON.stringify({ type: "module" }, null, 2) + "\n",
        what: `{ "type": "module" }: task files are ES modules (the project's package.json is not)`
      })
    }
  }

  if (found.tsconfig === undefined) {
    writes.push({ file: "tsconfig.json", text: tsconfig, what: "the compiler options task files need" })
  } else {
    const missing = missingOptions(found.tsconfig)
    if (missing.length > 0) {
      const lines = missing.map(([name, value]) => `    ${JSON.stringify(name)}: ${JSON.stringify(value)}`)
      notes.push(
        `tsconfig.json exists and was left as it is; task files need these compilerOptions (or a tsconfig of their own in tasks/):\n${lines.join(",\n")}`
      )
    }
  }

  const ignored = (found.gitignore ?? "").split(/\r?\n/).some((line) => /^\/?\.runner\/?$/.test(line.trim()))
  if (!ignored) {
    const before = found.gitignore ?? ""
    const text = before + (before === "" || before.endsWith("\n") ? "" : "\n") + ".runner/\n"
    writes.push({ file: ".gitignore", text, what: ".runner/ (the journal and logs)" })
  }
  return { writes, conflicts, unreadable, notes }
}

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** Scaffolds `dir`; fails, having written nothing, when it would overwrite a file or cannot read one. */
export const init = (dir: string, force: boolean): Effect.Effect<void, InitRefused> =>
  Effect.gen(function*() {
    const at = (file: string) => path.join(dir, file)
    const found: Found = {
      helloTask: read(at("tasks/hello.ts")),
      helloTest: read(at("tasks/hello.test.ts")),
      packageJson: read(at("package.json")),
      tasksPackageJson: read(at("tasks/package.json")),
      tsconfig: read(at("tsconfig.json")),
      gitignore: read(at(".gitignore"))
    }
    const todo = plan(found, { force, project: dir })
    if (todo.unreadable.length > 0) return yield* new InitRefused({ reason: todo.unreadable.join("; ") })
    if (todo.conflicts.length > 0) {
      return yield* new InitRefused({ reason: `init would overwrite ${todo.conflicts.join(", ")}`, hint: "--force overwrites" })
    }
    for (const { file, text } of todo.writes) {
      yield* Effect.sync(() => {
        fs.mkdirSync(path.dirname(at(file)), { recursive: true })
        fs.writeFileSync(at(file), text)
      })
    }
    const done = todo.writes.map(({ file, what }) => `wrote ${file}: ${what}`)
    const next = ["", "next: npx runner tasks/hello.ts   (bun: bunx --bun runner ..., deno: deno run -A npm:effect-runner ...)"]
    yield* print([...(done.length === 0 ? ["nothing to do: already set up"] : done), ...todo.notes, ...next].join("\n"))
  })

export const command = Command.make("init", {
  force: Flag.Boolean("force").pipe(
    Flag.withDescription("overwrite tasks/hello.ts, its test and the other files init writes (never an existing tsconfig.json)"),
    Flag.withDefault(false)
  )
}, ({ force }) => init(process.cwd(), force)).pipe(
  Command.withDescription(
    "Set up this project for task files: tasks/hello.ts, tsconfig settings, the npm script, .runner/ in .gitignore"
  )
)
