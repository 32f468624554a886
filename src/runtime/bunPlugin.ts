/** Bun import plugin: task files outside the runner's folder get the runner's own `effect` and `effect-runner`. */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const runnerRoot = fileURLToPath(new URL("../../", import.meta.url))
const indexPath = fileURLToPath(new URL("../index.ts", import.meta.url))

export const register = (): void => {
  const Bun = (globalThis as any).Bun
  Bun.plugin({
    name: "effect-runner",
    setup(build: any) {
      build.onResolve({ filter: /^(effect|effect-runner)(\/.*)?$/ }, (args: { path: string; importer: string }) => {
        if (args.importer.startsWith(runnerRoot)) return undefined
        if (args.path === "effect-runner") return { path: indexPath }
        return { path: Bun.resolveSync(args.path, path.join(runnerRoot, "src")) }
      })
    }
  })
}
