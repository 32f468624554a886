/**
 * `Job.cmd` reads its template text as a POSIX shell would: backslashes and quotes as written in the source (the
 * template's raw strings, not JavaScript's escapes), and every `${value}` one literal argument.
 */
import * as CommandLine from "effect/process/CommandLine"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "vitest"
import * as Job from "../src/Job.ts"
import { runner, type RuntimeName } from "./support/spawn.ts"
import { tempDirs } from "./support/tmp.ts"

const tempDir = tempDirs("runner-cmd-")

/** Calls Job.cmd with `text` as the source text of a real tagged template (so raw and cooked strings are JavaScript's). */
const cmdOf = (text: string): Job.Argv => new Function("cmd", `return cmd\`${text}\``)(Job.cmd)

describe("Job.cmd", () => {
  it("reads backslashes as a shell does: an escaped space joins, \\\\ is one backslash, single quotes keep them", () => {
    assert.deepStrictEqual(Job.cmd`ls a\ b`, ["ls", "a b"])
    assert.deepStrictEqual(Job.cmd`echo a\\b`, ["echo", "a\\b"])
    assert.deepStrictEqual(Job.cmd`printf '%s\n' x`, ["printf", "%s\\n", "x"])
    assert.deepStrictEqual(Job.cmd`echo 'C:\temp\new'`, ["echo", "C:\\temp\\new"])
    assert.deepStrictEqual(Job.cmd`echo "say \"hi\"" \'`, ["echo", `say "hi"`, "'"])
    assert.deepStrictEqual(Job.cmd`echo a\nb`, ["echo", "anb"], "outside quotes \\n is an escaped n, as in sh")
    assert.deepStrictEqual(Job.cmd`grep -E '\d+\.\d+' file`, ["grep", "-E", "\\d+\\.\\d+", "file"])
  })

  it("keeps values literal, splits lines, and still rejects shell syntax", () => {
    const value = "a\\ b 'c'"
    assert.deepStrictEqual(Job.cmd`echo ${value}\ and\ more`, ["echo", `${value} and more`])
    assert.deepStrictEqual(Job.cmd`tar -czf out.tgz \
      dir`, ["tar", "-czf", "out.tgz", "dir"])
    const secret = Redacted.make("s3cret")
    assert.strictEqual(CommandLine.display(Job.cmd`curl -H ${secret} x`), "curl -H <redacted> x")
    assert.throws(() => Job.cmd`ls | wc -l`, /Job.cmd/)
    assert.throws(() => Job.cmd`echo \$HOME\ $HOME`, /Job.cmd: .*expansion/)
    assert.throws(() => Job.cmd`echo 'open`, /Job.cmd: .*quote is not closed/)
  })

  it("property: any arguments without shell syntax round-trip, one argument each", () => {
    const plain = fc.string({ unit: fc.constantFrom(..."abcXYZ019_@%+:,./-é中"), minLength: 1, maxLength: 12 })
    fc.assert(fc.property(fc.array(plain, { maxLength: 6 }), (args) => {
      assert.deepStrictEqual(cmdOf(["prog", ...args].join(" ")), ["prog", ...args])
    }))
  })

  it("property: any argument written as a shell would quote it comes back as itself", () => {
    // Written into template source: no backtick or `$` (they would end the template or interpolate), no CR (which
    // JavaScript turns into LF in template text), no NUL (no command line carries one).
    const char = fc.oneof(
      fc.constantFrom(..."\\'\" \t\n|&;<>()*?[]{},#~=!%^a-é"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => !/[`$\r\0]/.test(c))
    )
    fc.assert(fc.property(fc.array(fc.string({ unit: char, maxLength: 10 }), { maxLength: 5 }), (args) => {
      const line = Result.getOrThrow(CommandLine.join(["prog", ...args]))
      assert.deepStrictEqual(cmdOf(line), ["prog", ...args])
    }), { numRuns: 500 })
  })
})

describe.each<RuntimeName>(["node", "bun", "deno"])("Job.shell with Job.cmd through the runner on %s", (runtime) => {
  it("passes an escaped space and a backslash to the program as a shell would", () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }))
    fs.writeFileSync(
      path.join(dir, "cmd.ts"),
      `import { Dag, Job } from "effect-runner"
export const args = Job.shell("args", Job.cmd\`node -e "console.log(JSON.stringify(process.argv.slice(1)))" a\\ b 'c\\d' e\\\\f\`)
export default Dag.make("cmd", [args])
`
    )
    const result = runner([path.join(dir, "cmd.ts"), "--journal", "none", "--log-format", "json"], {
      runtime,
      env: { PATH: `${path.dirname(process.execPath)}:${process.env["PATH"]}` }
    })
    assert.strictEqual(result.status, 0, result.stdout + result.stderr)
    const logs = result.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.event === "Log" && l.jobId === "args")
    assert.deepStrictEqual(logs.map((l) => JSON.parse(l.message)), [["a b", "c\\d", "e\\f"]])
  })
})
