/** The runner's version and the Effect version it is pinned to, from its package.json (readable on every runtime). */
import pkg from "../../package.json" with { type: "json" }

export const runner: string = pkg.version
export const effect: string = pkg.dependencies.effect
