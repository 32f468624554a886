// The tutorial's nightly backup: copy a directory into a dated folder, archive it with tar, prune old backups.
// Run: node_modules/.bin/node src/bin.ts tasks/nightly.ts
// Settings: RUNNER_BACKUP_SRC (.runner/data), RUNNER_BACKUP_DEST (.runner/backups), RUNNER_BACKUP_KEEP_DAYS (30).
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Option from "effect/Option"
import * as Path from "effect/Path"
import { Dag, Job, Partition } from "effect-runner"

const DEMO_SRC = ".runner/data"
const src = process.env.RUNNER_BACKUP_SRC || DEMO_SRC
const dest = process.env.RUNNER_BACKUP_DEST || ".runner/backups"
const keepDays = Number(process.env.RUNNER_BACKUP_KEEP_DAYS || 30)
if (!Number.isInteger(keepDays) || keepDays < 1) {
  throw new Error(`RUNNER_BACKUP_KEEP_DAYS must be a whole number >= 1, got "${process.env.RUNNER_BACKUP_KEEP_DAYS}"`)
}

class SourceMissing extends Data.TaggedError("SourceMissing")<{ readonly dir: string }> {
  override get message() {
    return `the source ${this.dir} (RUNNER_BACKUP_SRC) does not exist`
  }
}

/** Checks the source. Only the demo default is seeded: a missing real source must fail, not be backed up as samples. */
export const source = Job.make("source", {
  description: `check ${src} exists (the demo default is seeded)`,
  timeout: "30 seconds",
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      if (yield* fs.exists(src)) return { dir: src }
      if (src !== DEMO_SRC) return yield* new SourceMissing({ dir: src })
      yield* fs.makeDirectory(path.join(src, "reports"), { recursive: true })
      yield* fs.writeFileString(path.join(src, "users.csv"), "id,name\n1,ada\n2,grace\n")
      yield* fs.writeFileString(path.join(src, "reports", "summary.txt"), "all systems nominal\n")
      yield* Effect.log(`seeded demo data in ${src}`)
      return { dir: src }
    })
})

/**
 * The day a run backs up: its slot's day when it runs for a slot (`runner schedule`, a `runner cron` line, `--key
 * 2026-01-02T02:00`, `runner backfill`), else today's local date (`runner tasks/nightly.ts` by hand). A slot's key is
 * its wall-clock time in the schedule's zone, so its first 10 characters are that day.
 */
const backupDate = Effect.gen(function*() {
  const slot = yield* Partition.option
  if (Option.isSome(slot)) return slot.value.key.slice(0, 10)
  return DateTime.formatIsoDate(DateTime.setZone(yield* DateTime.now, DateTime.zoneMakeLocal())) // like `date +%F`
})

/**
 * Copies the source to <dest>/YYYY-MM-DD, the day of the run's slot. A re-run of the same slot (or the same day, by
 * hand) replaces that day's copy; a backfilled slot copies the source as it is now under the slot's day.
 */
export const snapshot = Job.make("snapshot", {
  needs: { source },
  description: `copy the source to ${dest}/YYYY-MM-DD (the slot's day)`,
  retry: { times: 2, delay: "1 second" },
  timeout: "10 minutes",
  run: ({ source }) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const date = yield* backupDate
      const dir = path.join(dest, date)
      yield* fs.remove(dir, { recursive: true, force: true })
      yield* fs.makeDirectory(dest, { recursive: true })
      yield* fs.copy(source.dir, dir)
      return { date, dir }
    })
})

/** `tar -czf YYYY-MM-DD.tar.gz YYYY-MM-DD` in the backup folder: an argv built from the snapshot's output, no shell. */
export const archive = Job.command(
  "archive",
  ({ snapshot }) => Job.cmd`tar -czf ${snapshot.date}.tar.gz ${snapshot.date}`,
  {
    needs: { snapshot },
    cwd: dest,
    description: `archive the snapshot to ${dest}/YYYY-MM-DD.tar.gz`,
    retry: { times: 2, delay: "1 second" },
    timeout: "30 minutes"
  }
)

/** Deletes dated folders and archives last modified more than `keepDays` days ago. A failure here fails no backup. */
export const prune = Job.make("prune", {
  needs: { archive },
  description: `delete backups in ${dest} older than ${keepDays} days`,
  critical: false,
  timeout: "5 minutes",
  run: () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      const cutoff = (yield* Clock.currentTimeMillis) - keepDays * 24 * 60 * 60 * 1000
      const removed: Array<string> = []
      for (const name of yield* fs.glob("????-??-??*", { root: dest })) {
        const file = path.join(dest, name)
        const { mtime } = yield* fs.stat(file)
        if (Option.exists(mtime, (time) => time.getTime() < cutoff)) {
          yield* fs.remove(file, { recursive: true })
          removed.push(name)
        }
      }
      yield* Effect.log(removed.length === 0 ? "nothing to prune" : `pruned ${removed.join(", ")}`)
      return { removed }
    })
})

// `runner schedule tasks/nightly.ts` runs it at 02:00 every day; `runner cron tasks/nightly.ts` prints the crontab line;
// `runner backfill tasks/nightly.ts --from 2026-01-01 --to 2026-01-08` runs the slots of that week not yet backed up.
export default Dag.make("nightly", [source, snapshot, archive, prune], { schedule: "0 2 * * *", catchUp: "latest" })
