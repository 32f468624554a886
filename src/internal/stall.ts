/**
 * What the unfinished runs of this process are waiting for, asked at one moment: when the process is about to exit
 * because nothing is left to do (no timer, no I/O, no runnable fiber) while the program has not finished. Then every
 * fiber waits for something nothing will ever give (a deadlock, a Deferred never completed), and without this the
 * process would exit 0 with its jobs never run and no summary. runMain prints `describe()` and exits 70.
 * Plain TypeScript (no Effect): runtime/Runtime.ts loads it before anything else.
 */

const sources = new Set<() => ReadonlyArray<string>>()

/** Adds a description of one run's unfinished work; returns the function that removes it. */
export const register = (describe: () => ReadonlyArray<string>): () => void => {
  sources.add(describe)
  return () => void sources.delete(describe)
}

/** The lines of every registered run. */
export const describe = (): ReadonlyArray<string> => [...sources].flatMap((source) => source())

/** The message printed when the process stalls. */
export const message = (): string => {
  const lines = describe()
  return [
    "runner: nothing can make progress: every job still going waits for something that nothing will give (a deadlock?)",
    ...(lines.length === 0 ? ["  (no run was going)"] : lines.map((line) => `  ${line}`)),
    "runner: exiting 70 with the run unfinished (runner <file> --resume continues it)"
  ].join("\n") + "\n"
}
