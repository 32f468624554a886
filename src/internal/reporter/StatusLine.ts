/**
 * One line kept at the bottom of a terminal under lines written above it: a backfill's live view (slots done, running,
 * failed, ETA) under its slots' plain lines. Several runs go side by side there, so the pretty reporter's live region
 * (one run's jobs) does not fit; their lines scroll above and the status stays put. The cursor waits at the start of
 * the status line: each line written clears it, writes, and draws it again below.
 */
import type { Output } from "./Reporter.ts"

export interface StatusLine {
  /** Where lines go (a reporter's output): each is written above the status line. */
  readonly output: Output
  /** Replaces the status text (cut to the terminal's width: a wrapped line could not be cleared). */
  readonly set: (text: string) => void
  /** Removes the status line (when it ends): the terminal is left as plain lines. */
  readonly clear: () => void
}

const CLEAR = "\u001b[2K"

export const make = (out: Output): StatusLine => {
  let status = ""
  const fit = (text: string) => {
    const width = Math.max(20, (out.columns ?? 80) - 1)
    return text.length <= width ? text : `${text.slice(0, width - 1)}…`
  }
  return {
    output: {
      isTTY: out.isTTY,
      columns: out.columns,
      write: (text) => out.write(`${CLEAR}${text}${status === "" ? "" : `${status}\r`}`)
    },
    set: (text) => {
      status = fit(text)
      out.write(`${CLEAR}${status}\r`)
    },
    clear: () => {
      if (status === "") return
      status = ""
      out.write(CLEAR)
    }
  }
}
