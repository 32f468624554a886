/**
 * The runner's version, from its package.json, and the version of the Effect it runs with: the one installed beside
 * it (a peer dependency), which task files share. Read with fs and require so it works on every runtime, from the
 * sources and from dist/ alike (both are one folder below package.json).
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"

export const runner: string = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

export const effect: string = createRequire(import.meta.url)("effect/package.json").version
