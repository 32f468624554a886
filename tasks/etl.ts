// Extract -> transform -> load with typed outputs: a flaky extract that succeeds on retry, and a load whose calls go
// through a rate-limited Resource. Run: node_modules/.bin/node src/bin.ts tasks/etl.ts  (writes .runner/etl/out.jsonl)
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Schema from "effect/Schema"
import { Dag, Job, Resource } from "effect-runner"

const OUT_DIR = ".runner/etl"
const OUT_FILE = `${OUT_DIR}/out.jsonl`

/** Shared by every job of a run: at most 2 calls in flight and 20 started per second. */
const warehouseApi = Resource.make("warehouse-api", { concurrency: 2, rate: { limit: 20, per: "1 second" } })

const Order = Schema.Struct({ id: Schema.Number, customer: Schema.String, amountCents: Schema.Number })
const Row = Schema.Struct({
  orderId: Schema.Number,
  customer: Schema.String,
  amount: Schema.Number,
  large: Schema.Boolean
})
type Row = typeof Row.Type

class SourceUnavailable extends Data.TaggedError("SourceUnavailable")<{ readonly call: number }> {
  override get message() {
    return `order source unavailable (simulated outage, call ${this.call})`
  }
}

// The simulated source fails its first 2 calls in every run (the counter is per process), so extract needs retries.
let sourceCalls = 0
const fetchOrders = Effect.gen(function*() {
  sourceCalls++
  if (sourceCalls <= 2) return yield* new SourceUnavailable({ call: sourceCalls })
  return Array.from({ length: 30 }, (_, i) => ({
    id: i + 1,
    customer: ["ada", "grace", "linus"][i % 3]!,
    amountCents: 1_000 + i * 350
  }))
})

// Stands in for an HTTP upsert keyed by orderId (so a retried load duplicates nothing); warehouseApi sets the pace.
const insertRow = (row: Row) => Effect.sleep("10 millis").pipe(Effect.as(row))

export const extract = Job.make("extract", {
  description: "read orders from the (flaky) source",
  output: Schema.Struct({ orders: Schema.Array(Order) }),
  retry: { times: 3, delay: "200 millis", jitter: true },
  timeout: "30 seconds",
  run: () => Effect.map(fetchOrders, (orders) => ({ orders }))
})

export const transform = Job.make("transform", {
  needs: { extract },
  description: "orders to warehouse rows",
  output: Schema.Struct({ rows: Schema.Array(Row) }),
  run: ({ extract }) =>
    Effect.succeed({
      rows: extract.orders.map((order): Row => ({
        orderId: order.id,
        customer: order.customer,
        amount: order.amountCents / 100,
        large: order.amountCents >= 5_000
      }))
    })
})

export const load = Job.make("load", {
  needs: { transform },
  description: `insert rows through warehouse-api, then write ${OUT_FILE}`,
  output: Schema.Struct({ file: Schema.String, rows: Schema.Number }),
  retry: { times: 2, delay: "1 second", jitter: true },
  timeout: "2 minutes",
  // Checked before the run starts (`runner check tasks/etl.ts`); a real load would also take a secret:
  // `token: Config.Redacted("WAREHOUSE_TOKEN")` (from the environment, --env-file or WAREHOUSE_TOKEN_FILE, masked).
  config: { warehouse: Config.String("WAREHOUSE_URL").pipe(Config.withDefault("http://warehouse.invalid")) },
  run: ({ config, transform }) =>
    Effect.gen(function*() {
      yield* Effect.log(`loading ${transform.rows.length} rows into ${config.warehouse}`)
      const fs = yield* FileSystem.FileSystem
      // 8 fibers ask for the API at once; warehouseApi lets 2 run and at most 20 start per second.
      const inserted = yield* Effect.forEach(
        transform.rows,
        (row) => warehouseApi.use(insertRow(row)),
        { concurrency: 8 }
      )
      // The whole file is rewritten (atomically, via rename), so a re-run gives the same file, not duplicate lines.
      yield* fs.makeDirectory(OUT_DIR, { recursive: true })
      yield* fs.writeFileString(`${OUT_FILE}.tmp`, inserted.map((row) => JSON.stringify(row) + "\n").join(""))
      yield* fs.rename(`${OUT_FILE}.tmp`, OUT_FILE)
      yield* Effect.log(`loaded ${inserted.length} rows into ${OUT_FILE}`)
      return { file: OUT_FILE, rows: inserted.length }
    })
})

export default Dag.make("etl", [extract, transform, load])
