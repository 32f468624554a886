import { assert, describe, it } from "@effect/vitest"
import * as Trigger from "../src/internal/Trigger.ts"

const iso = (dates: ReadonlyArray<Date>) => dates.map((d) => d.toISOString())

describe("Trigger", () => {
  it("computes the next slots of a cron expression in its time zone", () => {
    const nightly = Trigger.make("dag", { schedule: "0 2 * * *", timezone: "Europe/Berlin" })
    // 02:00 in Berlin is 01:00Z in winter (CET) and 00:00Z in summer (CEST).
    assert.strictEqual(Trigger.next(nightly, new Date("2026-01-10T12:00:00Z")).toISOString(), "2026-01-11T01:00:00.000Z")
    assert.strictEqual(Trigger.next(nightly, new Date("2026-07-10T12:00:00Z")).toISOString(), "2026-07-11T00:00:00.000Z")
    assert.strictEqual(Trigger.key(nightly, new Date("2026-07-11T00:00:00Z")), "2026-07-11T02:00")
  })

  it("never invents a slot that does not exist: 02:30 is skipped on the spring-forward day", () => {
    const t = Trigger.make("dag", { schedule: "30 2 * * *", timezone: "Europe/Berlin" })
    // On 2026-03-29 Berlin jumps from 02:00 to 03:00: there is no 02:30 that day.
    const slots = Trigger.between(t, new Date("2026-03-27T12:00:00Z"), new Date("2026-03-30T12:00:00Z"))
    assert.deepStrictEqual(iso(slots), ["2026-03-28T01:30:00.000Z", "2026-03-30T00:30:00.000Z"])
    assert.deepStrictEqual(slots.map((s) => Trigger.key(t, s)), ["2026-03-28T02:30", "2026-03-30T02:30"])
  })

  it("runs a wall-clock time that happens twice once: 02:30 on the fall-back day", () => {
    const t = Trigger.make("dag", { schedule: "30 2 * * *", timezone: "Europe/Berlin" })
    // On 2026-10-25 Berlin goes from 03:00 back to 02:00: 02:30 happens at 00:30Z and again at 01:30Z.
    const slots = Trigger.between(t, new Date("2026-10-24T12:00:00Z"), new Date("2026-10-26T12:00:00Z"))
    assert.deepStrictEqual(iso(slots), ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"])
    const hourly = Trigger.make("dag", { schedule: "0 * * * *", timezone: "Europe/Berlin" })
    // 23:30Z is 01:30 CEST. In the next 4 real hours the wall clock shows 02:00 twice (00:00Z and 01:00Z): one slot.
    const hours = Trigger.between(hourly, new Date("2026-10-24T23:30:00Z"), new Date("2026-10-25T03:30:00Z"))
    assert.deepStrictEqual(iso(hours), ["2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"])
    assert.deepStrictEqual(hours.map((s) => Trigger.key(hourly, s)), ["2026-10-25T02:00", "2026-10-25T03:00", "2026-10-25T04:00"])
    assert.strictEqual(new Set(hours.map((s) => Trigger.key(hourly, s))).size, hours.length, "keys are unique")
  })

  it("supports a seconds field; keys then have seconds", () => {
    const t = Trigger.make("dag", { schedule: "*/15 * * * * *", timezone: "UTC" })
    const slots = Trigger.between(t, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:01:00Z"))
    assert.deepStrictEqual(slots.map((s) => Trigger.key(t, s)), [
      "2026-01-01T00:00:15",
      "2026-01-01T00:00:30",
      "2026-01-01T00:00:45",
      "2026-01-01T00:01:00"
    ])
  })

  it("catch-up: none runs nothing, latest the most recent, all the most recent N", () => {
    const missed = [1, 2, 3, 4, 5].map((h) => new Date(Date.UTC(2026, 0, 1, h)))
    const of = (catchUp: Trigger.CatchUp) => Trigger.make("dag", { schedule: "0 * * * *", timezone: "UTC", catchUp })
    assert.deepStrictEqual(Trigger.catchUp(of("none"), missed, 3), { run: [], skip: missed })
    assert.deepStrictEqual(Trigger.catchUp(of("latest"), missed, 3), { run: missed.slice(4), skip: missed.slice(0, 4) })
    assert.deepStrictEqual(Trigger.catchUp(of("all"), missed, 3), { run: missed.slice(2), skip: missed.slice(0, 2) })
    assert.deepStrictEqual(Trigger.catchUp(of("all"), missed, 10), { run: missed, skip: [] })
  })

  it("rejects invalid expressions, unknown time zones and unknown modes, naming what is wrong", () => {
    assert.throws(() => Trigger.make(`dag "x"`, { schedule: "every night" }), /dag "x" schedule "every night": Invalid number of segments/)
    assert.throws(() => Trigger.make(`dag "x"`, { schedule: "0 25 * * *" }), /dag "x" schedule "0 25 \* \* \*": /)
    assert.throws(() => Trigger.make(`dag "x"`, { schedule: "0 2 * * *", timezone: "Mars/Olympus" }), /Invalid time zone.*"Mars\/Olympus"/)
    assert.throws(() => Trigger.make(`dag "x"`, { schedule: "0 2 * * *", catchUp: "some" as never }), /catchUp: must be one of none, latest, all/)
    assert.throws(() => Trigger.make(`dag "x"`, { schedule: "0 2 * * *", overlap: "merge" as never }), /overlap: must be one of skip, queue, allow/)
  })
})
