/**
 * Joins Effect's cluster engine over the journal's PostgreSQL database: a worker (`layerRunner`, a runner that hosts
 * shards and listens for the others) or a client-only member that submits and follows runs (`layerClient`). Both open
 * ONE PostgreSQL client from the `postgres://` journal URL (the journal's own: password from the URL, `PGPASSWORD` or
 * `PGPASSWORD_FILE`, never printed) and share it between the journal and the engine's message and runner storage.
 * The sharding options are always explicit (Settings.ts): never read from HOST/PORT.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import type * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import * as SqlClient from "effect/sql/SqlClient"
import type * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import * as Journal from "../Journal.ts"
import * as SqlJournal from "../sql/SqlJournal.ts"
import * as Settings from "./Settings.ts"

/** What a cluster member is given: the engine, the journal and the database client they share. */
export type Services =
  | WorkflowEngine.WorkflowEngine
  | Sharding.Sharding
  | MessageStorage.MessageStorage
  | Journal.Journal
  | SqlClient.SqlClient

/** The PostgreSQL client of the journal URL, once for the process. */
const client = (url: string): Layer.Layer<SqlClient.SqlClient, Journal.JournalError> =>
  Layer.effect(SqlClient.SqlClient)(SqlJournal.postgresClient(url)).pipe(Layer.provide(Reactivity.layer))

/**
 * The journal over the shared client. In a cluster member a run's lock goes stale after the cluster lease (unless
 * `RUNNER_LOCK_STALE_AFTER` says otherwise): a coordinator replayed on another worker takes the run over as soon as
 * the engine has moved it, not a minute later.
 */
const journal = (settings: Settings.Settings): Layer.Layer<Journal.Journal, Journal.JournalError, SqlClient.SqlClient> =>
  Layer.effect(Journal.Journal)(Effect.gen(function*() {
    const env: Record<string, string> = {}
    for (const [name, value] of Object.entries(process.env)) if (value !== undefined) env[name] = value
    env["RUNNER_LOCK_STALE_AFTER"] ??= `${Duration.toMillis(settings.lease)} millis`
    return yield* Effect.provideService(SqlJournal.make, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  }))

const serialization = RpcSerialization.layerSchemaBinary({})

/** The engine's storage (messages, runners) on the shared client. */
const storage = Layer.mergeAll(
  SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest)),
  Layer.orDie(SqlRunnerStorage.layer)
)

/** A worker: hosts shards, listens at `addresses.listen`, tells the others `addresses.advertise`. */
export const layerRunner = (
  url: string,
  settings: Settings.Settings,
  addresses: Settings.Addresses
): Layer.Layer<Services, unknown> => {
  const config = ShardingConfig.layer(Settings.sharding(settings, addresses))
  const health = RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))
  const sharding = SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(health),
    Layer.provideMerge(storage),
    Layer.provide(config),
    Layer.provide(serialization)
  )
  return ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(sharding),
    Layer.provideMerge(journal(settings)),
    Layer.provideMerge(client(url))
  )
}

/** A client-only member: submits and follows runs, hosts nothing. */
export const layerClient = (url: string, settings: Settings.Settings): Layer.Layer<Services, unknown> => {
  const config = ShardingConfig.layer(Settings.sharding(settings, undefined))
  const sharding = SocketRunner.layerClientOnly.pipe(
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provideMerge(storage),
    Layer.provide(config),
    Layer.provide(serialization)
  )
  return ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(sharding),
    Layer.provideMerge(journal(settings)),
    Layer.provideMerge(client(url))
  )
}
