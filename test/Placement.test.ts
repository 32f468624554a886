/**
 * The coordinator's placement of jobs (cluster/Placement.ts), against a stand-in for the engine's sharding: placement
 * number p's execution lands on shard p % 10 + 1, and shards 1-5 are this worker's. The cluster tests show the effect
 * through the CLI (test/Cluster.test.ts, distribution); these show the choices one by one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardId from "effect/cluster/ShardId"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import * as Placement from "../src/internal/cluster/Placement.ts"

const shardOfPlacement = (placement: number) => (placement % 10) + 1
const isLocal = (placement: number) => shardOfPlacement(placement) <= 5

const sharding = {
  getShardId: (entityId: string, group: string) => ShardId.make(group, shardOfPlacement(Number(entityId.split("#")[1]))),
  hasShardId: (shard: ShardId.ShardId) => shard.id <= 5
} as unknown as Sharding.Sharding["Service"]

const executionId = (placement: number) => Effect.succeed(`run/job#${placement}`)

const placer = (slots: number, running = () => 0) =>
  Placement.make({ host: "self", slots, running }).pipe(Effect.provideService(Sharding.Sharding, sharding))

describe("Placement", () => {
  it.effect("spreads a wave: this worker and the workers not seen yet in turn, by their share of free slots", () =>
    Effect.gen(function*() {
      const placements = yield* placer(2)
      const choices: Array<Placement.Choice> = []
      for (let i = 0; i < 4; i++) choices.push(yield* placements.choose(0, executionId))
      // local, unseen, local (a tie goes to this worker: no network hop), unseen
      assert.deepStrictEqual(choices.map((c) => isLocal(c.placement)), [true, false, true, false])
      assert.deepStrictEqual(choices.map((c) => c.charged === "self"), [true, false, true, false])
      // Each choice is the first number above `after` that lands where it should.
      assert.strictEqual((yield* placements.choose(12, executionId)).placement > 12, true)
    }))

  it.effect("learns a worker from its answer and sends it work while it has room; a Busy answer pauses it", () =>
    Effect.gen(function*() {
      const placements = yield* placer(1, () => 1) // this worker is full (another run's job)
      const unseen = yield* placements.choose(0, executionId)
      assert.isFalse(isLocal(unseen.placement))
      yield* placements.settle(unseen, { busy: false, host: "worker-b", slots: 3 })
      // worker-b has 3 slots and owns the shard it answered for: the next jobs go to that shard's numbers.
      const toB = yield* placements.choose(0, executionId)
      assert.strictEqual(toB.charged, "worker-b")
      assert.strictEqual(shardOfPlacement(toB.placement), shardOfPlacement(unseen.placement))
      yield* placements.settle(toB, { busy: true, host: "worker-b", slots: 3 })
      // Paused after Busy: a worker not seen yet is tried instead (not this full one).
      const afterBusy = yield* placements.choose(toB.placement, executionId)
      assert.notStrictEqual(afterBusy.charged, "worker-b")
      assert.isFalse(isLocal(afterBusy.placement))
      yield* placements.settle(afterBusy, { busy: false, host: "worker-c", slots: 1 })
      // The pause ends: worker-b gets work again.
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* placements.choose(0, executionId)).charged, "worker-b")
    }))

  it.effect("a worker named by its first answer is counted with the jobs still out on workers not seen yet", () =>
    Effect.gen(function*() {
      const placements = yield* placer(2)
      const wave: Array<Placement.Choice> = []
      for (let i = 0; i < 4; i++) wave.push(yield* placements.choose(0, executionId))
      const [, firstUnseen] = wave
      // One of the two jobs sent off answers from worker-b (2 slots); the other may still run there.
      yield* placements.settle(firstUnseen!, { busy: false, host: "worker-b", slots: 2 })
      const next = yield* placements.choose(0, executionId)
      assert.strictEqual(next.charged, "worker-b")
      // worker-b now holds the job just sent and (perhaps) the one still out: full, by this count.
      assert.notStrictEqual((yield* placements.choose(0, executionId)).charged, "worker-b")
    }))

  it.effect("a join counts against the worker owning the execution's shard", () =>
    Effect.gen(function*() {
      const placements = yield* placer(1)
      const joined = placements.join(3, "run/job#3")
      assert.deepStrictEqual(joined, { placement: 3, executionId: "run/job#3", charged: "self" })
      // This worker's one slot is taken by the joined job: the next goes elsewhere.
      assert.isFalse(isLocal((yield* placements.choose(0, executionId)).placement))
    }))
})
