/**
 * HTML built with one tagged template, `html`, that escapes every interpolation: job ids, run keys, log lines, error
 * messages and outputs come from task files and from what jobs print, so none of them may ever become markup. Only a
 * value that is itself the result of `html` (an `Html`) is inserted as is; arrays are joined.
 */

/** A piece of HTML that is safe to insert: made by `html` (or `raw`, for constant markup only). */
export class Html {
  readonly value: string
  constructor(value: string) {
    this.value = value
  }
  toString(): string {
    return this.value
  }
}

const replacements: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\"": "&quot;",
  "'": "&#39;",
  "`": "&#96;"
}

/** Text made safe for HTML content and for quoted attribute values. */
export const escape = (text: string): string => text.replace(/[&<>"'`]/g, (c) => replacements[c]!)

/** A value interpolated into HTML: escaped unless it is `Html`; arrays joined; null, undefined and false are empty. */
const render = (value: unknown): string => {
  if (value instanceof Html) return value.value
  if (Array.isArray(value)) return value.map(render).join("")
  if (value === undefined || value === null || value === false) return ""
  return escape(String(value))
}

/** The tag: `html\`<td>${jobId}</td>\`` escapes `jobId`. */
export const html = (strings: TemplateStringsArray, ...values: ReadonlyArray<unknown>): Html => {
  let out = strings[0]!
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!
  return new Html(out)
}

/** Constant markup written in this package (never data): inserted as is. */
export const raw = (markup: string): Html => new Html(markup)

/** A query string from parameters, leaving out empty ones (the result still goes through `html` to be escaped). */
export const query = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(name, String(value))
  }
  const text = search.toString()
  return text === "" ? "" : `?${text}`
}

/** A path segment (a run id, a job id) made safe inside a URL. */
export const segment = (text: string): string => encodeURIComponent(text)
