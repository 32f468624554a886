/** Notifications of how runs ended: a webhook (JSON or Slack) and a command with the summary on stdin. (Being built.) */
import * as Effect from "effect/Effect"
import type { InvalidOption } from "./Errors.ts"
import type * as Observer from "./Observer.ts"

export interface Options {
  /** `--notify-url URL`. */
  readonly url: string | undefined
  readonly format: "json" | "slack"
  readonly when: "failure" | "always"
  /** `--notify-command CMD`. */
  readonly command: string | undefined
}

export const observers = (_options: Options): Effect.Effect<ReadonlyArray<Observer.Observer>, InvalidOption> =>
  Effect.succeed([])
