/** Writes small monorepos for the workspace tests: files, and node_modules links to each package as npm makes them. */
import * as fs from "node:fs"
import * as path from "node:path"

/** Writes `files` (path -> text, or an object written as JSON) under `dir`, and links node_modules/<name> to each package. */
export const writeWorkspace = (dir: string, files: Record<string, string | object>): string => {
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(dir, file)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, typeof content === "string" ? content : JSON.stringify(content, null, 2))
    const name = (content as { name?: unknown }).name
    if (file !== "package.json" && file.endsWith("package.json") && typeof name === "string") {
      const link = path.join(dir, "node_modules", name)
      fs.mkdirSync(path.dirname(link), { recursive: true })
      fs.rmSync(link, { force: true })
      fs.symlinkSync(path.relative(path.dirname(link), path.dirname(target)), link)
    }
  }
  return dir
}

/** A package.json of a workspace package (ES modules, so task files load without a warning). */
export const pkg = (name: string, dependencies: Record<string, string> = {}, extra: object = {}) => ({
  name,
  type: "module",
  dependencies,
  ...extra
})

/** A task file exporting one shell job per id that prints its working directory. */
export const pwdJobs = (...ids: ReadonlyArray<string>) =>
  `import { Job } from "effect-runner"\n` +
  ids.map((id) => `export const ${id.replace(/\W/g, "_")} = Job.shell(${JSON.stringify(id)}, ["pwd"])\n`).join("")

/**
 * The standard test monorepo: core <- lib <- app (app also needs core's typed output), docs (no jobs),
 * tools (a job "lint" only). core's build is an Effect job with a typed output that app imports.
 */
export const standard = (dir: string, root: object = { name: "root", private: true, workspaces: ["packages/*", "apps/*"] }) =>
  writeWorkspace(dir, {
    "package.json": root,
    "packages/core/package.json": pkg("@acme/core", {}, { exports: { "./tasks": "./tasks/build.ts" } }),
    "packages/core/tasks/build.ts": [
      `import { Job } from "effect-runner"`,
      `import * as Effect from "effect/Effect"`,
      `export const build = Job.make("build", { run: () => Effect.succeed({ version: 7 }) })`,
      `export const test = Job.shell("test", ["pwd"], { needs: { build } })`
    ].join("\n"),
    "packages/lib/package.json": pkg("@acme/lib", { "@acme/core": "*" }),
    "packages/lib/tasks/build.ts": pwdJobs("build"),
    "apps/app/package.json": pkg("app", { "@acme/lib": "*" }, { devDependencies: { "@acme/core": "*" } }),
    "apps/app/tasks/build.ts": [
      `import { Job } from "effect-runner"`,
      `import * as Effect from "effect/Effect"`,
      `import { build as core } from "@acme/core/tasks"`,
      `export const build = Job.make("build", {`,
      `  needs: { core },`,
      `  run: ({ core }) => Effect.log(\`app built against core \${core.version satisfies number}\`)`,
      `})`
    ].join("\n"),
    "packages/docs/package.json": pkg("docs", { "app": "*" }),
    "packages/tools/package.json": pkg("tools"),
    "packages/tools/tasks/lint.ts": pwdJobs("lint")
  })
