/**
 * The files a cached job declares (`cache.files` globs), each with the sha256 of its content. Hashing every byte on
 * every run would dominate a cached run (10,000 files of 10 KB: ~100 MB), so a memo keyed by path keeps each file's
 * hash with its size, mtime (ns) and inode: a file whose three still match is not read again. Any doubt — a changed
 * stat, a file modified within the last two seconds (a write in the same mtime tick would not show) — reads it.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"

/** A declared file could not be read (it matched a glob, then could not be opened or read). */
export class FileUnreadable extends Schema.TaggedError<FileUnreadable>()("FileUnreadable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot read ${this.path}: ${this.reason}`
  }
}

/** What the memo knows of a file: the stat it was hashed at, and the hash. */
export interface Known {
  readonly size: number
  readonly mtimeNs: string
  readonly ino: string
  readonly sha256: string
}

/** File hashes kept between runs (the journal's `file_hashes` table, or memory in tests). Keyed by absolute path. */
export interface Memo {
  readonly get: (absolute: string) => Known | undefined
  readonly set: (absolute: string, known: Known) => void
}

export const memoryMemo = (): Memo & { readonly entries: Map<string, Known> } => {
  const entries = new Map<string, Known>()
  return { entries, get: (p) => entries.get(p), set: (p, k) => void entries.set(p, k) }
}

export interface Hashed {
  /** Paths relative to `cwd` (with `/`), sorted, each with its content's sha256. */
  readonly files: ReadonlyArray<readonly [path: string, sha256: string]>
  /** The globs that matched no file (the empty set is hashed; the caller warns once). */
  readonly unmatched: ReadonlyArray<string>
  /** How many files were read (not answered by the memo). */
  readonly read: number
}

const noFiles: Effect.Effect<Hashed> = Effect.succeed({ files: [], unmatched: [], read: 0 })

/** A file modified this recently may be modified again within the same mtime tick: never trusted to the memo. */
const SETTLE_NS = 2_000_000_000n
const CONCURRENCY = 32

/**
 * The files the globs match under `cwd` (node_modules only when a glob names it), hashed. Globbing and stat are
 * synchronous (measured: `fs.globSync` 3× faster than the async iterator over 10,000 files; one `statSync` per file
 * beats a promise per file); only the files the memo cannot answer are read, concurrently.
 */
export const hash = (cwd: string, globs: ReadonlyArray<string>, memo: Memo = memoryMemo()): Effect.Effect<Hashed, FileUnreadable> =>
  // `cache: true` declares no files: most cached jobs of a large DAG come here, so nothing is set up for them.
  globs.length === 0 ? noFiles : Effect.gen(function*() {
    const { files, toRead, unmatched } = yield* Effect.try({
      try: () => statAll(cwd, globs, memo),
      catch: (e) => e instanceof FileUnreadable ? e : unreadable(cwd)(e)
    })
    yield* Effect.forEach(toRead, ({ absolute, index, stat }) =>
      Effect.tryPromise({ try: () => fsp.readFile(absolute), catch: unreadable(absolute) }).pipe(
        Effect.map((bytes) => {
          const sha256 = crypto.createHash("sha256").update(bytes).digest("hex")
          files[index] = [files[index]![0], sha256]
          if (stat !== undefined) memo.set(absolute, { ...stat, sha256 })
        })
      ), { concurrency: CONCURRENCY, discard: true })
    return { files, unmatched, read: toRead.length }
  })

/** Each matched file with its memoised hash, or "" and a place in `toRead` when the memo cannot answer. */
const statAll = (cwd: string, globs: ReadonlyArray<string>, memo: Memo) => {
  const matched = expand(cwd, globs)
  // The file system's clock, not the fiber's: mtimes are wall-clock times, whatever clock a test runs on.
  const wallNs = BigInt(Date.now()) * 1_000_000n
  const files: Array<readonly [string, string]> = []
  const toRead: Array<{ readonly index: number; readonly absolute: string; readonly stat: Known | undefined }> = []
  for (const relative of matched.files) {
    const absolute = path.join(cwd, relative)
    let stat: fs.BigIntStats
    try {
      stat = fs.statSync(absolute, { bigint: true })
    } catch (cause) {
      throw unreadable(absolute)(cause)
    }
    const size = Number(stat.size)
    const mtimeNs = stat.mtimeNs.toString()
    const ino = stat.ino.toString()
    const known = memo.get(absolute)
    const settled = wallNs - stat.mtimeNs > SETTLE_NS
    if (known !== undefined && settled && known.size === size && known.mtimeNs === mtimeNs && known.ino === ino) {
      files.push([relative, known.sha256])
      continue
    }
    files.push([relative, ""])
    toRead.push({ index: files.length - 1, absolute, stat: settled ? { size, mtimeNs, ino, sha256: "" } : undefined })
  }
  return { files, toRead, unmatched: matched.unmatched }
}

const unreadable = (absolute: string) => (cause: unknown) =>
  new FileUnreadable({ path: absolute, reason: cause instanceof Error ? cause.message : String(cause) })

/** A segment with glob syntax (or an escape): the pattern is matched from the folder before it. */
const magic = /[*?[\]{}()!+@\\]/

/**
 * Where to glob a pattern from: the folder its leading plain segments name (`packages/a/src/**` → `packages/a/src`,
 * `**`), when that folder exists: `fs.globSync` from `cwd` costs more per pattern (measured: 100 one-package patterns
 * hashed with a warm memo 14–26 → 9–13 ms; the glob of `data/**` over 10,000 files 80 → 44–52 ms). The matches are
 * the same files; anything unusual (no plain prefix, no folder there) is globbed from `cwd` as written.
 */
const split = (cwd: string, pattern: string): { readonly base: string; readonly rest: string } => {
  const segments = pattern.split("/")
  let plain = 0
  while (plain < segments.length - 1 && !magic.test(segments[plain]!)) plain++
  const rest = segments.slice(plain).join("/")
  if (plain === 0 || rest === "") return { base: cwd, rest: pattern }
  const base = path.resolve(cwd, segments.slice(0, plain).join("/") || "/")
  try {
    if (fs.statSync(base).isDirectory()) return { base, rest }
  } catch {
    // No such folder: the pattern as written matches nothing either, and says so the usual way.
  }
  return { base: cwd, rest: pattern }
}

/**
 * The union of the globs' matches (regular files only), relative to `cwd` with `/`, sorted; and the globs that matched
 * none. What `hash` hashes, and what the preflight checks are readable.
 */
export const expand = (cwd: string, globs: ReadonlyArray<string>) => {
  const all = new Set<string>()
  const unmatched: Array<string> = []
  for (const pattern of globs) {
    const skipModules = !pattern.includes("node_modules")
    let count = 0
    const { base, rest } = split(cwd, pattern)
    const entries = fs.globSync(rest, {
      cwd: base,
      withFileTypes: true,
      exclude: (e) => skipModules && (typeof e === "string" ? path.basename(e) : e.name) === "node_modules"
    })
    // Entries come folder by folder: the relative prefix is computed again only when the folder changes.
    let folder: string | undefined
    let prefix = ""
    for (const entry of entries) {
      if (!entry.isFile()) continue
      count++
      if (entry.parentPath !== folder) {
        folder = entry.parentPath
        const relative = path.relative(cwd, folder).split(path.sep).join("/")
        prefix = relative === "" ? "" : relative + "/"
      }
      all.add(prefix + entry.name)
    }
    if (count === 0) unmatched.push(pattern)
  }
  return { files: [...all].sort(), unmatched }
}
