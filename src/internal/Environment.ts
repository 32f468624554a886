/**
 * Where jobs' config comes from: the process environment, then `--env-file FILE` (dotenv format), and for a variable
 * NAME that is set in neither, the file named by NAME_FILE (the container-secrets convention). The result is an
 * Effect `ConfigProvider`: the runner resolves jobs' declared `config` with it, and jobs that read `Config` themselves
 * get the same sources.
 */
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { InvalidOption } from "../Errors.ts"

export interface Options {
  readonly env: Readonly<Record<string, string | undefined>>
  /** `--env-file`: read now; a missing or unreadable file is an error. */
  readonly envFile?: string | undefined
}

/** The provider for these sources; fails (naming the file) when the env file cannot be read. */
export const provider = (options: Options): Effect.Effect<ConfigProvider.ConfigProvider, InvalidOption> =>
  Effect.gen(function*() {
    const env = ConfigProvider.fromEnv({ env: defined(options.env) })
    let base = env
    if (options.envFile !== undefined) {
      const file = options.envFile
      const contents = yield* Effect.try({
        try: () => readFileSync(file, "utf8"),
        catch: (error) => new InvalidOption({ where: `--env-file ${file}`, reason: `cannot be read (${codeOf(error)})` })
      })
      // The environment wins over the file, as with docker, systemd and most dotenv loaders.
      base = ConfigProvider.orElse(env, ConfigProvider.fromDotEnvContents(contents))
    }
    return withFiles(base)
  })

/** NAME, else the contents of the file NAME_FILE names (one trailing newline dropped); both set is an error. */
const withFiles = (base: ConfigProvider.ConfigProvider): ConfigProvider.ConfigProvider =>
  ConfigProvider.make((path) =>
    Effect.gen(function*() {
      const direct = yield* base.load(path)
      const last = path[path.length - 1]
      if (typeof last !== "string" || last.endsWith("_FILE")) return direct
      const name = path.join("_")
      const pointer = yield* base.load([...path.slice(0, -1), `${last}_FILE`])
      if (pointer === undefined || pointer._tag !== "Value") return direct
      // NAME_FILE also makes NAME a record (with key FILE) for the environment provider: only a value counts as set.
      if (direct !== undefined && direct.value !== undefined) {
        return yield* new ConfigProvider.SourceError({ message: `both ${name} and ${name}_FILE are set; keep one` })
      }
      const file = pointer.value
      const contents = yield* Effect.try({
        try: () => readFileSync(file, "utf8"),
        catch: (error) =>
          new ConfigProvider.SourceError({ message: `${name}_FILE names ${file}, which cannot be read (${codeOf(error)})` })
      })
      return ConfigProvider.makeValue(contents.replace(/\r?\n$/, ""))
    })
  )

const defined = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) if (value !== undefined) out[name] = value
  return out
}

const codeOf = (error: unknown): string =>
  typeof error === "object" && error !== null && "code" in error && typeof error.code === "string"
    ? error.code
    : String(error)
