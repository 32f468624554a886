/**
 * `--notify-format slack`: the run's end as a Slack incoming-webhook message — `text` (the notification, and what
 * other receivers fall back to) and Block Kit blocks — kept within Slack's limits and escaped for its markup.
 */
import * as Duration from "effect/Duration"
import * as os from "node:os"
import type * as Observer from "../Observer.ts"
import { countJobs, describeCounts } from "../reporter/format.ts"
import type * as RunEvent from "../RunEvent.ts"
import { TRUNCATED, truncate } from "../truncate.ts"

/** A Slack incoming-webhook message: `text` and blocks. */
export interface SlackMessage {
  readonly text: string
  readonly blocks: ReadonlyArray<Record<string, unknown>>
}

// Slack's limits: 150 characters in a header, 3,000 in a section, 50 blocks; errors are kept far shorter.
const SLACK_ERROR_CHARS = 500
const SLACK_FAILED_SHOWN = 10

const icons: Record<RunEvent.RunStatus, string> = {
  succeeded: ":white_check_mark:",
  failed: ":x:",
  interrupted: ":warning:"
}

/** The Slack message for a run summary. */
export const toSlack = (summary: Observer.Summary, host: string = os.hostname()): SlackMessage => {
  const duration = Duration.format(Duration.millis(summary.durationMillis))
  const key = summary.key === undefined ? "" : `, key ${summary.key}`
  const failedIds = summary.failed.map((f) => f.jobId)
  // Cached jobs are neither failures nor hidden: the text says how many of the jobs were reused, the fields count all.
  const counts = countJobs(summary.jobs)
  const cached = counts.cached === 0 ? "" : `, ${counts.cached} of ${counts.total} jobs cached`
  const text = `${icons[summary.status]} ${summary.dag} ${summary.status}${key} ` +
    `(run ${summary.runId}, ${duration}${cached})` +
    (failedIds.length === 0 ? "" : `; failed: ${failedIds.join(", ")}`)
  const fields = [
    ["Status", summary.status],
    ["Key", summary.key ?? "none"],
    ["Run", summary.runId],
    ["Duration", duration],
    ["Host", host],
    ["Trigger", summary.resumed ? `${summary.trigger} (resumed)` : summary.trigger],
    ["Jobs", describeCounts(counts)]
  ].map(([name, value]) => ({ type: "mrkdwn", text: `*${name}*\n${slackText(value!, 1000)}` }))
  const failedBlocks = summary.failed.slice(0, SLACK_FAILED_SHOWN).map((f) => ({
    type: "section",
    text: {
      type: "mrkdwn",
      text: `*${slackText(f.jobId, 200)}*${f.critical ? "" : " (non-critical)"}\n` +
        "```" + slackText(f.error.replaceAll("```", "'''"), SLACK_ERROR_CHARS) + "```"
    }
  }))
  const more = summary.failed.length - SLACK_FAILED_SHOWN
  return {
    text: slackText(text, 3000),
    blocks: [
      {
        type: "header",
        text: { type: "plain_text", emoji: true, text: truncate(`${icons[summary.status]} ${summary.dag} ${summary.status}`, 150) }
      },
      { type: "section", fields },
      ...failedBlocks,
      ...(more > 0 ? [{ type: "section", text: { type: "mrkdwn", text: `… and ${more} more failed jobs` } }] : []),
      {
        type: "context",
        elements: [{
          type: "mrkdwn",
          text: `started ${new Date(summary.startedAt).toISOString()}, finished ${new Date(summary.finishedAt).toISOString()}`
        }]
      }
    ]
  }
}

// Slack reads &, < and > as markup (links, mentions); everything else is shown as written. Escaped, then cut to
// `max` characters without splitting an entity.
const slackText = (text: string, max: number) => {
  const escaped = text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
  return escaped.length <= max ? escaped : escaped.slice(0, max - TRUNCATED.length).replace(/&[a-z]*$/, "") + TRUNCATED
}
