/**
 * A cache manifest: everything a job's result depends on, as named parts (its definition, the modules its code
 * imports, the outputs it needs, declared files and environment, lockfile, runner, runtime, platform, version). The
 * key is the sha256 of a canonical, length-prefixed encoding of the sorted parts, so no two different manifests can
 * encode alike (`a`+`bc` and `ab`+`c` differ). The manifest itself is journaled with a cached success, so `runner why`
 * can name each difference instead of saying only "miss".
 */
import * as crypto from "node:crypto"

/**
 * What a part describes; the order here is the order `why` reports differences in: what explains the others first
 * (another runner, runtime or platform changes the definition hash too), then the job's own inputs.
 */
export const kinds = [
  "job",
  "runner",
  "runtime",
  "platform",
  "version",
  "partition",
  "definition",
  "module",
  "need",
  "file",
  "env",
  "config",
  "lockfile"
] as const
export type Kind = typeof kinds[number]

/**
 * One input of a job. `value` is a digest or a short fact, never a secret in clear: env values and Redacted config
 * enter as their sha256.
 */
export interface Part {
  readonly kind: Kind
  /** Which one: a file's path, a variable's name, a need's name; "" for parts that are one of a kind. */
  readonly name: string
  readonly value: string
}

export interface Manifest {
  readonly parts: ReadonlyArray<Part>
  /** sha256 (hex) of the canonical encoding. */
  readonly key: string
}

const order = new Map<Kind, number>(kinds.map((kind, i) => [kind, i]))

const compareParts = (a: Part, b: Part): number =>
  order.get(a.kind)! - order.get(b.kind)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)

/** `<length>:<text>` for each field: unambiguous whatever the texts contain. */
const field = (text: string): string => `${text.length}:${text}`

/** Builds the manifest: parts sorted by kind then name; two parts with the same kind and name are a bug. */
export const make = (parts: ReadonlyArray<Part>): Manifest => {
  const sorted = [...parts].sort(compareParts)
  for (let i = 1; i < sorted.length; i++) {
    if (compareParts(sorted[i - 1]!, sorted[i]!) === 0) {
      throw new Error(`cache manifest: two "${sorted[i]!.kind}" parts named "${sorted[i]!.name}"`)
    }
  }
  const hash = crypto.createHash("sha256")
  for (const part of sorted) hash.update(field(part.kind) + field(part.name) + field(part.value))
  return { parts: sorted, key: hash.digest("hex") }
}

/** sha256 (hex) of a text or bytes: how values that must not be stored in clear enter a manifest. */
export const digest = (data: string | Uint8Array): string => crypto.createHash("sha256").update(data).digest("hex")

/** The manifest as journaled (JSON text). */
export const encode = (manifest: Manifest): string => JSON.stringify(manifest.parts.map((p) => [p.kind, p.name, p.value]))

/** A journaled manifest; undefined when the text is not one (a corrupt row is a miss, never a crash). */
export const decode = (text: string): Manifest | undefined => {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!Array.isArray(raw)) return undefined
  const parts: Array<Part> = []
  for (const entry of raw) {
    if (!Array.isArray(entry) || entry.length !== 3 || !entry.every((x) => typeof x === "string")) return undefined
    const [kind, name, value] = entry as [string, string, string]
    if (!order.has(kind as Kind)) return undefined
    parts.push({ kind: kind as Kind, name, value })
  }
  try {
    return make(parts)
  } catch {
    return undefined
  }
}

/** How a part reads in a sentence: `file src/a.ts`, `env NODE_ENV`, `needed output of build`. */
const describe = (part: Pick<Part, "kind" | "name">): string => {
  switch (part.kind) {
    case "module":
      return `code of ${part.name}`
    case "need":
      return `needed output of ${part.name}`
    case "definition":
      return "the job's definition (its code, command, schemas)"
    case "lockfile":
      return `the lockfile${part.name === "" ? "" : ` ${part.name}`}`
    case "job":
    case "runner":
    case "runtime":
    case "platform":
    case "partition":
    case "version":
      return part.kind === "version" ? "the cache version" : `the ${part.kind}`
    default:
      return `${part.kind} ${part.name}`
  }
}

/**
 * Each difference between a previous manifest and the current one, in words: `file src/a.ts changed`,
 * `env NODE_ENV differs`, `file src/b.ts was added`. Empty when they are the same.
 */
export const differences = (previous: Manifest, current: Manifest): ReadonlyArray<string> => {
  const id = (p: Part) => `${p.kind}\u0000${p.name}`
  const before = new Map(previous.parts.map((p) => [id(p), p]))
  const after = new Map(current.parts.map((p) => [id(p), p]))
  const out: Array<string> = []
  const verb = (kind: Kind) =>
    kind === "env" || kind === "config" || kind === "runtime" || kind === "platform" || kind === "partition" ? "differs" : "changed"
  for (const part of current.parts) {
    const old = before.get(id(part))
    if (old === undefined) out.push(`${describe(part)} was added`)
    else if (old.value !== part.value) out.push(`${describe(part)} ${verb(part.kind)}${showValues(part.kind) ? ` (${old.value} → ${part.value})` : ""}`)
  }
  for (const part of previous.parts) if (!after.has(id(part))) out.push(`${describe(part)} was removed`)
  return out
}

/** Facts that are not secrets and read better than a digest. */
const showValues = (kind: Kind): boolean =>
  kind === "runner" || kind === "runtime" || kind === "platform" || kind === "version" || kind === "partition"
