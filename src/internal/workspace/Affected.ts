/** `--affected`: the packages whose files changed since a git base, and the packages that depend on them. */
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { spawnSync } from "node:child_process"
import * as render from "../render.ts"
import * as Discovery from "./Discovery.ts"
import { AffectedUnavailable } from "../../Errors.ts"

/** What `--affected` found. */
export interface Affected {
  readonly base: string
  readonly head: string
  /** The packages with changed files, and every package that depends on them. */
  readonly packages: ReadonlySet<string>
  /** The packages whose own files changed. */
  readonly changed: ReadonlyArray<string>
  /** How many changed files lie outside every package (they select nothing). */
  readonly outside: number
}

/**
 * The packages with files changed between `base` and `head` (default: the working tree, uncommitted and untracked
 * files included) and every package depending on them. Default base: the merge base of HEAD with the default
 * branch (origin/HEAD, else main, else master), else HEAD^. Fails when git cannot answer; never guesses.
 */
export const affected = (
  workspace: Discovery.Workspace,
  options: { readonly base?: string | undefined; readonly head?: string | undefined } = {}
): Effect.Effect<Affected, AffectedUnavailable> =>
  Effect.suspend(() => {
    const git = (...args: ReadonlyArray<string>) => {
      const result = spawnSync("git", ["-C", workspace.root, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
      if (result.error !== undefined) return { ok: false, out: "", err: result.error.message } as const
      return { ok: result.status === 0, out: result.stdout.trim(), err: result.stderr.trim() } as const
    }
    const fail = (reason: string) => Effect.fail(new AffectedUnavailable({ reason }))
    const top = git("rev-parse", "--show-toplevel")
    if (!top.ok) return fail(`${workspace.root} is not in a git repository (${render.firstLine(top.err) || "git failed"})`)
    const commit = (ref: string) => git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`)
    if (options.head !== undefined && !commit(options.head).ok) return fail(`unknown ref "${options.head}" (--head)`)
    let base = options.base
    if (base !== undefined) {
      if (!commit(base).ok) return fail(`unknown ref "${base}" (--base)`)
    } else {
      if (git("rev-parse", "--is-shallow-repository").out === "true") {
        return fail("this is a shallow clone, so the merge base with the default branch cannot be trusted " +
          "(fetch more history, e.g. `git fetch --unshallow`, or pass --base REF)")
      }
      const origin = git("symbolic-ref", "--quiet", "refs/remotes/origin/HEAD")
      const branch = [origin.ok ? origin.out : undefined, "main", "master"].find((ref) => ref !== undefined && commit(ref).ok)
      const head = options.head ?? "HEAD"
      if (branch !== undefined) {
        const mergeBase = git("merge-base", branch, head)
        if (!mergeBase.ok) return fail(`no merge base between ${branch} and ${head}`)
        base = mergeBase.out
      } else {
        if (!commit(`${head}^`).ok) return fail(`no default branch (origin/HEAD, main, master) and ${head} has no parent commit to compare with`)
        base = `${head}^`
      }
    }
    const diff = options.head === undefined ? git("diff", "--name-only", "-z", base) : git("diff", "--name-only", "-z", base, options.head)
    if (!diff.ok) return fail(`git diff failed: ${render.firstLine(diff.err)}`)
    const untracked = options.head === undefined ? git("ls-files", "--others", "--exclude-standard", "--full-name", "-z") : undefined
    // NUL-separated: file names are given as they are (no quoting of unusual characters).
    const files = [...diff.out.split("\0"), ...(untracked?.out.split("\0") ?? [])].filter((f) => f !== "")
    const toplevel = fs.realpathSync(top.out)
    const byDepth = [...workspace.packages].sort((a, b) => b.dir.length - a.dir.length)
    const changed = new Set<string>()
    let outside = 0
    for (const file of files) {
      const absolute = path.join(toplevel, file)
      const owner = byDepth.find((p) => absolute.startsWith(p.dir + path.sep))
      if (owner === undefined) outside++
      else changed.add(owner.name)
    }
    const changedNames = workspace.packages.map((p) => p.name).filter((name) => changed.has(name))
    const packages = new Set([...changedNames, ...Discovery.closure(workspace, changedNames, "dependents")])
    return Effect.succeed({ base, head: options.head ?? "the working tree", packages, changed: changedNames, outside })
  })

