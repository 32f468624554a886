/**
 * A backfill's slots: the scheduler's own (Trigger's next and key) in [from, to), DST-correct in Europe/Berlin and
 * America/New_York, the `--every` forms for DAGs without a schedule, the bounds read in the zone, bad input, and the
 * way back from a run key to its slot (what gives a `--key` run its Partition). Pure functions: no clock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Slots from "../src/internal/backfill/Slots.ts"
import * as Trigger from "../src/internal/Trigger.ts"

const scheduled = (schedule: string, timezone: string) => ({ name: "nightly", trigger: Trigger.make("dag", { schedule, timezone }) })
const unscheduled = { name: "adhoc", trigger: undefined }
const keys = (range: Slots.Range) => range.slots.map((s) => s.key)
const iso = (dates: ReadonlyArray<Date>) => dates.map((d) => d.toISOString())
const message = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    return (error as Error).message
  }
  throw new Error("expected an error")
}

describe("backfill slots of a schedule", () => {
  it("are the scheduler's slots in [from, to), keyed as it keys them, each ending where the next starts", () => {
    const range = Slots.resolve(scheduled("0 2 * * *", "Europe/Berlin"), { from: "2026-01-01", to: "2026-01-04" })
    assert.deepStrictEqual(keys(range), ["2026-01-01T02:00", "2026-01-02T02:00", "2026-01-03T02:00"])
    assert.deepStrictEqual(iso(range.slots.map((s) => s.start)), [
      "2026-01-01T01:00:00.000Z",
      "2026-01-02T01:00:00.000Z",
      "2026-01-03T01:00:00.000Z"
    ])
    // The last slot's partition ends at the next slot, outside the range.
    assert.deepStrictEqual(iso(range.slots.map((s) => s.end)), [
      "2026-01-02T01:00:00.000Z",
      "2026-01-03T01:00:00.000Z",
      "2026-01-04T01:00:00.000Z"
    ])
    // `to` is excluded, `from` included: a range starting at a slot's time has it.
    assert.deepStrictEqual(
      keys(Slots.resolve(scheduled("0 2 * * *", "Europe/Berlin"), { from: "2026-01-01T02:00", to: "2026-01-03T02:00" })),
      ["2026-01-01T02:00", "2026-01-02T02:00"]
    )
  })

  it("Europe/Berlin: no slot in the spring-forward gap, one slot for the repeated hour", () => {
    const spring = Slots.resolve(scheduled("30 2 * * *", "Europe/Berlin"), { from: "2026-03-27", to: "2026-03-31" })
    assert.deepStrictEqual(keys(spring), ["2026-03-27T02:30", "2026-03-28T02:30", "2026-03-30T02:30"])
    // The slot before the gap's day ends at the next real slot, two days later.
    assert.strictEqual(spring.slots[1]!.end.toISOString(), "2026-03-30T00:30:00.000Z")
    const fall = Slots.resolve(scheduled("30 2 * * *", "Europe/Berlin"), { from: "2026-10-24", to: "2026-10-27" })
    assert.deepStrictEqual(keys(fall), ["2026-10-24T02:30", "2026-10-25T02:30", "2026-10-26T02:30"])
    assert.strictEqual(fall.slots[1]!.start.toISOString(), "2026-10-25T00:30:00.000Z", "the first 02:30 (CEST)")
    const hourly = scheduled("0 * * * *", "Europe/Berlin")
    const springDay = keys(Slots.resolve(hourly, { from: "2026-03-29", to: "2026-03-30" }))
    assert.strictEqual(springDay.length, 23)
    assert.notInclude(springDay, "2026-03-29T02:00")
    const fallDay = keys(Slots.resolve(hourly, { from: "2026-10-25", to: "2026-10-26" }))
    assert.strictEqual(fallDay.length, 24, "25 real hours, 24 wall-clock hours, one slot each")
    assert.strictEqual(new Set(fallDay).size, 24)
    assert.strictEqual(fallDay.filter((k) => k === "2026-10-25T02:00").length, 1)
  })

  it("America/New_York: 02:30 does not exist on 2026-03-08; 01:30 happens twice on 2026-11-01 and is one slot", () => {
    const spring = Slots.resolve(scheduled("30 2 * * *", "America/New_York"), { from: "2026-03-07", to: "2026-03-10" })
    assert.deepStrictEqual(keys(spring), ["2026-03-07T02:30", "2026-03-09T02:30"])
    const fall = Slots.resolve(scheduled("30 1 * * *", "America/New_York"), { from: "2026-10-31", to: "2026-11-03" })
    assert.deepStrictEqual(keys(fall), ["2026-10-31T01:30", "2026-11-01T01:30", "2026-11-02T01:30"])
    assert.strictEqual(fall.slots[1]!.start.toISOString(), "2026-11-01T05:30:00.000Z", "the first 01:30 (EDT)")
    const hourly = Slots.resolve({ ...unscheduled }, { from: "2026-11-01", to: "2026-11-02", every: "1h", timezone: "America/New_York" })
    assert.strictEqual(hourly.slots.length, 24)
    assert.strictEqual(new Set(keys(hourly)).size, 24)
    assert.strictEqual(hourly.slots[0]!.start.toISOString(), "2026-11-01T04:00:00.000Z", "midnight EDT")
  })

  it("bounds are read in the schedule's zone: a date is its midnight, a time its wall-clock time, an offset as given", () => {
    const dag = scheduled("0 * * * *", "America/New_York")
    assert.deepStrictEqual(keys(Slots.resolve(dag, { from: "2026-01-02T05", to: "2026-01-02T07:30" })), [
      "2026-01-02T05:00",
      "2026-01-02T06:00",
      "2026-01-02T07:00"
    ])
    // 10:00Z is 05:00 in New York in January.
    assert.deepStrictEqual(keys(Slots.resolve(dag, { from: "2026-01-02T10:00Z", to: "2026-01-02T12:00:00+00:00" })), [
      "2026-01-02T05:00",
      "2026-01-02T06:00"
    ])
    // A bound in the spring-forward gap means the end of the gap (03:00 EDT).
    assert.strictEqual(Slots.parseBound("2026-03-08T02:30", "America/New_York", "--from").toISOString(), "2026-03-08T07:00:00.000Z")
    // A repeated time means its first occurrence.
    assert.strictEqual(Slots.parseBound("2026-11-01T01:30", "America/New_York", "--from").toISOString(), "2026-11-01T05:30:00.000Z")
  })
})

describe("backfill slots of --every, for a DAG without a schedule", () => {
  it("1d keys days, 1h keys hours, a cron expression keys like the scheduler", () => {
    const days = Slots.resolve(unscheduled, { from: "2026-01-02", to: "2026-01-05", every: "1d", timezone: "America/New_York" })
    assert.deepStrictEqual(keys(days), ["2026-01-02", "2026-01-03", "2026-01-04"])
    assert.strictEqual(days.slots[0]!.start.toISOString(), "2026-01-02T05:00:00.000Z")
    assert.strictEqual(days.slots[0]!.end.toISOString(), "2026-01-03T05:00:00.000Z")
    const hours = Slots.resolve(unscheduled, { from: "2026-01-02T05", to: "2026-01-02T08", every: "1h", timezone: "UTC" })
    assert.deepStrictEqual(keys(hours), ["2026-01-02T05", "2026-01-02T06", "2026-01-02T07"])
    const cron = Slots.resolve(unscheduled, { from: "2026-01-02", to: "2026-01-02T01", every: "*/20 * * * *", timezone: "UTC" })
    assert.deepStrictEqual(keys(cron), ["2026-01-02T00:00", "2026-01-02T00:20", "2026-01-02T00:40"])
    // The day of a spring-forward in Berlin has 23 hourly slots, keyed by hour.
    assert.strictEqual(Slots.resolve(unscheduled, { from: "2026-03-29", to: "2026-03-30", every: "1h", timezone: "Europe/Berlin" }).slots.length, 23)
  })

  it("--every that says what the schedule says is accepted", () => {
    const range = Slots.resolve(scheduled("0 0 * * *", "UTC"), { from: "2026-01-01", to: "2026-01-03", every: "1d", timezone: "UTC" })
    assert.deepStrictEqual(keys(range), ["2026-01-01T00:00", "2026-01-02T00:00"], "keys stay the scheduler's")
  })
})

describe("bad input names the flag and the problem", () => {
  const dag = scheduled("0 2 * * *", "Europe/Berlin")
  it("from after to, an empty range, invalid dates", () => {
    assert.match(message(() => Slots.resolve(dag, { from: "2026-02-01", to: "2026-01-01" })), /^--from: 2026-02-01 is after --to 2026-01-01/)
    assert.match(message(() => Slots.resolve(dag, { from: "2026-01-01", to: "2026-01-01" })), /is the same time as --to/)
    assert.match(message(() => Slots.resolve(dag, { from: "2026-02-30", to: "2026-03-01" })), /^--from: "2026-02-30" is not a valid date/)
    assert.match(message(() => Slots.resolve(dag, { from: "2026-01-01", to: "yesterday" })), /^--to: "yesterday" is not a date or time/)
    assert.match(message(() => Slots.resolve(dag, { from: "2026-01-01T25:00", to: "2026-01-02" })), /not a valid date/)
  })

  it("an unknown zone, --every or --timezone disagreeing with the schedule (which wins), no cadence at all", () => {
    assert.match(
      message(() => Slots.resolve(unscheduled, { from: "2026-01-01", to: "2026-01-02", every: "1d", timezone: "Mars/Olympus" })),
      /^--timezone: unknown time zone "Mars\/Olympus"/
    )
    assert.match(
      message(() => Slots.resolve(dag, { from: "2026-01-01", to: "2026-01-02", every: "1h" })),
      /^--every: "1h" disagrees with dag "nightly"'s schedule "0 2 \* \* \*" in Europe\/Berlin: the schedule wins/
    )
    assert.match(
      message(() => Slots.resolve(dag, { from: "2026-01-01", to: "2026-01-02", timezone: "UTC" })),
      /^--timezone: UTC disagrees with dag "nightly"'s schedule .*: the schedule's zone wins/
    )
    assert.match(message(() => Slots.resolve(unscheduled, { from: "2026-01-01", to: "2026-01-02" })), /^--every: dag "adhoc" has no schedule/)
    assert.match(message(() => Slots.resolve(unscheduled, { from: "2026-01-01", to: "2026-01-02", every: "daily" })), /^--every schedule "daily"/)
  })

  it("a range with more slots than the limit is refused", () => {
    const every = Slots.cadence(unscheduled, { every: "* * * * * *", timezone: "UTC" })
    assert.match(
      message(() => Slots.between(every, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T01:00:00Z"), 1000)),
      /more than 1,000 slots of --every \* \* \* \* \* \* in UTC: narrow the range/
    )
  })
})

describe("from a run key back to its slot (the Partition of a keyed run)", () => {
  it("every slot's key gives the slot back, across both DST changes", () => {
    for (const zone of ["Europe/Berlin", "America/New_York"]) {
      for (const schedule of ["0 * * * *", "30 1 * * *", "30 2 * * *"]) {
        const dag = scheduled(schedule, zone)
        for (const [from, to] of [["2026-03-07", "2026-03-31"], ["2026-10-24", "2026-11-03"]] as const) {
          for (const slot of Slots.resolve(dag, { from, to }).slots) {
            assert.strictEqual(Trigger.slotOf(dag.trigger, slot.key)?.toISOString(), slot.start.toISOString(), `${zone} ${schedule} ${slot.key}`)
            assert.deepStrictEqual(Trigger.partitionOf(dag.trigger, slot.key), slot)
          }
        }
      }
    }
  })

  it("a key in the gap, a time the schedule does not match, or another shape is no slot", () => {
    const berlin = scheduled("30 2 * * *", "Europe/Berlin").trigger
    assert.isUndefined(Trigger.slotOf(berlin, "2026-03-29T02:30"), "02:30 never happened that day")
    assert.isUndefined(Trigger.slotOf(berlin, "2026-03-28T02:31"))
    assert.isUndefined(Trigger.slotOf(berlin, "2026-03-28"))
    assert.isUndefined(Trigger.slotOf(berlin, "2026-03-28T02:30:00"), "no seconds field, no seconds in keys")
    assert.isUndefined(Trigger.slotOf(berlin, "nightly-1"))
    const seconds = Trigger.make("dag", { schedule: "*/15 * * * * *", timezone: "UTC" })
    assert.strictEqual(Trigger.slotOf(seconds, "2026-01-01T00:00:15")?.toISOString(), "2026-01-01T00:00:15.000Z")
  })
})
