/**
 * The status line under scrolling lines (a backfill's live view): lines are written above it, it is redrawn below each,
 * cut to the terminal's width, and cleared at the end so the terminal is left as plain lines.
 */
import { assert, describe, it } from "@effect/vitest"
import * as StatusLine from "../src/internal/reporter/StatusLine.ts"

const CLEAR = "\u001b[2K"

/** What a terminal shows after `text`: carriage returns and clear-line codes applied, one entry per line. */
const screen = (text: string): Array<string> => {
  const lines: Array<string> = [""]
  let column = 0
  for (let i = 0; i < text.length; i++) {
    if (text.startsWith(CLEAR, i)) {
      lines[lines.length - 1] = ""
      column = 0
      i += CLEAR.length - 1
    } else if (text[i] === "\r") column = 0
    else if (text[i] === "\n") {
      lines.push("")
      column = 0
    } else {
      const line = lines[lines.length - 1]!
      lines[lines.length - 1] = line.slice(0, column) + text[i] + line.slice(column + 1)
      column++
    }
  }
  return lines
}

describe("StatusLine", () => {
  it("keeps its text below the lines written above it, and leaves plain lines when cleared", () => {
    let written = ""
    const status = StatusLine.make({ write: (t) => void (written += t), isTTY: true, columns: 80 })
    status.output.write("slot 2026-01-01T02:00: run\n")
    status.set("backfill b: 0/3 slots done, 1 running")
    assert.deepStrictEqual(screen(written), ["slot 2026-01-01T02:00: run", "backfill b: 0/3 slots done, 1 running"])
    status.output.write("slot 2026-01-01T02:00: run r1 succeeded\nslot 2026-01-02T02:00: run\n")
    status.set("backfill b: 1/3 slots done, 1 running, ETA 2s")
    assert.deepStrictEqual(screen(written), [
      "slot 2026-01-01T02:00: run",
      "slot 2026-01-01T02:00: run r1 succeeded",
      "slot 2026-01-02T02:00: run",
      "backfill b: 1/3 slots done, 1 running, ETA 2s"
    ])
    status.clear()
    status.output.write("backfill b succeeded\n")
    assert.deepStrictEqual(screen(written).slice(-2), ["backfill b succeeded", ""])
  })

  it("cuts the status to the terminal's width (a wrapped line could not be cleared)", () => {
    let written = ""
    const status = StatusLine.make({ write: (t) => void (written += t), isTTY: true, columns: 30 })
    status.set("x".repeat(100))
    const [line] = screen(written)
    assert.strictEqual(line!.length, 29)
    assert.isTrue(line!.endsWith("…"))
  })
})
