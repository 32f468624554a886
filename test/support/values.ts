/**
 * Random typed values with their schemas, for the resume properties: Dates, BigInts, Options, Maps, nested structs,
 * class instances, Redacted secrets, plain JSON, and values JSON cannot hold without a schema. Runs on Node, Bun and
 * Deno (test/runtime/roundtrip.ts).
 */
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import fc from "fast-check"

export class Item extends Schema.Class<Item>("Item")({ id: Schema.BigInt, at: Schema.Date, tags: Schema.Array(Schema.String) }) {
  describe() {
    return `${this.id}:${this.tags.join("+")}`
  }
}

/** A value, the schema to declare as `output` (none for plain values), and whether a resume may restore it. */
export interface Sample {
  readonly kind: string
  readonly value: unknown
  readonly schema: Schema.Codec<any, any, never, never> | undefined
  readonly restorable: boolean
}

const date = fc.date({ noInvalidDate: true, min: new Date(-8.64e15 + 1), max: new Date(8.64e15 - 1) })
// -0 becomes 0 in JSON and in Schema.Number's JSON form alike; compare what can be compared.
const number = fc.double().map((n) => Object.is(n, -0) ? 0 : n)

const Nested = Schema.Struct({
  name: Schema.String,
  when: Schema.Array(Schema.Date),
  flag: Schema.optional(Schema.Boolean),
  inner: Schema.Struct({ n: Schema.Number, big: Schema.BigInt })
})

export const sample: fc.Arbitrary<Sample> = fc.oneof(
  date.map((value) => ({ kind: "Date", value, schema: Schema.Date, restorable: true })),
  fc.bigInt().map((value) => ({ kind: "BigInt", value, schema: Schema.BigInt, restorable: true })),
  fc.option(number, { nil: undefined }).map((n) => ({
    kind: "Option",
    value: n === undefined ? Option.none() : Option.some(n),
    schema: Schema.Option(Schema.Number),
    restorable: true
  })),
  fc.array(fc.tuple(fc.string(), fc.bigInt()), { maxLength: 5 }).map((entries) => ({
    kind: "Map",
    value: new Map(entries),
    schema: Schema.ReadonlyMap(Schema.String, Schema.BigInt),
    restorable: true
  })),
  fc.record({
    name: fc.string(),
    when: fc.array(date, { maxLength: 3 }),
    flag: fc.option(fc.boolean(), { nil: undefined }),
    inner: fc.record({ n: number, big: fc.bigInt() })
  }).map(({ flag, ...rest }) => ({
    kind: "struct",
    value: flag === undefined ? rest : { ...rest, flag },
    schema: Nested,
    restorable: true
  })),
  fc.record({ id: fc.bigInt(), at: date, tags: fc.array(fc.string(), { maxLength: 3 }) }).map((fields) => ({
    kind: "class",
    value: new Item(fields),
    schema: Item,
    restorable: true
  })),
  fc.string({ minLength: 1 }).map((secret) => ({
    kind: "Redacted",
    value: { user: "app", password: Redacted.make(`s3cret-${secret}`) },
    schema: Schema.Struct({ user: Schema.String, password: Schema.Redacted(Schema.String) }),
    restorable: false
  })),
  fc.jsonValue().map((value) => ({ kind: "json", value, schema: undefined, restorable: true })),
  fc.array(fc.tuple(fc.string(), fc.integer()), { maxLength: 3 }).map((entries) => ({
    kind: "Map without schema",
    value: new Map(entries),
    schema: undefined,
    restorable: false
  }))
)

/** Compares an original value with what came back, as a user would: same type, same content. */
export const sameValue = (original: unknown, restored: unknown): boolean => {
  if (Redacted.isRedacted(original)) {
    return Redacted.isRedacted(restored) && Redacted.value(original) === Redacted.value(restored)
  }
  if (original instanceof Date) return restored instanceof Date && original.getTime() === restored.getTime()
  // -0 comes back as 0 (JSON has no -0), which every comparison but Object.is treats as the same number.
  if (typeof original === "number") return typeof restored === "number" && (original === restored || Object.is(original, restored))
  if (typeof original !== "object" || original === null) return original === restored
  if (typeof restored !== "object" || restored === null) return false
  // An object without a prototype is plain data too: it comes back as an ordinary object.
  const proto = (u: object) => Object.getPrototypeOf(u) ?? Object.prototype
  if (proto(original) !== proto(restored)) return false
  if (original instanceof Map) {
    const other = restored as Map<unknown, unknown>
    return original.size === other.size && [...original].every(([k, v]) => other.has(k) && sameValue(v, other.get(k)))
  }
  if (Array.isArray(original)) {
    const other = restored as Array<unknown>
    return original.length === other.length && original.every((v, i) => sameValue(v, other[i]))
  }
  const keys = Object.keys(original).filter((k) => (original as Record<string, unknown>)[k] !== undefined)
  const otherKeys = Object.keys(restored).filter((k) => (restored as Record<string, unknown>)[k] !== undefined)
  return keys.length === otherKeys.length &&
    keys.every((k) => sameValue((original as Record<string, unknown>)[k], (restored as Record<string, unknown>)[k]))
}
