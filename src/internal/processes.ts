/**
 * The process groups of shell jobs beyond the life of one runner process. The journal keeps each running group (pid,
 * pgid, host and the leader's start time, which a recycled pid does not share), so that a resumed run ends what a
 * runner killed with `kill -9` left running before it runs the job again. Also the groups alive in this process, which
 * a second Ctrl-C kills at once.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"

/** A shell job's process group, as journaled. The group is the leader's (`setsid`): pgid = pid. */
export interface Group {
  readonly pid: number
  readonly pgid: number
  readonly host: string
  /**
   * Who the leader is beyond its pid: `<boot id>:<start time in clock ticks since boot>` (Linux, /proc/<pid>/stat
   * field 22). Undefined where the system does not tell (macOS): such a group is reported, never signalled.
   */
  readonly startTime: string | undefined
  /** When the runner started it (epoch ms). */
  readonly startedAt: number
}

/** How the runner stopped watching a group: it exited, or it gave up on it (still there after SIGKILL). */
export type Ended =
  | { readonly _tag: "Exited" }
  | { readonly _tag: "Abandoned"; readonly reason: string }

/** What the executor journals of the current job's groups; outside a run (a job tested alone) nothing is kept. */
export interface Tracker {
  readonly started: (group: Group) => Effect.Effect<void>
  readonly ended: (group: Group, how: Ended) => Effect.Effect<void>
}

export const CurrentTracker = Context.Reference<Tracker | undefined>("effect-runner/Processes/CurrentTracker", {
  defaultValue: () => undefined
})

let bootId: string | null | undefined

const readBootId = (): string | null => {
  if (bootId === undefined) {
    try {
      bootId = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    } catch {
      bootId = null
    }
  }
  return bootId
}

/** The identity of the process `pid` now (see `Group.startTime`), or undefined when there is none or it is unknown. */
export const startTimeOf = (pid: number): string | undefined => {
  const boot = readBootId()
  if (boot === null) return undefined
  let stat: string
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  return startTimeIn(stat, boot, undefined)
}

/** Field 22 (starttime) of a /proc/<pid>/stat, as `<boot id>:<ticks>`; undefined unless field 4 (ppid) is `parent`. */
const startTimeIn = (stat: string, boot: string, parent: number | undefined): string | undefined => {
  // The command name (field 2) is in parentheses and may hold spaces or parentheses itself: fields follow the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  if (parent !== undefined && Number(fields[1]) !== parent) return undefined
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  const ticks = fields[19]
  return ticks === undefined ? undefined : `${boot}:${ticks}`
}

/**
 * Whether a child's start time is read off the event loop. On Bun, yes: its spawn returns before the child's exec is
 * done, and the first read of /proc/<pid>/stat waits for the exec (0.58 ms against 0.016 ms for a second read), on the
 * runner's main thread, once a shell job. Node's spawn returns after the exec, and a read on libuv's thread pool makes
 * its spawns cost more (the fork of a process whose other threads are busy): +0.8-1.3 ms of CPU a job, measured.
 * Deno's reads stay as they were too, nothing measured says otherwise.
 */
const readsOffLoop = "Bun" in globalThis

/**
 * `startTimeOf` a child of this process just started; on Bun read off the event loop (`readsOffLoop`). The child may
 * be reaped while that read is under way, its pid free for another process: what is read counts only if its parent
 * is this process.
 */
export const startTimeOfChild = (pid: number): Effect.Effect<string | undefined> => {
  if (!readsOffLoop) return Effect.sync(() => startTimeOf(pid))
  return Effect.callback<string | undefined>((resume) => {
    const boot = readBootId()
    if (boot === null) return resume(Effect.succeed(undefined))
    fs.readFile(`/proc/${pid}/stat`, "utf8", (error, stat) =>
      resume(Effect.succeed(error === null ? startTimeIn(stat, boot, process.pid) : undefined)))
  })
}

let hostname: string | undefined

/** Makes the record of a group whose leader was just started. */
export const groupOf = (pid: number, now: number, startTime: string | undefined = startTimeOf(pid)): Group => ({
  pid,
  pgid: pid,
  host: hostname ??= os.hostname(),
  startTime,
  startedAt: now
})

/** `groupOf` a child of this process just started (`startTimeOfChild`). */
export const childGroupOf = (pid: number, now: number): Effect.Effect<Group> =>
  Effect.map(startTimeOfChild(pid), (startTime) => groupOf(pid, now, startTime))

// ---------------------------------------------------------------------------------------------------------------
// The groups alive in this process

const live = new Set<() => void>()

/** Registers a live group by its SIGKILL; returns the unregister. */
export const register = (kill: () => void): () => void => {
  live.add(kill)
  return () => void live.delete(kill)
}

/** SIGKILLs every live group of this process at once (a second Ctrl-C); returns how many there were. */
export const killAll = (): number => {
  const kills = [...live]
  for (const kill of kills) kill()
  return kills.length
}

// ---------------------------------------------------------------------------------------------------------------
// Groups left by an earlier runner process

const probe = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === "EPERM"
  }
}

/**
 * Whether anything in the group `pgid` is alive (EPERM: it is, but is someone else's). Zombies do not count: an
 * orphan that died waits for init to reap it, and some containers' init never does, while signal 0 still finds it.
 */
export const groupAlive = (pgid: number): boolean => {
  if (!probe(pgid)) return false
  if (readBootId() === null) return true
  let entries: Array<string>
  try {
    entries = fs.readdirSync("/proc")
  } catch {
    return true
  }
  for (const entry of entries) {
    const first = entry.charCodeAt(0)
    if (first < 48 || first > 57) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
    } catch {
      continue
    }
    // After the command name: state (field 3), ppid, pgrp (field 5).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3)
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true
  }
  return false
}

/** What a journaled group is now, seen from this host. */
export type Status =
  /** Another host's: only reported. */
  | "elsewhere"
  /** Nothing of it is alive (or the machine rebooted since). */
  | "gone"
  /** Its pid belongs to another process now (another start time): left alone. */
  | "reused"
  /** Something alive has its pgid, but its start time was not recorded (not Linux): only reported. */
  | "unverified"
  /** Alive: its leader with the recorded start time, or members of the group after the leader has exited. */
  | "alive"

export const statusOf = (group: Group): Status => {
  if (group.host !== os.hostname()) return "elsewhere"
  if (group.startTime === undefined) return groupAlive(group.pgid) ? "unverified" : "gone"
  const boot = readBootId()
  if (boot === null || !group.startTime.startsWith(`${boot}:`)) return "gone"
  const leader = startTimeOf(group.pgid)
  if (leader !== undefined && leader !== group.startTime) return "reused"
  // The leader is ours, or gone: the kernel gives no new process a pid that is still some group's id, and a new
  // group takes its creator's pid, so a group with this id is what is left of ours.
  return groupAlive(group.pgid) ? "alive" : "gone"
}

/** What `end` did to a live group. */
export type Outcome = "ended by SIGTERM" | "killed by SIGKILL" | "still alive after SIGKILL"

export interface EndLimits {
  /** How long the group has after SIGTERM before SIGKILL. */
  readonly graceMillis: number
  /** How long to wait for it to vanish after SIGKILL. */
  readonly killWaitMillis: number
}

const POLL_MILLIS = 10

const awaitGone = (pgid: number, millis: number): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    for (let waited = 0; waited < millis; waited += POLL_MILLIS) {
      if (!groupAlive(pgid)) return true
      yield* Effect.sleep(POLL_MILLIS)
    }
    return !groupAlive(pgid)
  })

const signal = (pgid: number, name: NodeJS.Signals): void => {
  try {
    process.kill(-pgid, name)
  } catch {
    // Gone meanwhile, or not ours to signal: the wait that follows says which.
  }
}

/** Ends a group found alive (`statusOf` said so): SIGTERM to the group, `graceMillis`, then SIGKILL. */
export const end = (group: Group, limits: EndLimits): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    signal(group.pgid, "SIGTERM")
    if (yield* awaitGone(group.pgid, limits.graceMillis)) return "ended by SIGTERM"
    signal(group.pgid, "SIGKILL")
    return (yield* awaitGone(group.pgid, limits.killWaitMillis)) ? "killed by SIGKILL" : "still alive after SIGKILL"
  })
