/** Environment variables set for a while in this process (the test files of a vitest worker share it: isolate off). */

/** Sets `vars` in this process's environment; returns how to put back what each was before (unset if it was). */
export const setEnv = (vars: Record<string, string>): (() => void) => {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const)
  Object.assign(process.env, vars)
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}
