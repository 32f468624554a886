/**
 * `--ui` and `--ui-port` of `runner <file>` and `runner schedule`: the dashboard served beside the live run(s), on
 * 127.0.0.1 (RUNNER_UI_TOKEN, when set, is required by it). Kept apart from ui.ts so that a run without `--ui` loads
 * none of the dashboard.
 */
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import { InvalidOption } from "../../Errors.ts"
import { journalPath } from "./common.ts"
import type { Option } from "effect/Option"

export const flags = {
  ui: Flag.Boolean("ui").pipe(
    Flag.withDescription("serve the dashboard (runner ui) on 127.0.0.1 while running; its URL is printed on stderr"),
    Flag.withDefault(false)
  ),
  uiPort: Flag.Int("ui-port").pipe(Flag.withDescription("the dashboard's port with --ui (default 8080; 0: any free port)"), Flag.withDefault(8080))
}

/** Runs `effect` with the dashboard served beside it when `--ui` is given; the server stops when `effect` ends. */
export const withUi = <A, E, R>(
  input: { readonly ui: boolean; readonly uiPort: number; readonly journal: Option<string> },
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOption, R> => {
  if (!input.ui) return effect
  return Effect.gen(function*() {
    const file = journalPath(input.journal)
    if (file === "none") {
      return yield* new InvalidOption({ where: "--ui", reason: "--journal none keeps no journal, so there is nothing to show" })
    }
    const ui = yield* Effect.promise(() => import("./ui.ts"))
    yield* ui.checkBinding("127.0.0.1", input.uiPort, undefined)
    return yield* Effect.scoped(Effect.gen(function*() {
      yield* Effect.forkScoped(ui.serveBeside(file, input.uiPort))
      return yield* effect
    }))
  })
}
