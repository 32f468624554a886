#!/usr/bin/env node
/** The `runner` entry point. */
import * as Effect from "effect/Effect"
import { main } from "./cli/main.ts"
import { runMain } from "./runtime/Runtime.ts"

runMain(main(process.argv.slice(2)), (program) => Effect.runFork(program))
