import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/** Tests that compare wall times: run after every other file, alone (project "timing"). */
const timing = ["test/ClusterDistribution.test.ts"]

export default defineConfig({
  resolve: {
    // In-process tests of task files and of the test kit import the package by name: its sources, as tsconfig's
    // `paths` say (spawned runners resolve it themselves).
    alias: [
      { find: /^effect-runner\/test$/, replacement: fileURLToPath(new URL("./src/test.ts", import.meta.url)) },
      { find: /^effect-runner$/, replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)) }
    ]
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Spawned-CLI tests are heavy on a 2-core machine; keep file parallelism modest.
    maxWorkers: 2,
    // The files of a worker share one process and its loaded modules: a fresh process per file cost each file about
    // 1.2 s of CPU importing Effect and the runner again (10 in-process files: 22.4 s CPU isolated, 10.7 s shared).
    // Tests that change the process's state (environment, working folder) put it back.
    isolate: false,
    projects: [
      { extends: true, test: { name: "suite", include: ["test/**/*.test.ts"], exclude: timing, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "timing", include: timing, sequence: { groupOrder: 1 } } }
    ]
  }
})
