/**
 * The checks made before a run starts: every selected job's `config` resolves (missing and malformed values are all
 * reported, each naming its job and variable) and its declared `inputs` are readable. A run starts only when all hold;
 * `runner check` prints them as a checklist.
 */
import type * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { accessSync, constants } from "node:fs"
import * as nodePath from "node:path"
import * as FileHashes from "./cache/FileHashes.ts"
import * as CachePolicy from "./cache/Policy.ts"
import * as Manifest from "./cache/Manifest.ts"
import type * as Dag from "../Dag.ts"
import type * as Plan from "./Plan.ts"
import { PreflightFailed } from "./SetupErrors.ts"
import * as Secrets from "./Secrets.ts"

/** One thing checked: what, and the problem if any. */
export interface Check {
  readonly jobId: string
  readonly subject: string
  readonly problem: string | undefined
}

export interface Resolved {
  /** Each job's resolved config values, by job id (jobs without config are absent). */
  readonly config: ReadonlyMap<string, Readonly<Record<string, unknown>>>
  /** The clear values of the secrets (Redacted values) among them, to be masked. */
  readonly secrets: ReadonlyArray<string>
  /** Each job with `cache`: its declared `env` values as manifest parts (digests), by job id. */
  readonly cacheEnv: ReadonlyMap<string, ReadonlyArray<Manifest.Part>>
  readonly checks: ReadonlyArray<Check>
}

/** Makes every check; never fails (problems are in `checks`). */
export const inspect = (plan: Plan.Plan, provider: ConfigProvider.ConfigProvider): Effect.Effect<Resolved> =>
  Effect.gen(function*() {
    const config = new Map<string, Record<string, unknown>>()
    const checks: Array<Check> = []
    const secrets: Array<string> = []
    const cacheEnv = new Map<string, ReadonlyArray<Manifest.Part>>()
    for (const { job } of plan.jobs) {
      const policy = CachePolicy.effective(job.cache, plan.dag.cache)
      const entries = Object.entries(job.config)
      if (entries.length > 0) {
        const values: Record<string, unknown> = {}
        for (const [name, spec] of entries) {
          // Under `cache`, every variable a config reads must be declared in `cache.env`: its value is then in the key.
          const reads: Array<string> = []
          const reading = policy === undefined ? provider : ConfigProvider.make((path) => {
            reads.push(path.filter((p) => typeof p === "string").join("_"))
            return provider.load(path)
          })
          const exit = yield* Effect.exit(spec.parse(reading))
          const undeclared = [...new Set(reads)].filter((variable) => !policy!.env.includes(variable))
          if (undeclared.length > 0) {
            checks.push({
              jobId: job.id,
              subject: `config ${name}`,
              problem: `reads ${undeclared.join(", ")}, not named in cache.env: its value would not count in the cache ` +
                `key (a wrong hit); add ${undeclared.length === 1 ? "it" : "them"} to cache.env`
            })
          }
          if (Exit.isSuccess(exit)) {
            values[name] = exit.value
            secrets.push(...Secrets.collect(exit.value))
            if (undeclared.length === 0) checks.push({ jobId: job.id, subject: `config ${name}`, problem: undefined })
          } else {
            const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error as Config.ConfigError | undefined
            checks.push({ jobId: job.id, subject: `config ${name}`, problem: yield* describe(error, provider) })
          }
        }
        config.set(job.id, values)
      }
      for (const path of job.inputs) {
        checks.push({ jobId: job.id, subject: `input ${path}`, problem: readable(path) })
      }
      if (policy !== undefined) {
        cacheEnv.set(job.id, yield* envParts(policy.env, provider))
        const root = policy.root ?? process.cwd()
        for (const file of FileHashes.expand(root, policy.files).files) {
          const problem = readable(nodePath.join(root, file))
          if (problem !== undefined) checks.push({ jobId: job.id, subject: `cache.files ${file}`, problem })
        }
      }
    }
    return { config, secrets, checks, cacheEnv }
  })

/** Declared env variables as manifest parts: the sha256 of each value as the run's ConfigProvider gives it. */
const envParts = (names: ReadonlyArray<string>, provider: ConfigProvider.ConfigProvider) =>
  Effect.forEach(names, (name) =>
    Effect.map(Effect.orElseSucceed(provider.load([name]), () => undefined), (node): Manifest.Part => ({
      kind: "env",
      name,
      value: node === undefined ? "unset" : Manifest.digest(node._tag === "Value" ? `value:${node.value}` : JSON.stringify(node, (_k, v) => v instanceof Set ? [...v].sort() : v))
    })))

/** The resolved config, or every problem at once. */
export const require = (plan: Plan.Plan, provider: ConfigProvider.ConfigProvider): Effect.Effect<Resolved, PreflightFailed> =>
  Effect.flatMap(inspect(plan, provider), (resolved) => {
    const problems = resolved.checks.filter((check) => check.problem !== undefined)
    return problems.length === 0
      ? Effect.succeed(resolved)
      : Effect.fail(new PreflightFailed({ dag: plan.dag.name, problems: problems.map(render) }))
  })

/** `job "load": config password: DB_PASSWORD is not set`. */
export const render = (check: Check): string =>
  `job "${check.jobId}": ${check.subject}${check.problem === undefined ? "" : `: ${check.problem}`}`

/**
 * Why a config did not resolve, naming the variable: "DB_URL is not set (nor DB_URL_FILE)" or "PORT: Expected ...".
 * Schema messages describe what was expected, never the value found, so a malformed secret is not printed.
 */
const describe = (error: Config.ConfigError | undefined, provider: ConfigProvider.ConfigProvider) =>
  Effect.gen(function*() {
    if (error === undefined) return "could not be resolved"
    const cause = error.cause
    if (cause._tag === "SourceError") return cause.message
    const path = pathOf(cause.issue)
    const text = error.message.replace(/^SchemaError\(([\s\S]*)\)$/, "$1").replace(/\n\s*at \[[\s\S]*$/, "").trim()
    if (path === undefined) return text
    const variable = path.join("_")
    const found = yield* Effect.orElseSucceed(provider.load(path), () => undefined)
    return found === undefined ? `${variable} is not set (nor ${variable}_FILE)` : `${variable}: ${text}`
  })

/** The config path of a schema issue (the innermost Pointer's path). */
const pathOf = (issue: unknown): ReadonlyArray<string | number> | undefined => {
  let path: ReadonlyArray<string | number> | undefined
  let current: unknown = issue
  while (typeof current === "object" && current !== null && "_tag" in current && current._tag === "Pointer") {
    const pointer = current as unknown as { readonly path: ReadonlyArray<PropertyKey>; readonly issue: unknown }
    path = [...(path ?? []), ...pointer.path.map((p) => typeof p === "number" ? p : String(p))]
    current = pointer.issue
  }
  return path
}

const readable = (path: string): string | undefined => {
  try {
    accessSync(path, constants.R_OK)
    return undefined
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : String(error)
    return code === "ENOENT" ? "does not exist" : code === "EACCES" ? "is not readable" : `cannot be read (${code})`
  }
}
