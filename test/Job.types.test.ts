/** Type-level tests: checked by `tsc` in `npm test`; each @ts-expect-error fails the build if the misuse compiles. */
import { describe, expectTypeOf, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Layer from "effect/Layer"
import type * as PlatformError from "effect/PlatformError"
import * as Checkpoint from "../src/Checkpoint.ts"
import * as Dag from "../src/Dag.ts"
import type { CircuitOpen, JobTimeout, OutputInvalid, ShellExitError } from "../src/Errors.ts"
import * as Job from "../src/Job.ts"
import * as Resource from "../src/Resource.ts"

class Db extends Context.Service<Db, { readonly query: string }>()("test/Db") {}
class Other extends Context.Service<Other, { readonly n: number }>()("test/Other") {}

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

  it("a job keeps its requirements; Dag.make type-checks only when a layer provides them", () => {
    const query = Job.make("query", {
      run: () => Effect.map(Effect.service(Db), (db) => db.query)
    })
    expectTypeOf(query).toEqualTypeOf<Job.Job<string, never, Db>>()
    // The runner's own services need no layer.
    const files = Job.make("files", { run: () => Effect.asVoid(Effect.service(FileSystem.FileSystem)) })
    expectTypeOf(files).toEqualTypeOf<Job.Job<void, never>>()
    const dbLayer = Layer.succeed(Db)({ query: "select 1" })
    Dag.make("provided", [query, files], { layer: dbLayer })
    // A job's own layer provides its requirements too.
    const own = Job.make("own", { layer: dbLayer, run: () => Effect.map(Effect.service(Db), (db) => db.query) })
    expectTypeOf(own).toEqualTypeOf<Job.Job<string, never>>()
    Dag.make("own", [own, files])
    Dag.make("inline", [Job.make("inline", { run: () => Effect.service(Db) })], { layer: dbLayer })
    // A DAG included in another brings its layer along: its jobs need nothing more.
    Dag.make("outer", [Dag.make("inner", [query], { layer: dbLayer }), files])
    // A job requires what the jobs it needs require (the DAG includes them through it).
    const after = Job.make("after", { needs: { query }, run: () => Effect.void })
    expectTypeOf(after).toEqualTypeOf<Job.Job<void, never, Db>>()
    Dag.make("after", [after], { layer: dbLayer })
    const misuse = () => {
      // @ts-expect-error: nothing provides Db
      Dag.make("unprovided", [query, files])
      // @ts-expect-error: nothing provides Db, which a needed job requires
      Dag.make("unprovided", [after])
      // @ts-expect-error: a job written inline is checked too
      Dag.make("inline", [Job.make("inline", { run: () => Effect.service(Db) })])
      // @ts-expect-error: only jobs and DAGs
      Dag.make("numbers", [1])
      // @ts-expect-error: the DAG's layer may only require the runner's services
      Dag.make("layer-needs", [files], { layer: Layer.effect(Db)(Effect.map(Effect.service(Other), () => ({ query: "" }))) })
    }
    expectTypeOf(misuse).toBeFunction()
  })

  it("a job's error type includes the runner's own failures its options call for", () => {
    type ErrorOf<J> = J extends Job.Job<any, infer E, any> ? E : never
    class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}
    const api = Resource.make("api", { breaker: { failures: 3, window: "1 minute", cooldown: "10 seconds" } })
    const plain = Job.make("plain", { run: () => Effect.fail(new Boom()) })
    expectTypeOf<ErrorOf<typeof plain>>().toEqualTypeOf<Boom>()
    const timed = Job.make("timed", { timeout: "1 minute", run: () => Effect.fail(new Boom()) })
    expectTypeOf<ErrorOf<typeof timed>>().toEqualTypeOf<Boom | JobTimeout>()
    const guarded = Job.make("guarded", { uses: [api], run: () => Effect.succeed(1) })
    expectTypeOf<ErrorOf<typeof guarded>>().toEqualTypeOf<CircuitOpen>()
    // An empty `uses` holds no resource, so no breaker can refuse the job.
    const none = Job.make("none", { uses: [], run: () => Effect.succeed(1) })
    expectTypeOf<ErrorOf<typeof none>>().toEqualTypeOf<never>()
    const typed = Job.make("typed", { output: Schema.Struct({ n: Schema.Number }), run: () => Effect.succeed({ n: 1 }) })
    expectTypeOf<ErrorOf<typeof typed>>().toEqualTypeOf<OutputInvalid>()
    expectTypeOf<Job.Output<typeof typed>>().toEqualTypeOf<{ readonly n: number }>()
    const all = Job.make("all", {
      timeout: 5000,
      uses: [api],
      output: Schema.Number,
      run: () => Effect.fail(new Boom()).pipe(Effect.as(1))
    })
    expectTypeOf<ErrorOf<typeof all>>().toEqualTypeOf<Boom | JobTimeout | CircuitOpen | OutputInvalid>()
    // A command job fails with its exit code (or a spawn error), plus a timeout when it has one.
    const build = Job.command("build", ["npm", "run", "build"])
    expectTypeOf<ErrorOf<typeof build>>().toEqualTypeOf<ShellExitError | PlatformError.PlatformError>()
    const slow = Job.command("slow", ["sleep", "5"], { timeout: "1 second", uses: [api] })
    expectTypeOf<ErrorOf<typeof slow>>()
      .toEqualTypeOf<ShellExitError | PlatformError.PlatformError | JobTimeout | CircuitOpen>()
    // The deprecated name is the same function, with the same types.
    expectTypeOf(Job.shell).toEqualTypeOf(Job.command)
    expectTypeOf<Job.Output<typeof slow>>().toEqualTypeOf<Job.CommandOutput>()
  })

  it("Checkpoint.step and Resource.withPermit have data-first and data-last forms with the same types", () => {
    const api = Resource.make("api", { concurrency: 2 })
    const fetchOne = Effect.succeed(1) as Effect.Effect<number, "http", Db>
    expectTypeOf(Checkpoint.step("k", fetchOne)).toEqualTypeOf<Effect.Effect<number, "http", Db>>()
    expectTypeOf(fetchOne.pipe(Checkpoint.step("k"))).toEqualTypeOf<Effect.Effect<number, "http", Db>>()
    expectTypeOf(Checkpoint.step(fetchOne, "k")).toEqualTypeOf<Effect.Effect<number, "http", Db>>()
    const day = Effect.succeed(new Date())
    expectTypeOf(day.pipe(Checkpoint.step("day", { output: Schema.Date }))).toEqualTypeOf<Effect.Effect<Date>>()
    expectTypeOf(Resource.withPermit(fetchOne, api)).toEqualTypeOf<Effect.Effect<number, "http" | CircuitOpen, Db>>()
    expectTypeOf(fetchOne.pipe(Resource.withPermit(api))).toEqualTypeOf<Effect.Effect<number, "http" | CircuitOpen, Db>>()
    const misuse = () => {
      // @ts-expect-error: the output schema must describe the step's value
      day.pipe(Checkpoint.step("day", { output: Schema.Number }))
    }
    expectTypeOf(misuse).toBeFunction()
  })
})
