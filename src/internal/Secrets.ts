/**
 * Masking of secret values. A run's secrets (the `Redacted` values its jobs' config resolved to) are replaced by `***`
 * wherever text leaves the runner: log lines, shell output, error messages, events, the journal.
 */
import * as Context from "effect/Context"
import * as Redacted from "effect/Redacted"

export interface Masker {
  /** True when there is nothing to mask. */
  readonly empty: boolean
  /** The text with every secret replaced by `***`. */
  readonly mask: (text: string) => string
  /** The value with every string inside masked; the same reference when nothing was masked. */
  readonly maskDeep: <A>(value: A) => A
  /** A masker for these secrets and this one's. */
  readonly with: (secrets: Iterable<string>) => Masker
}

export const MASK = "***"

/**
 * A masker for these secret values. Each value is also masked in the forms it takes in JSON strings and URLs, and
 * each line of a multi-line secret (a PEM key printed line by line) on its own.
 */
export const make = (secrets: Iterable<string>): Masker => {
  const given = [...secrets].filter((secret) => typeof secret === "string" && secret !== "")
  if (given.length === 0) return none
  const forms = new Set<string>()
  for (const secret of given) {
    forms.add(secret)
    forms.add(JSON.stringify(secret).slice(1, -1))
    forms.add(encodeURIComponent(secret))
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 4) forms.add(line)
  }
  const values = [...forms]
  // Longest first, so a secret that contains another is masked whole.
  const pattern = new RegExp(
    values.sort((a, b) => b.length - a.length).map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"),
    "g"
  )
  const mask = (text: string) => text.replace(pattern, MASK)
  const masker: Masker = {
    empty: false,
    mask,
    maskDeep: (value) => deep(value, mask),
    // Shell jobs ask for the run's masker plus their own Redacted values: without any, this one serves as is.
    with: (more) => {
      const added = [...more].filter((secret) => secret !== "" && !given.includes(secret))
      return added.length === 0 ? masker : make([...given, ...added])
    }
  }
  return masker
}

const none: Masker = {
  empty: true,
  mask: (text) => text,
  maskDeep: (value) => value,
  with: (more) => make(more)
}

/** The masker of the current run (none outside a run). */
export const CurrentMasker = Context.Reference<Masker>("effect-runner/Secrets/CurrentMasker", {
  defaultValue: () => none
})

/** The clear values of the `Redacted` values inside `value` (config values, records, arrays). */
export const collect = (value: unknown, into: Array<string> = []): Array<string> => {
  if (Redacted.isRedacted(value)) {
    const clear = Redacted.value(value)
    if (typeof clear === "string") into.push(clear)
    else collect(clear, into)
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, into)
  } else if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collect(item, into)
  }
  return into
}

const deep = <A>(value: A, mask: (text: string) => string): A => {
  if (typeof value === "string") return mask(value) as A
  if (Array.isArray(value)) {
    let changed = false
    const out = value.map((item) => {
      const masked = deep(item, mask)
      if (masked !== item) changed = true
      return masked
    })
    return (changed ? out : value) as A
  }
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    let changed = false
    const out: Record<string, unknown> = {}
    for (const [key, item] of Object.entries(value)) {
      const masked = deep(item, mask)
      if (masked !== item) changed = true
      out[mask(key)] = masked
      if (mask(key) !== key) changed = true
    }
    return (changed ? out : value) as A
  }
  return value
}
