/**
 * Effect-native jobs: the DAG's `layer` provides an `HttpClient` (Effect's fetch client) and a service of our own, a
 * `Greeter`. The layer is built once per run, before the first job, shared by every job, and released after the last
 * one. The jobs say what they require in their types: a DAG whose layer left out `Greeter` would not type-check.
 *
 * Run it against any server answering `GET /names` with `{ "names": ["Ada", "Grace"] }`:
 *   GREETING_API=http://127.0.0.1:8080 npx runner examples/effect-native/layer.ts
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Checkpoint, Dag, Job, Resource } from "effect-runner"

/** Our own service. Its layer logs when it is acquired and released: once per run, whatever the number of jobs. */
class Greeter extends Context.Service<Greeter, {
  readonly greet: (name: string) => Effect.Effect<string>
}>()("example/Greeter") {}

const GreeterLive = Layer.effect(Greeter)(Effect.acquireRelease(
  Effect.as(Effect.log("greeter acquired"), Greeter.of({ greet: (name) => Effect.succeed(`Hello, ${name}!`) })),
  () => Effect.log("greeter released")
))

/** At most two requests to the greeting API at once, from every job of the run. */
const api = Resource.make("greeting-api", { concurrency: 2 })

const Names = Schema.Struct({ names: Schema.Array(Schema.String) })

/** Asks the API whom to greet: needs an `HttpClient` (from the DAG's layer) and the API's address (from the env). */
export const names = Job.make("names", {
  config: { url: Config.String("GREETING_API") },
  output: Names,
  timeout: "10 seconds",
  retry: { times: 2, delay: "100 millis" },
  run: ({ config }) =>
    Effect.gen(function*() {
      const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
      const response = yield* client.get(`${config.url}/names`).pipe(Resource.withPermit(api))
      return yield* HttpClientResponse.schemaBodyJson(Names)(response)
    })
})

/** Greets each name with the `Greeter` (from the DAG's layer), one durable step per name. */
export const greet = Job.make("greet", {
  needs: { names },
  run: ({ names }) =>
    Effect.forEach(names.names, (name) =>
      Effect.gen(function*() {
        const line = yield* (yield* Greeter).greet(name)
        yield* Effect.log(line)
        return line
      }).pipe(Checkpoint.step(`greet:${name}`)))
})

export default Dag.make("effect-native", [greet], {
  layer: Layer.mergeAll(FetchHttpClient.layer, GreeterLive)
})
