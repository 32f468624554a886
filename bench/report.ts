/**
 * bench/RESULTS.md from bench/results.json: the targets of issue 18 (and those of issue 6 it does not replace) with MET / MISSED and the measurement behind each
 * verdict, then one table per scenario (median and min–max of the runs, ratios to make -j8).
 * Run alone to re-render: node bench/report.ts [bench/results.json] [bench/RESULTS.md]
 */
import * as fs from "node:fs"
import * as path from "node:path"

export type Runtime = "node" | "bun" | "deno"

export interface ShellRow {
  readonly name: string
  readonly runtime?: Runtime
  readonly jobs: number
  readonly shape: string
  /** Wall time of each run, ms. */
  readonly samples: ReadonlyArray<number>
  readonly skipped?: string
}
export interface Verified {
  readonly name: string
  readonly shape: string
  readonly jobs: number
  readonly executed: number
}
interface Stats {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}
export interface Inprocess {
  readonly dags: ReadonlyArray<
    & { readonly jobs: number; readonly shape: string }
    & Record<"memory" | "normal" | "full", Stats & { readonly microsPerJob: number }>
    /** Effect alone forking and joining one fiber per job, 8 at once (older results lack it). */
    & { readonly effectFloor?: Stats & { readonly microsPerJob: number } }
  >
  readonly chain: {
    readonly jobs: number
    readonly microsPerJob: number
    readonly millis: Stats
    readonly fsyncFloorMicros: Stats
    readonly ratioToFloor: Stats
  }
}
export interface ColdRow {
  readonly name: string
  readonly command: string
  readonly samples: ReadonlyArray<number>
  /** Why a peer was not measured (not installed, ...): a visible line, not a silent gap. */
  readonly missing?: string
}
/** Where a hello run's start goes: the runner's start-up marks (RUNNER_DEBUG_START=1), ms since the runtime started. */
export interface StartupRow {
  readonly runtime: Runtime
  /** Each phase in order, with its time in each run. */
  readonly phases: ReadonlyArray<{ readonly phase: string; readonly samples: ReadonlyArray<number> }>
}
export interface ResumeRow {
  readonly runtime: Runtime
  readonly jobs: number
  /** Spawn of the resuming process to the first new job's start, ms. */
  readonly samples: ReadonlyArray<number>
  /** Spawn to the first job of a 1-job DAG, same flags, in the same round (older results lack it). */
  readonly startup?: ReadonlyArray<number>
  /**
   * Importing the task file alone minus importing a 1-job file, in the same round (bench/floor.ts import, no runner
   * CLI): what defining the jobs costs, the task file's own `Job.make` calls (older results lack it).
   */
  readonly define?: ReadonlyArray<number>
  readonly restored: ReadonlyArray<number>
}
export interface MemoryRow {
  readonly runtime: Runtime
  readonly jobs: number
  readonly heapUsedOne: number
  readonly heapUsedQueued: number
  readonly bytesPerQueuedJob: number
  readonly peakRssKiB: number
  /** The runner with a 1-job DAG, and the runtime having imported the task file only (floors; older results lack them). */
  readonly peakRssOneKiB?: number
  readonly peakRssFloorKiB?: number
  /** The runtime having only imported the task file of all the jobs (defined, nothing run; older results lack it). */
  readonly peakRssDefineKiB?: number
  /**
   * A plain Effect program running the same DAG, no runner (bench/floor.ts dag; on Node with 8 MiB semi-spaces, as the
   * bin sets them): the memory floor of a DAG of that size with Effect on that runtime (older results lack it).
   */
  readonly peakRssEffectDagKiB?: number
  /** The same DAG inside a plain effect/cli program that writes the least a durable journal does (floor.ts cli-dag-journal). */
  readonly peakRssCliJournalDagKiB?: number
  /** Each round's peak of the whole run; the figures above are the medians of the rounds (older results: one round). */
  readonly peakRssSamplesKiB?: ReadonlyArray<number>
  readonly rssHow: string
}
export interface SpawnRow {
  readonly runtime: Runtime
  readonly heapMiB: number
  readonly chain: number
  /** Chain time / chain length, ms, per run. */
  readonly samples: ReadonlyArray<number>
  readonly heapUsed: number
  readonly rss: number
}

/** Seconds over one run of bench/run.ts: the machine's busy CPU time, the benchmark's own (itself and its children), steal. */
export interface OtherWork {
  readonly wallSeconds: number
  readonly busySeconds: number
  readonly ownSeconds: number
  readonly stealSeconds: number
}

/** Cores' worth of CPU used on average over the run: by processes other than the benchmark, by steal, by the benchmark. */
export const otherCores = (w: OtherWork) => ({
  others: Math.max(0, w.busySeconds - w.ownSeconds) / w.wallSeconds,
  steal: w.stealSeconds / w.wallSeconds,
  own: w.ownSeconds / w.wallSeconds
})

export interface Results {
  date: string
  smoke: boolean
  machine: {
    cpus: number
    model: string
    memoryGiB: number
    kernel: string
    loadAverageStart: ReadonlyArray<number>
    loadAverageEnd?: ReadonlyArray<number>
    /** µs to first touch a fresh 4 KiB page (bench/run.ts `pageTouchMicros`); absent in results of before 2026-12-06. */
    pageTouchMicros?: number
    /** CPU the rest of the machine used while bench/run.ts ran (bench/run.ts `cpuSnapshot`); Linux only, absent before 2026-12-06. */
    otherWork?: OtherWork
  }
  versions: Record<string, string | undefined>
  config: Record<string, unknown>
  wallSeconds?: number
  /** When put together from partial runs: which scenarios come from which run (date, load average). */
  composedOf?: ReadonlyArray<{ readonly date: string; readonly scenarios: ReadonlyArray<string>; readonly loadAverageStart?: ReadonlyArray<number> }>
  scenarios: {
    shell?: { rows: ReadonlyArray<ShellRow>; verified: ReadonlyArray<Verified> }
    inprocess?: Partial<Record<Runtime, Inprocess>>
    cold?: ReadonlyArray<ColdRow>
    startup?: ReadonlyArray<StartupRow>
    resume?: ReadonlyArray<ResumeRow>
    memory?: ReadonlyArray<MemoryRow>
    spawn?: ReadonlyArray<SpawnRow>
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const digits = (x: number) => (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2)
const num = (x: number, d = digits(x)) => x.toLocaleString("en", { minimumFractionDigits: d, maximumFractionDigits: d })

/** Milliseconds, as s above 10 s. */
export const ms = (x: number) => (x >= 10_000 ? `${num(x / 1000, 1)} s` : `${num(x)} ms`)

const spread = (values: ReadonlyArray<number>, unit: (x: number) => string = ms) =>
  values.length === 0
    ? "—"
    : values.length === 1
    ? `${unit(values[0]!)} (1 run)`
    : `${unit(median(values))} (${unit(Math.min(...values))}–${unit(Math.max(...values))}, ${values.length} runs)`

const stat = (s: Stats, unit: (x: number) => string) =>
  s.runs <= 1 ? `${unit(s.median)} (1 run)` : `${unit(s.median)} (${unit(s.min)}–${unit(s.max)})`

const us = (x: number) => `${num(x)} µs`
const times = (x: number) => `${num(x, 2)}×`
const mib = (bytes: number) => `${num(bytes / 2 ** 20, 0)} MiB`
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) =>
  [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n")

// ---------------------------------------------------------------------------------------------------------------
// Targets

interface Verdict {
  readonly target: string
  readonly goal: string
  readonly measured: string
  readonly met: boolean | undefined
  /** For a miss: what the measurements say about why. */
  readonly why?: string
}

const runtimeName = { node: "Node", bun: "Bun", deno: "Deno" } as const
const bareCommand = { node: "node -e 0", bun: "bun -e 0", deno: "deno eval 0" } as const

/**
 * How much longer `samples` took than `base`: the median of the per-round differences when both were measured in the
 * same interleaved rounds (steadier on a busy machine), else the difference of the medians.
 */
const paired = (samples: ReadonlyArray<number>, base: ReadonlyArray<number>) =>
  samples.length === base.length && samples.length > 0
    ? median(samples.map((x, i) => x - base[i]!))
    : median(samples) - median(base)

const verdicts = (r: Results): ReadonlyArray<Verdict> => {
  const out: Array<Verdict> = []
  const { cold, inprocess, memory, resume, shell, spawn } = r.scenarios
  const coldOf = (runtime: Runtime, command: string) =>
    cold?.find((c) => c.name === `effect-runner (${runtime})` && c.command === command)
  const helloMs = (runtime: Runtime) => {
    const row = coldOf(runtime, "runner tasks/hello.ts")
    return row === undefined ? undefined : median(row.samples)
  }

  for (const [runtime, result] of Object.entries(inprocess ?? {}) as Array<[Runtime, Inprocess]>) {
    const dag = result.dags.filter((d) => d.shape === "layered").sort((a, b) => b.jobs - a.jobs)[0]
    if (dag === undefined) continue
    const label = `${num(dag.jobs, 0)} in-process jobs, 10 levels (${runtimeName[runtime]})`
    const full = dag.full.microsPerJob
    const memoryCost = dag.memory.microsPerJob
    out.push({
      target: `${label}, journal FULL`,
      goal: "≤ 50 µs per job",
      measured: us(full),
      met: full <= 50,
      why: `in-memory journal ${us(memoryCost)}/job, so the SQLite journal adds ${us(full - memoryCost)}/job (NORMAL: ${us(dag.normal.microsPerJob)})`
    })
    out.push({
      target: `${label}, in-memory journal`,
      goal: "≤ 10 µs per job",
      measured: us(memoryCost),
      met: memoryCost <= 10,
      why: `the executor's own cost per job (scheduling, events, Effect fibers); ${num(dag.jobs, 0)} jobs took ${ms(dag.memory.median)}` +
        (dag.effectFloor === undefined
          ? ""
          : `; Effect alone forking and joining ${num(dag.jobs, 0)} fibers that yield once, 8 at once (nothing else): ${us(dag.effectFloor.microsPerJob)}/job`)
    })
    const chain = result.chain
    out.push({
      target: `${num(chain.jobs, 0)}-job chain, journal FULL (${runtimeName[runtime]})`,
      goal: "≤ 1.5× (jobs × one fsync)",
      measured: `${times(chain.ratioToFloor.median)} (${us(chain.microsPerJob)}/job, floor ${us(chain.fsyncFloorMicros.median)})`,
      met: chain.ratioToFloor.median <= 1.5,
      why: `each job's success is committed (one fsync) before its dependent starts; per job ${us(chain.microsPerJob - chain.fsyncFloorMicros.median)} more than a bare one-row commit; the floor ranged ${us(chain.fsyncFloorMicros.min)}–${us(chain.fsyncFloorMicros.max)} between rounds`
    })
  }

  if (shell !== undefined) {
    const smallest = Math.min(...shell.rows.map((row) => row.jobs))
    const rowOf = (name: string, shape: string) =>
      shell.rows.find((row) => row.name === name && row.shape === shape && row.jobs === smallest && row.samples.length > 0)
    const make = rowOf("make -j8", "layered")
    for (const runtime of ["bun", "node", "deno"] as const) {
      const mine = rowOf(`effect-runner (${runtime})`, "layered")
      if (mine === undefined || make === undefined) continue
      const ratio = median(mine.samples) / median(make.samples)
      const hello = helloMs(runtime)
      const perJob = hello === undefined ? undefined : (median(mine.samples) - hello) / smallest
      const why = `make ${ms(median(make.samples))}; the runner ${ms(median(mine.samples))}` +
        (hello === undefined
          ? ""
          : `, of which cold start (hello) ${ms(hello)}: ${num(perJob!)} ms per job after start-up vs make's ${num(median(make.samples) / smallest)} ms`)
      const limit = runtime === "bun" ? 1.5 : 2
      const floor = rowOf(`${runtime} spawn floor`, "layered")
      const floorRatio = floor === undefined ? undefined : median(floor.samples) / median(make.samples)
      const group = rowOf(`${runtime} group spawn floor`, "layered")
      const groupRatio = group === undefined ? undefined : median(group.samples) / median(make.samples)
      const groupText = (group === undefined || floorRatio! > limit)
        ? ""
        : `; the same, each \`true\` in a process group of its own with its output piped and read (the least a runner that ` +
          `kills a job's whole tree and keeps its output must do${runtime === "deno" ? "; Deno: through `setsid`" : ""}) ` +
          `${ms(median(group.samples))} = ${times(groupRatio!)} make` +
          (groupRatio! > limit ? `: above the target by itself, so the target cannot be met on ${runtimeName[runtime]}` : "")
      const cliGroup = rowOf(`${runtime} cli group spawn floor`, "layered")
      const cliGroupRatio = cliGroup === undefined ? undefined : median(cliGroup.samples) / median(make.samples)
      const cliGroupText = (cliGroup === undefined || floorRatio! > limit || (groupRatio !== undefined && groupRatio > limit))
        ? ""
        : `; the same inside a plain effect/cli program (the runner's command line is effect/cli, and its start-up is ` +
          `in its time too) ${ms(median(cliGroup.samples))} = ${times(cliGroupRatio!)} make` +
          (cliGroupRatio! > limit ? `: above the target by itself, so the target cannot be met with effect/cli on ${runtimeName[runtime]}` : "")
      const journalFloor = rowOf(`${runtime} cli journal group spawn floor`, "layered")
      const journalRatio = journalFloor === undefined ? undefined : median(journalFloor.samples) / median(make.samples)
      const journalText = (journalFloor === undefined || cliGroupText === "" || cliGroupRatio! > limit)
        ? ""
        : `; the same with the least a durable journal writes (SQLite as the default journal, synchronous=FULL: a row ` +
          `at each job's start and end, one commit per turn of the event loop, no job waiting for one) ` +
          `${ms(median(journalFloor.samples))} = ${times(journalRatio!)} make` +
          (journalRatio! > limit
            ? `: above the target by itself, so the target cannot be met with effect/cli and the default journal on ${runtimeName[runtime]}`
            : "")
      out.push({
        target: `${num(smallest, 0)} shell jobs layered, c8, default journal (${runtimeName[runtime]})`,
        goal: `≤ ${limit}× make -j8`,
        measured: times(ratio),
        met: ratio <= limit,
        why: why + (floor === undefined
          ? ""
          : `; the runtime's floor (its native spawn of ${num(smallest, 0)} \`true\` at c8, from its own start, nothing else) ` +
            `${ms(median(floor.samples))} = ${times(floorRatio!)} make` +
            (floorRatio! > limit ? `: above the target by itself, so the target cannot be met on ${runtimeName[runtime]}` : "") +
            groupText + cliGroupText + journalText)
      })
      const just = rowOf("just --jobs 8", "layered")
      const justMissing = shell.rows.find((row) => row.name === "just --jobs 8" && row.skipped !== undefined)
      if (just !== undefined || justMissing !== undefined) {
        const theirs = just === undefined ? undefined : median(just.samples)
        out.push({
          target: `${num(smallest, 0)} shell jobs layered, c8 (${runtimeName[runtime]}) vs just --jobs 8`,
          goal: "faster than just",
          measured: theirs === undefined ? "just missing" : `${ms(median(mine.samples))} vs ${ms(theirs)}`,
          met: theirs === undefined ? undefined : median(mine.samples) < theirs,
          why: theirs === undefined
            ? `just: ${justMissing!.skipped}`
            : `${times(median(mine.samples) / theirs)} just` +
              (floor === undefined ? "" : `; the runtime's spawn floor alone is ${times(median(floor.samples) / theirs)} just`) +
              (group === undefined ? "" : `, in a process group with its output read ${times(median(group.samples) / theirs)} just`) +
              (cliGroup === undefined ? "" : `, the same inside a plain effect/cli program ${times(median(cliGroup.samples) / theirs)} just`) +
              (journalFloor === undefined ? "" : `, that program writing the least a durable journal does ${times(median(journalFloor.samples) / theirs)} just`) +
              ((floor !== undefined && median(floor.samples) > theirs) || (group !== undefined && median(group.samples) > theirs)
                ? `: the runtime alone is slower than just, so it cannot be beaten on ${runtimeName[runtime]}`
                : cliGroup !== undefined && median(cliGroup.samples) > theirs
                ? `: a plain effect/cli program alone is slower than just, so it cannot be beaten with effect/cli on ${runtimeName[runtime]}`
                : journalFloor !== undefined && median(journalFloor.samples) > theirs
                ? `: a plain effect/cli program that journals each job durably is slower than just (just keeps no record), so ` +
                  `it cannot be beaten with effect/cli and the default journal on ${runtimeName[runtime]}`
                : "")
        })
      }
      const peers = ["wireit (WIREIT_PARALLEL=8)", "turbo --concurrency=8", "concurrently -m 8"]
      const beaten: Array<string> = []
      const lost: Array<string> = []
      for (const peer of peers) {
        const shape = peer.startsWith("concurrently") ? "flat" : "layered"
        const theirs = rowOf(peer, shape)
        const ours = rowOf(`effect-runner (${runtime})`, shape)
        if (theirs === undefined || ours === undefined) continue
        const text = `${peer.split(" ")[0]} ${shape} ${ms(median(theirs.samples))} vs ${ms(median(ours.samples))}`
        ;(median(ours.samples) < median(theirs.samples) ? beaten : lost).push(text)
      }
      if (beaten.length + lost.length > 0) {
        out.push({
          target: `${num(smallest, 0)} shell jobs, c8 (${runtimeName[runtime]}) vs the other peers`,
          goal: "(for reference)",
          measured: lost.length === 0 ? `faster than all ${beaten.length}` : `slower than ${lost.map((t) => t.split(" ")[0]).join(", ")}`,
          met: undefined,
          why: [...lost.map((t) => `slower: ${t}`), ...beaten.map((t) => `faster: ${t}`)].join("; ")
        })
      }
    }
  }

  const bareOf = (runtime: Runtime) => cold?.find((c) => c.name === `${runtime} (bare)`)
  for (const runtime of ["node", "bun", "deno"] as const) {
    const bareRow = bareOf(runtime)
    if (bareRow === undefined) continue
    const bare = median(bareRow.samples)
    const floorRow = cold?.find((c) => c.name === `${runtime} (floor)`)
    const floor = floorRow === undefined ? undefined : paired(floorRow.samples, bareRow.samples)
    const effectRow = cold?.find((c) => c.name === `${runtime} (effect)`)
    const effect = effectRow === undefined ? undefined : paired(effectRow.samples, bareRow.samples)
    const cliRow = cold?.find((c) => c.name === `${runtime} (cli)`)
    const cli = cliRow === undefined ? undefined : paired(cliRow.samples, bareRow.samples)
    const floorText = (floor === undefined
      ? ""
      : `; importing hello.ts alone (Effect's modules and the runner's public ones, which every task file loads) takes ${ms(floor)} over the bare runtime`) +
      (effect === undefined
        ? ""
        : `; a plain Effect program that logs hello, no runner at all (bench/floor.ts effect), takes ${ms(effect)} over the bare runtime`) +
      (cli === undefined
        ? ""
        : `; a plain effect/cli program, one command with one flag that logs hello, no runner (bench/floor.ts cli), takes ${ms(cli)} over the bare runtime`)
    /**
     * Why a cold-start target cannot be met on this runtime, when a floor measured beside it is above it: Effect's own
     * start, else effect/cli's (every command line built on the stack's CLI pays it; the runner's is one).
     */
    const cannot = (limit: number): string | undefined =>
      effect !== undefined && effect > limit
        ? `Effect's own start alone is above the target, so it cannot be met with Effect on ${runtimeName[runtime]}`
        : cli !== undefined && cli > limit
        ? `a command line built on effect/cli alone is above the target, so it cannot be met with effect/cli (the stack's CLI, which parses the runner's command line) on ${runtimeName[runtime]}`
        : effect === undefined && cli === undefined && floor !== undefined && floor > limit
        ? `that floor alone is above the target, so it cannot be met with Effect on ${runtimeName[runtime]}`
        : undefined
    const check = (command: string, limit: number, floorCounts: boolean) => {
      const row = coldOf(runtime, command)
      if (row === undefined) return
      const over = paired(row.samples, bareRow.samples)
      const met = over <= limit
      out.push({
        target: `\`${command}\` minus the bare runtime (${runtimeName[runtime]})`,
        goal: `≤ ${limit} ms`,
        measured: `${ms(over)} (median of the rounds' differences; medians ${ms(median(row.samples))} and ${ms(bare)})`,
        met,
        why: `bare runtime: \`${bareCommand[runtime]}\` ${ms(bare)}` + (floorCounts ? floorText : "") +
          (!met && floorCounts && cannot(limit) !== undefined ? `: ${cannot(limit)}` : "") +
          (!met && floorCounts && cli !== undefined
            ? `; the runner takes ${ms(Math.abs(over - cli))} ${over >= cli ? "more" : "less"} than that effect/cli program`
            : "")
      })
    }
    check("runner tasks/hello.ts", 60, true)
    check("runner --version", 30, false)
    check("runner list tasks/hello.ts", 30, true)
  }

  for (const row of resume ?? []) {
    const hello = helloMs(row.runtime)
    const startup = row.startup !== undefined && row.startup.length > 0 ? row.startup : undefined
    const after = startup !== undefined ? paired(row.samples, startup) : hello === undefined ? undefined : median(row.samples) - hello
    out.push({
      target: `resume ${num(row.jobs, 0)}-job run killed at 50% (${runtimeName[row.runtime]})`,
      goal: "≤ 150 ms to the first new job after start-up",
      measured: after === undefined ? `${ms(median(row.samples))} with start-up` : ms(after),
      met: after === undefined ? undefined : after <= 150,
      why: `spawn of \`runner … --key\` to the first new job's start ${ms(median(row.samples))}; ${median(row.restored)} jobs restored; ` +
        (startup !== undefined
          ? `start-up = spawn to the first job of a 1-job DAG, same flags, in the same round (${ms(median(startup))}), subtracted round by round`
          : `start-up = the cold start of \`runner tasks/hello.ts\` (${ms(hello ?? 0)}), subtracted`) +
        (row.define === undefined || row.define.length === 0
          ? ": what is left is loading and defining the 10,000 jobs (the task file's own `Job.make` calls), planning, the journal and deciding what to rerun"
          : `: what is left is defining the ${num(row.jobs, 0)} jobs (importing the task file alone minus a 1-job file, same round: ` +
            `${ms(median(row.define))}), planning, the journal and deciding what to rerun` +
            (after !== undefined && median(row.define) > 150
              ? "; defining the jobs alone is above the target (the task file's `Job.make` calls: the runner's define.ts " +
                "builds each job and captures its call site, so this floor is the runner's API, not the runtime's)"
              : ""))
    })
  }

  for (const row of memory ?? []) {
    out.push({
      target: `${num(row.jobs, 0)}-job DAG, heap per queued job (${runtimeName[row.runtime]})`,
      goal: "≤ 3 KB",
      measured: `${num(row.bytesPerQueuedJob, 0)} B`,
      met: row.bytesPerQueuedJob <= 3000,
      why: `heap used at the first job's start after a forced GC: ${mib(row.heapUsedQueued)} with ${num(row.jobs, 0)} jobs, ${mib(row.heapUsedOne)} with 1`
    })
    out.push({
      target: `${num(row.jobs, 0)}-job DAG, peak RSS (${runtimeName[row.runtime]})`,
      goal: "≤ 150 MB",
      measured: `${num(row.peakRssKiB * 1024 / 1e6, 0)} MB`,
      met: row.peakRssKiB * 1024 <= 150e6,
      why: `whole run with the default journal (FULL), ${row.rssHow}` +
        (row.peakRssSamplesKiB === undefined || row.peakRssSamplesKiB.length < 2
          ? ""
          : `, the median of ${row.peakRssSamplesKiB.length} rounds (${row.peakRssSamplesKiB.map((k) => num(k * 1024 / 1e6, 0)).join(", ")} MB), each figure here the median of its rounds`) +
        (row.peakRssOneKiB === undefined ? "" : `; the runner with a 1-job DAG: ${num(row.peakRssOneKiB * 1024 / 1e6, 0)} MB`) +
        (row.peakRssFloorKiB === undefined
          ? ""
          : `; the runtime having only imported the task file: ${num(row.peakRssFloorKiB * 1024 / 1e6, 0)} MB` +
            (row.peakRssFloorKiB * 1024 > 150e6 ? " (above the target by itself)" : "")) +
        (row.peakRssDefineKiB === undefined
          ? ""
          : `; the runtime having only imported the ${num(row.jobs, 0)}-job task file (the jobs defined, nothing run): ` +
            `${num(row.peakRssDefineKiB * 1024 / 1e6, 0)} MB` + (row.peakRssDefineKiB * 1024 > 150e6 ? " (above the target by itself)" : "")) +
        (row.peakRssEffectDagKiB === undefined
          ? ""
          : `; a plain Effect program running the same DAG, no runner (bench/floor.ts dag${row.runtime === "node" ? ", 8 MiB semi-spaces as the bin sets" : ""}): ` +
            `${num(row.peakRssEffectDagKiB * 1024 / 1e6, 0)} MB` +
            (row.peakRssEffectDagKiB * 1024 > 150e6 ? ": above the target by itself, so it cannot be met with Effect on this runtime" : "")) +
        (row.peakRssCliJournalDagKiB === undefined
          ? ""
          : `; the same DAG inside a plain effect/cli program, each job's start and end written to SQLite as the least durable ` +
            `journal does (bench/floor.ts cli-dag-journal): ${num(row.peakRssCliJournalDagKiB * 1024 / 1e6, 0)} MB` +
            (row.peakRssCliJournalDagKiB * 1024 > 150e6 && (row.peakRssEffectDagKiB ?? 0) * 1024 <= 150e6
              ? ": above the target by itself, so it cannot be met with effect/cli and a durable journal on this runtime"
              : ""))
    })
  }

  for (const runtime of ["node", "bun", "deno"] as const) {
    const rows = (spawn ?? []).filter((s) => s.runtime === runtime).sort((a, b) => a.heapMiB - b.heapMiB)
    if (rows.length < 3) continue
    const [none, mid, big] = rows as [SpawnRow, SpawnRow, SpawnRow]
    const ratio = median(big.samples) / median(mid.samples)
    out.push({
      target: `shell job spawn with ${big.heapMiB} MiB heap held (${runtimeName[runtime]})`,
      goal: `≤ 2× the latency at ${mid.heapMiB} MiB`,
      measured: `${times(ratio)} (${num(median(big.samples))} vs ${num(median(mid.samples))} ms per job)`,
      met: ratio <= 2,
      why: `no heap: ${num(median(none.samples))} ms per chained job; heap used ${mib(mid.heapUsed)} / ${mib(big.heapUsed)}`
    })
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// The document

export const markdown = (r: Results): string => {
  const parts: Array<string> = []
  const v = r.versions
  const other = r.machine.otherWork === undefined ? undefined : otherCores(r.machine.otherWork)
  parts.push(
    "# Benchmark results",
    "",
    r.smoke
      ? "**SMOKE RUN** (`--smoke`: tiny sizes, one run, make as the only peer). These figures test the harness and mean nothing."
      : "Produced by `npm run bench` (bench/run.ts); method and caveats in [README.md](README.md), every sample in [results.json](results.json).",
    "",
    `- Date: ${r.date}; ${r.wallSeconds === undefined ? "" : `the whole benchmark took ${num(r.wallSeconds / 60, 1)} min`}`,
    ...(r.composedOf === undefined ? [] : [
      `- **Put together from ${r.composedOf.length} partial runs** of bench/run.ts, one after another (not one \`npm run bench\`): ` +
      r.composedOf.map((part) =>
        `${part.scenarios.join(", ")} from the run of ${part.date}` +
        (part.loadAverageStart === undefined ? "" : ` (1-minute load ${num(part.loadAverageStart[0] ?? 0, 1)} at its start)`)
      ).join("; ") + "; scenario 3 (the chain) comes with 2; 7–9 were not run"
    ]),
    `- Machine: ${r.machine.cpus} × ${r.machine.model}, ${r.machine.memoryGiB} GiB, ${r.machine.kernel}; load average (1/5/15 min) ` +
      `${r.machine.loadAverageStart.map((x) => num(x, 2)).join(" / ")} at the start, ${(r.machine.loadAverageEnd ?? []).map((x) => num(x, 2)).join(" / ")} at the end` +
      (r.machine.pageTouchMicros === undefined ? "" : `; first touch of a fresh 4 KiB page ${num(r.machine.pageTouchMicros, 2)} µs` +
        (r.machine.pageTouchMicros > 2
          ? ` (**slow**: a process that touches 11 MB, as \`node -e 0\` does, spends ~${num(r.machine.pageTouchMicros * 2_750 / 1000, 0)} ms ` +
            "on that alone; start-up and memory-heavy figures are slower than on a machine that pays under 1 µs, and not comparable with them)"
          : "")) +
      (other === undefined ? "" : `; while it ran, other processes used ${num(other.others, 2)} cores on average and the hypervisor ` +
        `${num(other.steal, 2)} (steal; the benchmark's own processes used ${num(other.own, 2)})`),
    `- Runtimes: Node ${v["node"]}, Bun ${v["bun"]}, ${v["deno"]}. Peers: ${v["make"]} (Debian package), just ${v["just"]?.replace(/^just /, "") ?? "**not installed**"} ` +
      `(npm rust-just-linux-x64), Wireit ${v["wireit"] ?? "not installed"} (npm, run through npm ${v["npm"]}), concurrently ${v["concurrently"] ?? "not installed"} (npm), ` +
      `go-task ${v["task"] ?? "not installed (see below)"}, turbo ${v["turbo"] ?? "**not installed**"} (npm).`,
    ""
  )
  // Busy with other work: other processes' CPU over the run where it was measured; else (older results) the load
  // average, which at the end counts the benchmark's own processes too.
  const loadStart = r.machine.loadAverageStart[0] ?? 0
  const loadBusiest = Math.max(loadStart, r.machine.loadAverageEnd?.[0] ?? 0)
  const busy = other !== undefined
    ? other.others > 0.2 || other.steal > 0.1 || loadStart > r.machine.cpus
      ? `other processes used ${num(other.others, 2)} of the ${r.machine.cpus} cores on average while it ran, the hypervisor ` +
        `took ${num(other.steal, 2)} (steal), and the 1-minute load average was ${num(loadStart, 1)} at its start`
      : undefined
    : loadBusiest > r.machine.cpus
    ? `1-minute load average up to ${num(loadBusiest, 1)} on ${r.machine.cpus} cores`
    : undefined
  if (!r.smoke && busy !== undefined) {
    parts.push(
      `**Preliminary:** the machine was busy with other work during this run (${busy}), so every figure is noisy and ` +
        "most are slower than on a quiet machine; ratios measured side by side in the same rounds are the more meaningful. " +
        "Re-run `npm run bench` on a quiet machine for the figures to keep.",
      ""
    )
  }

  const all = verdicts(r)
  parts.push("## Targets", "", table(
    ["target", "goal", "measured (median)", "verdict", "what the measurements say"],
    all.map((t) => [t.target, t.goal, t.measured, t.met === undefined ? "—" : t.met ? "MET" : "**MISSED**", t.why ?? ""])
  ), "", "Why each missed target stays missed, with the profiles and side measurements behind it (for example the " +
    "runtime's spawn floor), and the levers tried and dropped: [README.md, Issue 18](README.md#issue-18-performance-second-round).", "")

  const { cold, inprocess, memory, resume, shell, spawn } = r.scenarios
  if (shell !== undefined) {
    parts.push(
      "## 1. Shell jobs (`true`), concurrency 8",
      "",
      "Wall time from spawn to exit of each runner on the same generated DAG (bench/generate.ts): flat, or 10 levels with each job " +
        "needing 2–3 jobs of the level before (fixed seed). effect-runner runs `runner runner.ts --concurrency 8` through its bin " +
        "with its default journal (SQLite, synchronous=FULL) in a fresh folder, so its cold start is included, as are npm's for " +
        "Wireit. Ratios are to make -j8's median of the same workload.",
      ""
    )
    for (const jobs of [...new Set(shell.rows.map((row) => row.jobs))]) {
      const names = [...new Set(shell.rows.filter((row) => row.jobs === jobs).map((row) => row.name))]
      const cell = (name: string, shape: string) => {
        const row = shell.rows.find((x) => x.name === name && x.shape === shape && x.jobs === jobs)
        const make = shell.rows.find((x) => x.name === "make -j8" && x.shape === shape && x.jobs === jobs)
        if (row === undefined || row.samples.length === 0) return ["—", "—"]
        return [spread(row.samples), make === undefined || make.samples.length === 0 ? "—" : times(median(row.samples) / median(make.samples))]
      }
      parts.push(`### ${num(jobs, 0)} jobs`, "", table(
        ["runner", "flat", "× make", "layered", "× make"],
        names.map((name) => [name, ...cell(name, "flat"), ...cell(name, "layered")])
      ), "")
      const notes = shell.rows.filter((row) => row.jobs === jobs && row.skipped !== undefined)
      const seen = new Set<string>()
      for (const row of notes) {
        const text = `- ${row.name}${row.skipped!.startsWith("flat only") ? ` (${row.shape})` : ""}: ${row.skipped}`
        if (!seen.has(text)) parts.push(text)
        seen.add(text)
      }
      if (notes.length > 0) parts.push("")
    }
    parts.push(
      "Every job really ran: each runner once ran a layered DAG (flat for concurrently) whose jobs append a line to a file " +
        "instead of `true`, in a fresh folder with caches off (Wireit: no `files`, WIREIT_CACHE=none):",
      "",
      table(["runner", "shape", "jobs", "executed"], shell.verified.map((x) => [x.name, x.shape, String(x.jobs), String(x.executed)])),
      ""
    )
  }

  if (inprocess !== undefined) {
    parts.push(
      "## 2. In-process no-op jobs, concurrency 8",
      "",
      "`Executor.run` inside each runtime (bench/inprocess.ts): planning excluded, a reporter that discards; the journal in " +
        "memory (what `--journal none` uses), SQLite at synchronous=NORMAL and at FULL (a fresh file per round). Median " +
        "µs per job (the run's wall time / jobs), min–max of the runs in ms. The floor, in the same rounds: Effect " +
        "itself forking one fiber per job that yields once and joining it, 8 at once, nothing else.",
      ""
    )
    const rows: Array<Array<string>> = []
    for (const [runtime, result] of Object.entries(inprocess) as Array<[Runtime, Inprocess]>) {
      for (const d of result.dags) {
        rows.push([
          runtimeName[runtime],
          num(d.jobs, 0),
          d.shape,
          ...(["memory", "normal", "full"] as const).map((k) => `${us(d[k].microsPerJob)} (${stat(d[k], ms)})`),
          d.effectFloor === undefined ? "—" : us(d.effectFloor.microsPerJob)
        ])
      }
    }
    parts.push(table(["runtime", "jobs", "shape", "journal in memory", "SQLite NORMAL", "SQLite FULL", "Effect alone (floor)"], rows), "")
    parts.push(
      "## 3. Chain of jobs, journal FULL, against the fsync floor",
      "",
      "Each job needs the one before, so every success must be durable before the next job starts. The floor is the median " +
        "time of as many one-row `INSERT` transactions (WAL, synchronous=FULL, node:sqlite) measured just before each round; " +
        "the ratio is each round's chain time / (jobs × that round's floor).",
      "",
      table(
        ["runtime", "jobs", "chain µs/job", "fsync floor µs (min–max)", "ratio median (min–max)"],
        (Object.entries(inprocess) as Array<[Runtime, Inprocess]>).map(([runtime, result]) => [
          runtimeName[runtime],
          num(result.chain.jobs, 0),
          us(result.chain.microsPerJob),
          stat(result.chain.fsyncFloorMicros, us),
          stat(result.chain.ratioToFloor, times)
        ])
      ),
      ""
    )
  }

  if (cold !== undefined) {
    parts.push(
      "## 4. Cold start",
      "",
      "Spawn to exit, after one warm-up run (the OS file cache is warm), in a temp folder (the runner's journal is created " +
        "there by the warm-up). Peers run one `echo hello` job, for reference. The floors in the same rounds: each " +
        "runtime's bare start (`node -e 0`, `bun -e 0`, `deno eval 0`), bench/floor.ts running a plain Effect program that " +
        "logs hello (`Effect.runPromise(Effect.log(\"hello\"))`, no runner) and bench/floor.ts importing tasks/hello.ts and " +
        "nothing else (on Node both through the same compile cache as the bin).",
      "",
      table(["runner", "command", "median (min–max)"], cold.map((c) => [c.name, `\`${c.command}\``, c.missing === undefined ? spread(c.samples) : `— (${c.missing})`])),
      ""
    )
    const startup = r.scenarios.startup ?? []
    if (startup.length > 0) {
      const phases = startup[0]!.phases.map((p) => p.phase)
      const at = (row: StartupRow, phase: string) => row.phases.find((p) => p.phase === phase)?.samples ?? []
      parts.push(
        "### Where the start of `runner tasks/hello.ts` goes",
        "",
        "The runner's own start-up marks (`RUNNER_DEBUG_START=1` prints each phase on stderr with the time since the " +
          "runtime started), medians of the same number of runs, after the rounds above. Each cell: the phase's end, " +
          "and in brackets the time since the phase before. The first row is the runtime's own boot (on Deno the clock " +
          "starts once the runtime is up, so it shows ~0); the job itself starts right after the last. The task file is " +
          "in the clone, a git repository: the audit runs `git status` there.",
        "",
        table(
          ["phase", ...startup.map((row) => runtimeName[row.runtime])],
          phases.map((phase, i) => [
            phase,
            ...startup.map((row) => {
              const end = median(at(row, phase))
              return i === 0 ? ms(end) : `${ms(end)} (+${ms(end - median(at(row, phases[i - 1]!)))})`
            })
          ])
        ),
        ""
      )
    }
  }

  if (resume !== undefined) {
    parts.push(
      "## 5. Resume of a run killed at 50%",
      "",
      "A layered DAG of in-process no-op jobs runs with `--key bench` until the first job of level 5 starts and SIGKILLs the " +
        "runner; then the same command line runs again (it resumes the key's run). Measured: from the spawn of the resuming " +
        "process to the first job it starts (the job writes the time), so the runtime's cold start is included.",
      "",
      table(
        ["runtime", "jobs", "spawn → first new job", "jobs restored"],
        resume.map((row) => [runtimeName[row.runtime], num(row.jobs, 0), spread(row.samples), row.restored.join(", ")])
      ),
      ""
    )
  }

  if (memory !== undefined) {
    parts.push(
      "## 6. Memory of a large DAG",
      "",
      "Heap per queued job: the first job to start (every other job still queued) forces a full GC and reads `heapUsed`; " +
        "(that with the layered DAG − that with a 1-job DAG) / (jobs − 1). Peak RSS: a whole run of the same DAG with the " +
        "default journal, measured by GNU time.",
      "",
      table(
        ["runtime", "jobs", "heap, 1 job", "heap, all queued", "per queued job", "peak RSS of the run"],
        memory.map((row) => [
          runtimeName[row.runtime],
          num(row.jobs, 0),
          mib(row.heapUsedOne),
          mib(row.heapUsedQueued),
          `${num(row.bytesPerQueuedJob, 0)} B`,
          `${num(row.peakRssKiB * 1024 / 1e6, 0)} MB (${mib(row.peakRssKiB * 1024)})`
        ])
      ),
      ""
    )
  }

  if (spawn !== undefined) {
    parts.push(
      "## 7. Shell job spawn under a large heap",
      "",
      "A first job allocates and keeps live heap (arrays of doubles in a module-level variable), then a chain of shell `true` " +
        "jobs runs (`--journal none`, so no fsync between them): chain time / chain length, per run. Node gets " +
        "`NODE_OPTIONS=--max-old-space-size=4096`, Deno `DENO_V8_FLAGS=--max-old-space-size=4096`.",
      "",
      table(
        ["runtime", "heap held", "ms per chained job, median (min–max)", "over no heap", "heap used", "RSS"],
        spawn.map((row) => {
          const none = spawn.find((x) => x.runtime === row.runtime && x.heapMiB === 0)
          return [
            runtimeName[row.runtime],
            `${num(row.heapMiB, 0)} MiB`,
            spread(row.samples, (x) => num(x)),
            none === undefined ? "—" : `${num(median(row.samples) - median(none.samples))} ms`,
            mib(row.heapUsed),
            mib(row.rss)
          ]
        })
      ),
      ""
    )
  }
  return parts.join("\n")
}

if (import.meta.main) {
  const input = process.argv[2] ?? path.join(import.meta.dirname, "results.json")
  const output = process.argv[3] ?? path.join(path.dirname(input), "RESULTS.md")
  fs.writeFileSync(output, markdown(JSON.parse(fs.readFileSync(input, "utf8"))))
}
