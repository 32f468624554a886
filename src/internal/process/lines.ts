/**
 * UTF-8 decoding and line splitting of a command's output, as `Stream.decodeText` and `Stream.splitLines` do (\n, \r\n
 * and \r end a line; the last needs no newline), done on the chunks a reader already holds: two stream stages per
 * output cost a shell job more than the `true` it runs (bench/README.md "Spawners").
 */
export class LineReader {
  private decoder: InstanceType<typeof TextDecoder> | undefined = undefined
  private partial = ""
  private afterCR = false

  /** The lines that `chunks` complete. */
  read(chunks: ReadonlyArray<Uint8Array>): Array<string> {
    const lines: Array<string> = []
    this.decoder ??= new TextDecoder()
    for (const chunk of chunks) this.split(this.decoder.decode(chunk, { stream: true }), lines)
    return lines
  }

  /** The output has ended: what is left, as a last line. */
  end(): Array<string> {
    const lines: Array<string> = []
    if (this.decoder !== undefined) this.split(this.decoder.decode(), lines)
    if (this.partial.length > 0) lines.push(this.partial)
    this.partial = ""
    return lines
  }

  private split(text: string, lines: Array<string>): void {
    if (text.length === 0) return
    let from = 0
    // A \r ending the previous chunk ended its line; a \n starting this one belongs to it.
    if (this.afterCR && text.charCodeAt(0) === 10) from = 1
    this.afterCR = false
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (c !== 10 && c !== 13) continue
      lines.push(this.partial + text.substring(from, i))
      this.partial = ""
      if (c === 13) {
        if (i + 1 === text.length) this.afterCR = true
        else if (text.charCodeAt(i + 1) === 10) i++
      }
      from = i + 1
    }
    this.partial += text.substring(from)
  }
}
