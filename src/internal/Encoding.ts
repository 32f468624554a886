/**
 * How a job's output (or a checkpoint's) becomes the JSON text the journal keeps, and how a resumed run gets the same
 * value back. With an `output` Schema, its JSON codec (`Schema.toCodecJson`) is used both ways, so a `Date`, a
 * `bigint`, an `Option`, a `Map` or a class instance comes back as itself. Without one, a value is restored only if
 * JSON holds it exactly; anything else (a Map, a Date, NaN, a class instance) is journaled as unrestorable with the
 * reason, and the job runs again on resume instead of receiving something of another type.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** What the journal keeps for a value. */
export type Encoded =
  /** JSON text that decodes back to the value; `undefined` stands for the value `undefined` (a void job). */
  | { readonly _tag: "Restorable"; readonly json: string | undefined }
  /** The value cannot come back as it was: the job (or step) runs again on resume, and this says why. */
  | { readonly _tag: "Unrestorable"; readonly reason: string; readonly json: string }

/** Why a value cannot be journaled at all: it is circular, or its encoder threw. */
export class NotJournalable extends Schema.TaggedError<NotJournalable>()("NotJournalable", { reason: Schema.String }) {
  override get message(): string {
    return this.reason
  }
}

const MARKER = "~effect-runner/unrestorable"

/** The journal's text for a value that cannot be restored, with the reason (journals written before 0.2 hold it too). */
export const unrestorable = (reason: string): Encoded => ({
  _tag: "Unrestorable",
  reason,
  json: JSON.stringify({ [MARKER]: reason })
})

/** The reason a journaled text is unrestorable, if it is. */
export const unrestorableReason = (json: string | undefined): string | undefined => {
  if (json === undefined || !json.startsWith(`{"${MARKER}"`)) return undefined
  const parsed = Schema.decodeUnknownOption(Marker)(json)
  if (Option.isNone(parsed)) return "the journal holds malformed JSON for it"
  const reason = parsed.value[MARKER]
  // Journals written before the reason was kept say only that a secret was held.
  return typeof reason === "string" ? reason.replace(/^the output holds a Redacted value$/, SECRET) : SECRET
}

const AnyJson = Schema.fromJsonString(Schema.Unknown)

const Marker = Schema.fromJsonString(Schema.Struct({ [MARKER]: Schema.Unknown }))

const SECRET = "it holds a secret (Redacted), which the journal never stores"

type Codec = Schema.Codec<any, any, never, never>

const jsonCodecs = new WeakMap<Codec, Codec>()

/** The schema's JSON codec, derived once per schema. */
const jsonCodec = (schema: Codec): Codec => {
  let codec = jsonCodecs.get(schema)
  if (codec === undefined) {
    codec = Schema.toCodecJson(schema) as unknown as Codec
    jsonCodecs.set(schema, codec)
  }
  return codec
}

/**
 * Encodes `value` for the journal. Fails with the schema's error when the value does not fit `schema`, and with
 * `NotJournalable` when no JSON can be made of it (a cycle, an encoder that throws); is `Unrestorable` when the JSON
 * would not give the value back, or the value holds a secret.
 */
export const encode = (
  schema: Codec | undefined,
  value: unknown
): Effect.Effect<Encoded, Schema.SchemaError | NotJournalable> =>
  Effect.flatMap(
    schema === undefined ? Effect.succeed(value) : Schema.encodeUnknownEffect(jsonCodec(schema))(value),
    (encoded) =>
      Effect.try({
        try: () => toText(value, encoded, schema !== undefined),
        catch: (error) => error instanceof NotJournalable ? error : new NotJournalable({ reason: `its JSON could not be made: ${message(error)}` })
      })
  )

const toText = (value: unknown, encoded: unknown, withSchema: boolean): Encoded => {
  if (holdsSecret(value)) return unrestorable(SECRET)
  const problem = notPlainJson(encoded)
  if (problem !== undefined) {
    const where = problem.path === "$" ? "" : ` at ${problem.path}`
    return unrestorable(
      withSchema
        ? `its schema's JSON form holds ${problem.what}${where}, which JSON cannot hold exactly`
        : `${problem.path === "$" ? "it is" : "it holds"} ${problem.what}${where}, which JSON cannot hold exactly; ` +
          "declare `output` with a Schema to restore it"
    )
  }
  return { _tag: "Restorable", json: encoded === undefined ? undefined : JSON.stringify(encoded) }
}

/** Decodes journaled text with the schema's JSON codec (or as plain JSON); fails with a one-line reason. */
export const decode = (schema: Codec | undefined, json: string | undefined): Effect.Effect<unknown, string> => {
  // Text the journal holds but JSON cannot parse (a damaged file) is a failure saying so, never a thrown SyntaxError.
  const parsed = json === undefined
    ? Effect.succeed(undefined)
    : Schema.decodeUnknownEffect(AnyJson)(json).pipe(
      Effect.mapError((error) => `the journaled JSON is malformed: ${schemaMessage(error)}`)
    )
  if (schema === undefined) return parsed
  return Effect.flatMap(parsed, (value) => Schema.decodeUnknownEffect(jsonCodec(schema))(value).pipe(Effect.mapError(schemaMessage)))
}

/** A schema error as one line: the schema's own message, its lines joined (never cut mid-way). */
export const schemaMessage = (error: { readonly message: string }): string =>
  error.message.split("\n").map((line) => line.trim()).filter((line) => line !== "").join(" ")

const message = (error: unknown): string => error instanceof Error ? error.message : String(error)

interface Problem {
  /** What was found: "a Map", "NaN", "undefined". */
  readonly what: string
  /** Where: `$` for the value itself, `$.a[2].b` inside it. */
  readonly path: string
}

/**
 * The first place where `value` is not plain JSON, or undefined when
 * `JSON.parse(JSON.stringify(value))` gives back an equal value. Object properties that are `undefined` are allowed
 * (they come back absent, which reads the same). A cycle throws `NotJournalable`.
 */
const notPlainJson = (value: unknown): Problem | undefined => {
  const seen = new Set<object>()
  const visit = (u: unknown, path: string): Problem | undefined => {
    switch (typeof u) {
      case "string":
      case "boolean":
        return undefined
      case "number":
        return Number.isFinite(u) ? undefined : { what: String(u), path }
      case "undefined":
        return path === "$" ? undefined : { what: "undefined", path }
      case "bigint":
        return { what: "a bigint", path }
      case "symbol":
      case "function":
        return { what: `a ${typeof u}`, path }
    }
    if (u === null) return undefined
    const object = u as object
    if (seen.has(object)) throw new NotJournalable({ reason: `it is circular (${path} refers back to an enclosing value)` })
    const kind = kindOf(object)
    if (kind !== undefined) return { what: kind, path }
    seen.add(object)
    try {
      if (Array.isArray(object)) {
        for (let i = 0; i < object.length; i++) {
          const problem = visit(object[i], `${path}[${i}]`)
          if (problem !== undefined) return problem
        }
        return undefined
      }
      for (const key of Object.keys(object)) {
        const child = (object as Record<string, unknown>)[key]
        if (child === undefined) continue
        const problem = visit(child, `${path}.${key}`)
        if (problem !== undefined) return problem
      }
      return undefined
    } finally {
      seen.delete(object)
    }
  }
  return visit(value, "$")
}

/** What an object is when it is not a plain object or array ("a Map", "a Date", "a Person"), else undefined. */
const kindOf = (object: object): string | undefined => {
  if (Array.isArray(object)) return Object.getPrototypeOf(object) === Array.prototype ? undefined : "an array subclass"
  const proto = Object.getPrototypeOf(object)
  if (proto === Object.prototype || proto === null) {
    return typeof (object as { toJSON?: unknown }).toJSON === "function" ? "an object with toJSON" : undefined
  }
  const name = (proto?.constructor as { name?: unknown } | undefined)?.name
  return typeof name === "string" && name !== "" ? article(name) : "a class instance"
}

const article = (name: string) => `${/^[AEIOU]/.test(name) ? "an" : "a"} ${name}`

/** True when a `Redacted` value is anywhere inside `value` (objects, arrays, Maps, Sets, class instances). */
const holdsSecret = (value: unknown): boolean => {
  const seen = new Set<object>()
  const visit = (u: unknown): boolean => {
    if (typeof u !== "object" || u === null) return false
    if (Redacted.isRedacted(u)) return true
    if (seen.has(u)) return false
    seen.add(u)
    if (u instanceof Map) {
      for (const [k, v] of u) if (visit(k) || visit(v)) return true
      return false
    }
    if (u instanceof Set) {
      for (const v of u) if (visit(v)) return true
      return false
    }
    if (ArrayBuffer.isView(u) || u instanceof Date) return false
    for (const key of Object.keys(u)) if (visit((u as Record<string, unknown>)[key])) return true
    return false
  }
  return visit(value)
}
