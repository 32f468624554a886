/**
 * `runner ui` in a real browser: Debian's Chromium driven by playwright-core. Each page on the fixture journal, a
 * running run followed live, log search, pagination, keyboard navigation, markup that must never run, and the token
 * login. Screenshots are saved in .runner/test-artifacts/ui/ (RUNNER_UI_SCREENSHOTS=DIR: there instead, as the
 * README's were made). Without Chromium (and without CI set) these tests are skipped with one line.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import type { Browser, Page } from "playwright-core"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { root } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"
import { requireTool } from "./support/tools.ts"
import { type Dashboard, fixture, ids, needleLine, startUi, xss } from "./support/ui.ts"

const chromium = requireTool("chromium", "apt-get install chromium")
const tempDir = tempDirs("runner-ui-browser-")
const artifacts = process.env["RUNNER_UI_SCREENSHOTS"] ?? path.join(root, ".runner/test-artifacts/ui")

const launch = async (): Promise<Browser> => {
  const { chromium: driver } = await import("playwright-core")
  return driver.launch({
    // Debian's; else the first on PATH (requireTool found one there).
    executablePath: fs.existsSync("/usr/bin/chromium")
      ? "/usr/bin/chromium"
      : (process.env["PATH"] ?? "").split(path.delimiter).map((dir) => path.join(dir, "chromium")).find((f) => fs.existsSync(f)) ?? "chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run"
    ]
  })
}

const screenshot = async (page: Page, name: string) => {
  fs.mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true })
}

/** A new page that fails the test if any script from the data runs (an alert) or the console reports an error. */
const newPage = async (browser: Browser, problems: Array<string>) => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  page.on("dialog", (dialog) => {
    problems.push(`a dialog opened: ${dialog.message()}`)
    void dialog.dismiss()
  })
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`))
  return page
}

describe.skipIf(chromium.skip)("runner ui in Chromium", () => {
  let browser: Browser
  let ui: Dashboard
  let file: string
  const problems: Array<string> = []
  beforeAll(async () => {
    file = path.join(tempDir(), "journal.db")
    await fixture(file)
    ui = await startUi(file)
    browser = await launch()
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await ui?.stop()
  })

  it("shows the runs, filters and paginates them, with the keyboard too", async () => {
    const page = await newPage(browser, problems)
    await page.goto(`${ui.url}/`)
    assert.strictEqual(await page.locator("h1").textContent(), "Runs")
    assert.strictEqual(await page.locator("table.runs tbody tr").count(), 50)
    // Markup in a key is shown as text.
    assert.isTrue(await page.getByText(xss.key).first().isVisible())
    await screenshot(page, "runs")
    await page.selectOption("select[name=dag]", "nightly")
    await page.click("button[type=submit]")
    await page.click("a[rel=next]")
    await page.click("a[rel=next]")
    assert.strictEqual(await page.locator("table.runs tbody tr").count(), 20)
    assert.include(await page.locator(".pager").textContent() ?? "", "End of the list")
    // Keyboard: the first Tab reaches the skip link; Tab on reaches a run's link, and Enter follows it.
    await page.goto(`${ui.url}/`)
    await page.keyboard.press("Tab")
    assert.strictEqual(await page.evaluate("document.activeElement && document.activeElement.textContent"), "Skip to content")
    let href = ""
    for (let i = 0; i < 40 && !href.startsWith("/runs/"); i++) {
      await page.keyboard.press("Tab")
      href = String(await page.evaluate("document.activeElement && document.activeElement.getAttribute('href')"))
    }
    assert.match(href, /^\/runs\//)
    await page.keyboard.press("Enter")
    await page.waitForURL(new RegExp(href.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "$"))
    await page.close()
    assert.deepStrictEqual(problems, [])
  })

  it("shows the grid, a run with its drawing and timeline, and never runs markup from the data", async () => {
    const page = await newPage(browser, problems)
    await page.goto(`${ui.url}/grid?dag=nightly`)
    assert.strictEqual(await page.locator("table.grid tbody tr").count(), 25)
    await screenshot(page, "grid")
    await page.goto(`${ui.url}/runs/${ids.xss}`)
    assert.isTrue(await page.locator("svg.dag").isVisible())
    assert.isTrue(await page.locator("svg.gantt").isVisible())
    assert.isTrue(await page.locator("table.jobs").getByText(xss.jobId).isVisible())
    assert.strictEqual(await page.locator("img[src=x]").count(), 0)
    await screenshot(page, "run")
    await page.goto(`${ui.url}/runs/${ids.xss}/logs`)
    assert.isTrue(await page.getByText(xss.log).isVisible())
    await page.goto(`${ui.url}/grid?dag=${encodeURIComponent(xss.dag)}`)
    await page.close()
    assert.deepStrictEqual(problems, [])
  })

  it("searches a log on the server and finds a line far off screen", async () => {
    const page = await newPage(browser, problems)
    await page.goto(`${ui.url}/runs/${ids.bigLog}/logs`)
    assert.strictEqual(await page.getByText("needle-far-away").count(), 0)
    await page.fill("input[name=q]", "needle")
    await page.press("input[name=q]", "Enter")
    await page.waitForURL(/q=needle/)
    assert.strictEqual(await page.locator("#log-lines tr").count(), 1)
    assert.include(await page.locator("#log-lines").textContent() ?? "", `line ${needleLine}`)
    await screenshot(page, "logs-search")
    await page.close()
  })

  it("follows a running run live: new log lines and job statuses appear without a reload", async () => {
    const page = await newPage(browser, problems)
    const writer = new DatabaseSync(file)
    try {
      writer.exec("PRAGMA busy_timeout = 5000")
      await page.goto(`${ui.url}/runs/${ids.running}/logs`)
      const logs = page.locator("#log-lines")
      writer.prepare(`INSERT INTO logs (run_id, job_id, attempt, at, level, message) VALUES (?, 'transform', 1, ?, 'info', ?)`)
        .run(ids.running, Date.now(), "a live line <em>here</em>")
      await page.getByText("a live line <em>here</em>").waitFor({ timeout: 3000 })
      assert.include(await logs.textContent() ?? "", "a live line <em>here</em>")
      await screenshot(page, "logs-live")

      const run = await newPage(browser, problems)
      await run.goto(`${ui.url}/runs/${ids.running}`)
      assert.strictEqual(await run.locator(`[data-job-status="transform"]`).textContent(), "running")
      writer.prepare(`UPDATE jobs SET status = 'succeeded', attempts = 2 WHERE run_id = ? AND job_id = 'transform'`).run(ids.running)
      await run.locator(`[data-job-status="transform"]`, { hasText: "succeeded" }).waitFor({ timeout: 3000 })
      assert.strictEqual(await run.locator(`[data-job-attempts="transform"]`).textContent(), "2")
      await run.close()
    } finally {
      writer.close()
      await page.close()
    }
    assert.deepStrictEqual(problems, [])
  })

  it("asks for the token with a login form when one is set", async () => {
    const secured = await startUi(file, { args: ["--token", "s3cret"] })
    const page = await newPage(browser, problems)
    try {
      await page.goto(`${secured.url}/runs/${ids.xss}`)
      assert.strictEqual(await page.locator("h1").textContent(), "Sign in")
      await page.fill("input[name=token]", "wrong")
      await page.press("input[name=token]", "Enter")
      await page.getByRole("alert").waitFor()
      await page.fill("input[name=token]", "s3cret")
      await page.press("input[name=token]", "Enter")
      await page.waitForURL(new RegExp(`/runs/${ids.xss}$`))
      assert.include(await page.locator("h1").textContent() ?? "", ids.xss)
      await screenshot(page, "login-then-run")
    } finally {
      await page.close()
      await secured.stop()
    }
  })
})
