/**
 * Any value as text, for logs, reporters and error messages. Whatever a job logs or fails with — BigInts, cycles,
 * symbols, functions, Maps, a toJSON or getter that throws, a hostile Proxy — renders, and rendering never throws:
 * the run's logger calls this inside the job's fiber, where a throw would turn a log line into the job's failure.
 *
 * Plain data renders exactly as `JSON.stringify` would, so a logged object reads as JSON; what JSON cannot show is
 * written as Node's inspector would: `1n`, `[Circular]`, `Symbol(tag)`, `[Function name]`, `Map {"a" => 1}`.
 */
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import * as Redactable from "effect/Redactable"
import * as Redacted from "effect/Redacted"

/** A log argument as people read it: a string as it is, an Error by its message, anything else as `value`. */
export const message = (u: unknown): string => {
  if (typeof u === "string") return u
  return attempt(() => u instanceof Error ? String(u.message || u.name) : value(u), () => value(u))
}

/** Any value as compact, JSON-like text. Never throws. */
export const value = (u: unknown): string => attempt(() => print(normalize(u, [])), () => UNRENDERABLE)

/** Any value as JSON text that always parses: what JSON cannot hold becomes the string `value` renders it as. */
export const json = (u: unknown): string =>
  attempt(() => JSON.stringify(data(normalize(u, []))), () => JSON.stringify(value(u)))

/** The first line of a text (an error with its stack, a stderr tail). */
export const firstLine = (text: string): string => text.split("\n", 1)[0] ?? ""

/** A text cut to `max` characters, ending with "..." when it was cut. */
export const truncate = (text: string, max: number): string => text.length > max ? text.slice(0, max - 3) + "..." : text

/**
 * A failure as people should read it: a typed error as `Tag: message` (it carries the facts to act on), a defect
 * with its stack (it is a bug to find). Never throws: a failure holding a BigInt or a cycle is still shown.
 */
export const cause = (cause: Cause.Cause<unknown>): string => {
  if (!Cause.hasDies(cause)) {
    const error = Cause.findErrorOption(cause)
    if (Option.isSome(error)) return failure(error.value)
  }
  return attempt(() => Cause.pretty(cause), () => UNRENDERABLE)
}

/** A failure in one phrase, for a warning about something that failed: the error's message, else the value itself. */
export const causeMessage = (cause: Cause.Cause<unknown>): string => message(Cause.squash(cause))

/** What kind of failure a cause holds: the typed error's tag, "Defect" for a defect, else "Error". */
export const causeTag = (cause: Cause.Cause<unknown>): string => {
  if (Cause.hasDies(cause)) return "Defect"
  const error = Cause.findErrorOption(cause)
  if (Option.isSome(error) && typeof error.value === "object" && error.value !== null && "_tag" in error.value) {
    const tag = error.value._tag
    if (typeof tag === "string") return tag
  }
  return "Error"
}

const failure = (error: unknown): string =>
  attempt(() => {
    if (typeof error === "object" && error !== null) {
      const tag = "_tag" in error && typeof error._tag === "string" ? error._tag : undefined
      const message = "message" in error && typeof error.message === "string" ? error.message : undefined
      if (message !== undefined && message !== "") return tag === undefined ? message : `${tag}: ${message}`
      if (tag !== undefined) return `${tag} ${value(error)}`
    }
    return typeof error === "string" ? error : value(error)
  }, () => value(error))

const UNRENDERABLE = "[unrenderable]"

/** Text written as it is, never quoted (`1n`, `[Circular]`); a string in JSON output. */
class Raw {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** An object's fields, in order. */
class Fields {
  readonly entries: ReadonlyArray<readonly [string, Node]>
  constructor(entries: ReadonlyArray<readonly [string, Node]>) {
    this.entries = entries
  }
}

/** A value reduced to what the printers write: JSON leaves, arrays, fields and raw text. */
type Node = null | boolean | number | string | Raw | Fields | ReadonlyArray<Node>

const attempt = <A>(run: () => A, fallback: (error: unknown) => A): A => {
  try {
    return run()
  } catch (error) {
    return fallback(error)
  }
}

const reason = (error: unknown): string => attempt(() => error instanceof Error ? error.message : String(error), () => "?")

const normalize = (u: unknown, ancestors: Array<object>): Node =>
  attempt(() => {
    switch (typeof u) {
      case "string":
      case "boolean":
        return u
      case "number":
        return Number.isFinite(u) ? u : new Raw(String(u))
      case "bigint":
        return new Raw(`${u}n`)
      case "symbol":
        return new Raw(u.toString())
      case "undefined":
        return new Raw("undefined")
      case "function":
        return new Raw(`[Function ${(typeof u.name === "string" && u.name) || "(anonymous)"}]`)
    }
    if (u === null) return null
    if (ancestors.includes(u as object)) return new Raw("[Circular]")
    ancestors.push(u as object)
    try {
      return normalizeObject(u as object, ancestors)
    } finally {
      ancestors.pop()
    }
  }, () => new Raw(UNRENDERABLE))

const normalizeObject = (object: object, ancestors: Array<object>): Node => {
  if (Redacted.isRedacted(object)) return "<redacted>"
  if (Redactable.isRedactable(object)) return normalize(Redactable.redact(object), ancestors)
  const toJSON = (object as { readonly toJSON?: unknown }).toJSON
  if (typeof toJSON === "function") {
    // As JSON.stringify does (a Date becomes its ISO string); a toJSON that throws is passed over for the fields.
    const converted = attempt(() => ({ value: toJSON.call(object) as unknown }), () => undefined)
    if (converted !== undefined && converted.value !== object) return normalize(converted.value, ancestors)
  }
  if (object instanceof Error) return new Raw(`[${String(object.name)}: ${String(object.message)}]`)
  if (Array.isArray(object)) {
    return Array.from(object, (item: unknown) => item === undefined ? null : normalize(item, ancestors))
  }
  if (object instanceof Map) {
    const entries = Array.from(object, ([k, v]) => `${print(normalize(k, ancestors))} => ${print(normalize(v, ancestors))}`)
    return new Raw(`Map {${entries.join(", ")}}`)
  }
  if (object instanceof Set) return new Raw(`Set ${print(Array.from(object, (v) => normalize(v, ancestors)))}`)
  return fields(object, ancestors)
}

// Own enumerable string keys, as JSON.stringify lists them, leaving out undefined values as it does.
const fields = (object: object, ancestors: Array<object>): Fields => {
  const entries: Array<readonly [string, Node]> = []
  for (const key of Object.keys(object)) {
    const field = attempt(
      (): { readonly value: unknown } | Raw => ({ value: (object as Record<string, unknown>)[key] }),
      (error) => new Raw(`[getter threw: ${reason(error)}]`)
    )
    if (field instanceof Raw) entries.push([key, field])
    else if (field.value !== undefined) entries.push([key, normalize(field.value, ancestors)])
  }
  return new Fields(entries)
}

const print = (node: Node): string => {
  if (node instanceof Raw) return node.text
  if (node instanceof Fields) return `{${node.entries.map(([k, v]) => `${JSON.stringify(k)}:${print(v)}`).join(",")}}`
  if (Array.isArray(node)) return `[${node.map(print).join(",")}]`
  return JSON.stringify(node)
}

const data = (node: Node): unknown => {
  if (node instanceof Raw) return node.text
  if (node instanceof Fields) return Object.fromEntries(node.entries.map(([k, v]) => [k, data(v)]))
  if (Array.isArray(node)) return node.map(data)
  return node
}

/** What a value is, for an error about something that should have been a job or a DAG: "undefined", "a string", ... */
export const kindOf = (u: unknown): string =>
  u === undefined ? "undefined" : u === null ? "null" : typeof u === "object" ? "an object" : `a ${typeof u}`
