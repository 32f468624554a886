/**
 * A job's `cache` option, validated when the task file loads (a bad env name or ttl fails with the job and option
 * named) and normalised: what the executor reads to decide whether an earlier success of the same inputs is reused.
 */
import type * as Duration from "effect/Duration"
import { InvalidOption } from "../../Errors.ts"
import * as duration from "../duration.ts"

/** What users write: `cache: true` or `cache: { files, env, outputs, version, ttl }` (`false` opts out of a DAG's default). */
export type Input = boolean | Options

export interface Options {
  /** Globs of the files the job reads, relative to the current directory (the package folder under `runner ws`). */
  readonly files?: ReadonlyArray<string>
  /** Environment variables whose values count (hashed, never stored in clear). */
  readonly env?: ReadonlyArray<string>
  /** Globs of the files the job produces: a hit whose outputs are all missing runs the job again. Nothing is restored. */
  readonly outputs?: ReadonlyArray<string>
  /** A string to bump by hand to invalidate earlier results. */
  readonly version?: string
  /** An earlier success older than this is not reused (`"7 days"`, `"12h"`, `"30d"`). Default: no limit. */
  readonly ttl?: Duration.Input | `${number}${"ms" | "s" | "m" | "h" | "d" | "w"}`
}

/** The validated policy. */
export interface Policy {
  readonly files: ReadonlyArray<string>
  readonly env: ReadonlyArray<string>
  readonly outputs: ReadonlyArray<string>
  readonly version: string
  readonly ttl: Duration.Duration | undefined
  /** The folder `files` and `outputs` are relative to; undefined: the runner's current directory. */
  readonly root: string | undefined
}

const variableName = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Validates `cache` (`where`: `job "build"` or `dag "nightly"`); undefined for `false` or absent. */
export const make = (input: Input | undefined, where: string): Policy | undefined => {
  if (input === undefined || input === false) return undefined
  if (input === true) return { files: [], env: [], outputs: [], version: "", ttl: undefined, root: undefined }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidOption({ where: `${where} cache`, reason: "must be true, false or { files, env, outputs, version, ttl }" })
  }
  const known = new Set(["files", "env", "outputs", "version", "ttl"])
  const unknown = Object.keys(input).filter((key) => !known.has(key))
  if (unknown.length > 0) {
    throw new InvalidOption({
      where: `${where} cache`,
      reason: `unknown option${unknown.length === 1 ? "" : "s"} ${unknown.map((k) => JSON.stringify(k)).join(", ")} (known: files, env, outputs, version, ttl)`
    })
  }
  const files = strings(input.files, `${where} cache.files`, "globs")
  const outputs = strings(input.outputs, `${where} cache.outputs`, "globs")
  const env = strings(input.env, `${where} cache.env`, "variable names")
  const bad = env.filter((name) => !variableName.test(name))
  if (bad.length > 0) {
    throw new InvalidOption({
      where: `${where} cache.env`,
      reason: `${bad.map((name) => JSON.stringify(name)).join(", ")} ${bad.length === 1 ? "is not a" : "are not"} valid ` +
        `environment variable name${bad.length === 1 ? "" : "s"} (letters, digits and _, not starting with a digit)`
    })
  }
  if (input.version !== undefined && typeof input.version !== "string") {
    throw new InvalidOption({ where: `${where} cache.version`, reason: "must be a string, e.g. \"2\"" })
  }
  const ttl = input.ttl === undefined ? undefined : duration.parse(input.ttl as Duration.Input, `${where} cache.ttl`)
  return { files, env: [...new Set(env)].sort(), outputs, version: input.version ?? "", ttl, root: undefined }
}

const strings = (value: unknown, where: string, what: string): ReadonlyArray<string> => {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string" || item.trim() === "")) {
    throw new InvalidOption({ where, reason: `must be an array of non-empty ${what}` })
  }
  return value
}

/** A job's effective policy: its own `cache`, else its DAG's default (a job's `cache: false` opts out of it). */
export const effective = (
  own: Policy | false | undefined,
  dagDefault: Policy | undefined
): Policy | undefined => own === false ? undefined : own ?? dagDefault
