/** Type-level tests: checked by `tsc` in `npm test`; each @ts-expect-error fails the build if the misuse compiles. */
import { describe, expectTypeOf, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Job from "../src/Job.ts"

class Db extends Context.Service<Db, { readonly query: string }>()("test/Db") {}

describe("Job types", () => {
  it("run receives the outputs of needs with their exact types", () => {
    const extract = Job.make("extract", {
      output: Schema.Struct({ files: Schema.Array(Schema.String) }),
      run: () => Effect.succeed({ files: ["a.csv"] })
    })
    const count = Job.make("count", { run: () => Effect.succeed(42) })
    const transform = Job.make("transform", {
      needs: { extract, count },
      run: (inputs) => {
        expectTypeOf(inputs).toEqualTypeOf<{
          readonly extract: { readonly files: ReadonlyArray<string> }
          readonly count: number
          readonly config: {}
        }>()
        return Effect.succeed(inputs.extract.files.length + inputs.count)
      }
    })
    expectTypeOf(transform).toEqualTypeOf<Job.Job<number, never>>()
    const shell = Job.shell("sh", ["true"], { needs: { transform } })
    expectTypeOf<Job.Output<typeof shell>>().toEqualTypeOf<Job.ShellOutput>()
  })

  it("run receives the declared config with its types; shell argv and env functions too", () => {
    const load = Job.make("load", {
      config: { url: Config.String("DB_URL"), password: Config.Redacted("DB_PASSWORD"), port: Config.Port("DB_PORT") },
      run: ({ config }) => {
        expectTypeOf(config).toEqualTypeOf<{
          readonly url: string
          readonly password: Redacted.Redacted<string>
          readonly port: number
        }>()
        return Effect.succeed(config.port)
      }
    })
    Job.shell("psql", ({ config, load }) => ["psql", config.url, String(load)], {
      needs: { load },
      config: { url: Config.String("DB_URL"), password: Config.Redacted("DB_PASSWORD") },
      env: ({ config }) => ({ PGPASSWORD: config.password })
    })
    const misuse = () => {
      Job.make("c", {
        config: { url: Config.String("DB_URL") },
        // @ts-expect-error: url is a string
        run: ({ config }) => Effect.succeed(config.url.toFixed(2))
      })
    }
    expectTypeOf(misuse).toBeFunction()
  })

  it("misuse does not compile", () => {
    // Never called: only the type checker looks at these (some would also throw InvalidOption at run time).
    const misuse = () => {
    const a = Job.make("a", { run: () => Effect.succeed("text") })
    Job.make("b", {
      needs: { a },
      // @ts-expect-error: `a` is a string, not a number
      run: ({ a }) => Effect.succeed(a.toFixed(2))
    })
    Job.make("c", {
      needs: { a },
      // @ts-expect-error: there is no need called `missing`
      run: ({ missing }) => Effect.succeed(missing)
    })
    Job.make("d", {
      // @ts-expect-error: the output does not match the schema
      output: Schema.Struct({ n: Schema.Number }),
      run: () => Effect.succeed({ n: "one" })
    })
    Job.make("e", {
      // @ts-expect-error: jobs may only require the services the runner provides
      run: () => Effect.gen(function*() {
        const db = yield* Db
        return db.query
      })
    })
    Job.make("f", {
      // @ts-expect-error: a retry count must be a number
      retry: { times: "3" },
      run: () => Effect.void
    })
    Job.shell("g", ({ a }) => ["echo", a], { needs: { a } })
    // @ts-expect-error: argv elements are strings or Redacted
    Job.shell("h", ["echo", 42])
    }
    expectTypeOf(misuse).toBeFunction()
  })
})
