/** Cutting texts that go where space is limited (notification bodies, Slack blocks, error excerpts), saying so. */

/** What a cut text ends with. */
export const TRUNCATED = "… (truncated)"

/** `text` cut to at most `max` characters, ending with `TRUNCATED` when it was cut. */
export const truncate = (text: string, max: number): string =>
  text.length <= max ? text : text.slice(0, max - TRUNCATED.length) + TRUNCATED
