/**
 * Where a run's coordinator sends each job. A JobWorkflow goes to the worker that owns its execution id's shard, and
 * the id comes from the job's placement number: the coordinator picks the number whose shard lies on a worker with a
 * free slot, rather than letting the hash choose (which sends about half of a wave to a full worker, to be handed
 * back `Busy` a quarter of a second later). It knows its own worker's shards exactly (`hasShardId`), and learns the
 * others' from its jobs' outcomes: each names the worker that answered and its slot count. What it does not know
 * (other runs' jobs on a worker, a shard moved since) a `Busy` answer corrects.
 */
import * as EntityId from "effect/cluster/EntityId"
import * as Sharding from "effect/cluster/Sharding"
import type * as ShardId from "effect/cluster/ShardId"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

/** Facts about where a job went, as its outcome tells them: the worker that answered and how many slots it has. */
export interface Answer {
  readonly busy: boolean
  readonly host: string | undefined
  readonly slots: number | undefined
}

/** A placement chosen for a job: its number, and the worker it is counted against until its answer comes. */
export interface Choice {
  readonly placement: number
  readonly executionId: string
  readonly charged: string
}

export interface Placer {
  /**
   * The placement of a job's next execution, among numbers above `after`: on the worker with the most free slots
   * that it knows a shard of; else on a shard of a worker it does not know yet; else the next number.
   */
  readonly choose: (after: number, executionId: (placement: number) => Effect.Effect<string>) => Effect.Effect<Choice>
  /** The choice of a placement made earlier (an execution to join), counted against its shard's worker. */
  readonly join: (placement: number, executionId: string) => Choice
  /** Counts the choice's job as answered, and learns from the answer. */
  readonly settle: (choice: Choice, answer: Answer) => Effect.Effect<void>
}

/** How many placement numbers a choice hashes at most (the execution id is a SHA-256): ~30 µs each. */
const SCAN = 48
/** Stands for the workers whose shards this coordinator has not seen answered yet. */
const UNSEEN = "\u0000unseen"
/** How long a worker that answered `Busy` gets no new job from this coordinator. */
const BUSY_PAUSE = 300

/**
 * A placer for one coordinator running on worker `self` (whose JobRunner has `slots` slots, `running()` of them
 * taken by any run's jobs).
 */
export const make = (self: { readonly host: string; readonly slots: number; readonly running: () => number }): Effect.Effect<
  Placer,
  never,
  Sharding.Sharding
> =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const shardOf = (executionId: string): ShardId.ShardId => sharding.getShardId(EntityId.make(executionId), "default")
    /** The worker seen answering for each shard (by the shard's string form). */
    const hostOf = new Map<string, string>()
    const slots = new Map<string, number>([[self.host, self.slots]])
    /** This coordinator's jobs sent to each worker and not answered yet. */
    const pending = new Map<string, number>()
    const pausedUntil = new Map<string, number>()

    const owner = (shard: ShardId.ShardId): string | undefined =>
      sharding.hasShardId(shard) ? self.host : hostOf.get(shard.toString())

    const room = (host: string, now: number): number => {
      if ((pausedUntil.get(host) ?? 0) > now) return 0
      const taken = pending.get(host) ?? 0
      if (host === self.host) return self.slots - Math.max(taken, self.running())
      // Jobs sent to workers not seen yet may be on any other worker (on the only other one, when there are two):
      // counted against each, lest a worker just named by its first answer look empty while its slots are full.
      return (slots.get(host) ?? self.slots) - taken - (host === UNSEEN ? 0 : pending.get(UNSEEN) ?? 0)
    }

    /**
     * The least loaded worker (by its share of free slots), this one first among equals (no network hop); counted as
     * taken at once, before the placement numbers are hashed, so that a wave of jobs chosen together spreads. The
     * workers not seen yet count as one more, with as many slots as this one, until their answers name them.
     */
    const reserve = (now: number): string | undefined => {
      let target: string | undefined
      let best = 0
      for (const host of [...slots.keys(), UNSEEN]) {
        const free = room(host, now) / (slots.get(host) ?? self.slots)
        if (free > best) [target, best] = [host, free]
      }
      if (target !== undefined) add(target, 1)
      return target
    }

    const choose: Placer["choose"] = (after, executionId) =>
      Effect.gen(function*() {
        const target = reserve(yield* Clock.currentTimeMillis)
        let first: Choice | undefined
        let unseen: Choice | undefined
        let chosen: Choice | undefined
        for (let placement = after + 1; chosen === undefined && placement <= after + SCAN; placement++) {
          const id = yield* executionId(placement)
          const host = owner(shardOf(id))
          const choice = { placement, executionId: id, charged: host ?? UNSEEN }
          first ??= choice
          if (choice.charged === target) chosen = choice
          unseen ??= host === undefined ? choice : undefined
        }
        // Every worker full by this coordinator's count: one it has not seen may have room.
        chosen ??= unseen ?? first!
        if (chosen.charged !== target) {
          if (target !== undefined) add(target, -1)
          add(chosen.charged, 1)
        }
        return chosen
      })

    const add = (host: string, n: number) => pending.set(host, Math.max(0, (pending.get(host) ?? 0) + n))

    const charge = (choice: Choice): Choice => {
      add(choice.charged, 1)
      return choice
    }

    const settle: Placer["settle"] = (choice, answer) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        add(choice.charged, -1)
        if (answer.host === undefined) return
        hostOf.set(shardOf(choice.executionId).toString(), answer.host)
        if (answer.slots !== undefined) slots.set(answer.host, answer.slots)
        if (answer.busy) pausedUntil.set(answer.host, now + BUSY_PAUSE)
      })

    const join: Placer["join"] = (placement, executionId) =>
      charge({ placement, executionId, charged: owner(shardOf(executionId)) ?? UNSEEN })

    return { choose, join, settle }
  })
