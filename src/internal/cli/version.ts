/** The runner's version, from package.json. */
import * as versions from "../versions.ts"

export const version: string = versions.runner
