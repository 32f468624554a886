/**
 * `runner ui`: a read-only dashboard over the journal (see internal/ui/). It binds 127.0.0.1 unless told otherwise,
 * and refuses any other host without a token. The journal is migrated once (as every operator command does), then
 * read through a read-only connection (SQLite: `query_only`; PostgreSQL: read-only transactions), so the dashboard
 * never blocks or changes a running runner's journal. A SQLite file and a postgres:// journal are served alike.
 */
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOption } from "../../Errors.ts"
import { JournalUnreadable } from "../SetupErrors.ts"
import { redact } from "../sql/Dialect.ts"
import * as JournalClient from "../sql/JournalClient.ts"
import * as Auth from "../ui/Auth.ts"
import * as Server from "../ui/Server.ts"
import { journalFlag, print } from "./common.ts"
import { absolute, describeError, existingJournal, withJournal } from "./operator.ts"

export const hostFlag = Flag.String("host").pipe(
  Flag.withDescription("the address to listen on (default 127.0.0.1; any other needs --token)"),
  Flag.withDefault("127.0.0.1")
)
export const portFlag = Flag.Int("port").pipe(
  Flag.withDescription("the port to listen on (default 8080; 0: any free port)"),
  Flag.withDefault(8080)
)
export const tokenFlag = Flag.String("token").pipe(
  Flag.withDescription("require this token on every request (default: $RUNNER_UI_TOKEN); required off 127.0.0.1"),
  Flag.optional
)

/** The token from the flag, else RUNNER_UI_TOKEN; an empty one is none. */
export const tokenOf = (flag: Option.Option<string>): string | undefined => {
  const token = Option.getOrUndefined(flag) ?? process.env["RUNNER_UI_TOKEN"]
  return token === undefined || token === "" ? undefined : token
}

/** Fails (exit 2) when the host and token are not allowed together, or the port is not one. */
export const checkBinding = (host: string, port: number, token: string | undefined) =>
  Effect.gen(function*() {
    const refused = Auth.refusal(host, token)
    if (refused !== undefined) return yield* new InvalidOption({ where: "--host", reason: refused.replace(/^--host [^:]*: /, "") })
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return yield* new InvalidOption({ where: "--port", reason: `${port} is not a port (0 to 65535)` })
    }
  })

/**
 * Serves the dashboard over an existing journal until interrupted, printing its URL first. Used by `runner ui` and,
 * beside a live run, by `--ui`.
 */
export const serveJournal = (
  file: string,
  options: { readonly host: string; readonly port: number; readonly token: string | undefined },
  onReady: (url: string) => Effect.Effect<void> = (url) =>
    print(`runner ui: ${url} (journal ${absolute(file)}, read-only${options.token === undefined ? "" : ", token required"})`)
) =>
  Effect.scoped(Effect.gen(function*() {
    const url = yield* Server.serve({ journal: absolute(file), token: options.token, host: options.host, port: options.port }).pipe(
      Effect.mapError((error) => new InvalidOption({ where: "--port", reason: `cannot listen on ${options.host}:${options.port}: ${describeError(error)}` }))
    )
    yield* onReady(url)
    return yield* Effect.never
  })).pipe(
    Effect.provide(JournalClient.layer(file, { durability: "normal", readOnly: true })),
    Effect.mapError((error) =>
      error instanceof InvalidOption ? error : new JournalUnreadable({ path: redact(file), reason: describeError(error) })
    )
  )

/**
 * The dashboard beside a run (`--ui`): the journal is created and migrated first (the run would do the same), then
 * served until interrupted. A failure (the port is taken) is said on stderr and does not stop the run.
 */
export const serveBeside = (file: string, port: number) =>
  Effect.gen(function*() {
    yield* JournalClient.migrate(file).pipe(Effect.provide(JournalClient.layer(file, { durability: "normal" })))
    const token = tokenOf(Option.none())
    yield* serveJournal(file, { host: "127.0.0.1", port, token }, (url) =>
      Effect.sync(() => {
        process.stderr.write(`runner ui: ${url} (journal ${absolute(file)}, read-only${token === undefined ? "" : ", token required"})\n`)
      }))
  }).pipe(
    Effect.catch((error) => Effect.sync(() => void process.stderr.write(`runner ui: not serving the dashboard: ${describeError(error)}\n`)))
  )

const openBrowser = (url: string) =>
  Effect.sync(() => {
    const command = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open"
    import("node:child_process").then(({ spawn }) => {
      const child = spawn(command, [url], { stdio: "ignore", detached: true })
      child.on("error", () => process.stderr.write(`runner ui: could not start ${command}; open ${url} yourself\n`))
      child.unref()
    })
  })

export const command = Command.make("ui", {
  journal: journalFlag,
  host: hostFlag,
  port: portFlag,
  token: tokenFlag,
  open: Flag.Boolean("open").pipe(Flag.withDescription("open the dashboard in the default browser"), Flag.withDefault(false))
}, ({ host, journal, open, port, token: tokenFlagValue }) =>
  Effect.gen(function*() {
    const token = tokenOf(tokenFlagValue)
    yield* checkBinding(host, port, token)
    const file = yield* existingJournal(journal)
    // Migrate once with a normal connection (a journal of an older runner gains the dashboard's indexes), then read only.
    yield* withJournal(journal, () => Effect.void)
    yield* serveJournal(file, { host, port, token }, (url) =>
      Effect.andThen(
        print(`runner ui: ${url} (journal ${absolute(file)}, read-only${token === undefined ? "" : ", token required"})`),
        open ? openBrowser(url) : Effect.void
      ))
  })).pipe(
    Command.withDescription(
      "Serve a read-only dashboard of the journal: runs, a runs × jobs grid, timelines and searchable live logs"
    )
  )
