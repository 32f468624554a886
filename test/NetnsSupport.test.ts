/** The network-namespace hosts the partition tests use: hosts reach each other and PostgreSQL through the relay; a cut link reaches nothing until healed. */
import { execFile, execFileSync } from "node:child_process"
import { afterAll, describe, expect, it } from "vitest"
import { makeNetwork, type Network, relay, type Relay, requireNetns } from "./support/netns.ts"
import { requireTool } from "./support/tools.ts"

const netns = requireNetns()
const psql = requireTool("psql", "apt-get install postgresql-client")

describe.skipIf(netns.skip || psql.skip)("network namespaces as hosts", () => {
  let network: Network | undefined
  let pg: Relay | undefined
  afterAll(async () => {
    await pg?.close()
    network?.dispose()
  })

  // Asynchronous: the relay serves from this process's event loop.
  const query = (host: { exec: ReadonlyArray<string> }, port: number) =>
    new Promise<string>((resolve) =>
      execFile(host.exec[0]!, [...host.exec.slice(1), "psql", "-h", network!.gateway, "-p", String(port), "-U", "postgres",
        "-d", "postgres", "-tAc", "select 40 + 2"], { encoding: "utf8", timeout: 8_000, env: { ...process.env, PGCONNECT_TIMEOUT: "2" } },
        (error, stdout, stderr) => resolve(stdout.trim() || `${error?.message} ${stderr}`)))

  it("reach PostgreSQL over their link, and nothing once it is cut", async () => {
    network = makeNetwork(2)
    pg = await relay(network.gateway, { host: "127.0.0.1", port: 5432 })
    const [a, b] = network.hosts
    expect(await query(a!, pg.port)).toBe("42")
    expect(await query(b!, pg.port)).toBe("42")
    network.cut(a!)
    expect(await query(a!, pg.port)).not.toBe("42")
    expect(await query(b!, pg.port)).toBe("42")
    network.heal(a!)
    expect(await query(a!, pg.port)).toBe("42")
    network.dispose()
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(a!.name)
  }, 30_000)
})
