/**
 * Separate hosts on one machine for the tests of what crosses a network (cluster workers cut off from PostgreSQL and
 * from each other): each host is a network namespace with one veth link onto a bridge in the root namespace, on a
 * /24 of its own. The root namespace is `gateway` (x.x.x.1); processes started in it (the test itself, a TCP relay
 * to PostgreSQL on 127.0.0.1) are reached by the hosts at that address. `cut` takes a host's link down, `heal` brings
 * it back: a partition as the hosts see it (their connections stall, then fail).
 *
 * Needs root and iproute2's `ip`: `requireNetns` skips with one line without them (required with CI).
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as net from "node:net"
import { it } from "vitest"
import { isCI, onPath } from "./tools.ts"

export interface Host {
  /** The namespace's name (`ip netns exec <name> ...`). */
  readonly name: string
  /** Its address on the bridge. */
  readonly address: string
  /** argv prefix that runs a command inside the host: `[...host.exec, "node", "worker.js"]`. */
  readonly exec: ReadonlyArray<string>
}

export interface Network {
  readonly gateway: string
  readonly hosts: ReadonlyArray<Host>
  /** Takes the host's link down: nothing reaches it or leaves it until `heal`. */
  readonly cut: (host: Host) => void
  readonly heal: (host: Host) => void
  /** Removes the namespaces, links and bridge. Safe to call twice. */
  readonly dispose: () => void
}

const ip = (...args: ReadonlyArray<string>) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] })

/** Whether this process can make network namespaces (root with `ip`). */
export const netnsUsable = (): boolean => {
  if (!onPath("ip") || process.getuid?.() !== 0) return false
  const probe = `erp${crypto.randomBytes(3).toString("hex")}`
  try {
    ip("netns", "add", probe)
    ip("netns", "del", probe)
    return true
  } catch {
    return false
  }
}

/** As `requireTool`: `{ skip }` for `it.skipIf`; one stderr line when skipped; a failing test with CI when unusable. */
export const requireNetns = (): { readonly skip: boolean } => {
  if (netnsUsable()) return { skip: false }
  const why = "network namespaces need root and iproute2's ip (apt-get install iproute2)"
  if (isCI()) {
    it("network namespaces can be made (required because CI is set)", () => {
      throw new Error(`${why}: not usable here`)
    })
    return { skip: false }
  }
  process.stderr.write(`skipped: ${why}; CI=1 makes it required\n`)
  return { skip: true }
}

/** `count` hosts on a fresh bridge. Interface names stay within Linux's 15 characters. */
export const makeNetwork = (count: number): Network => {
  const id = crypto.randomBytes(2).toString("hex")
  const subnet = `10.${200 + crypto.randomInt(50)}.${crypto.randomInt(250)}`
  const bridge = `erb${id}`
  const gateway = `${subnet}.1`
  const hosts: Array<Host> = []
  const links: Array<string> = []
  let disposed = false
  const dispose = () => {
    if (disposed) return
    disposed = true
    for (const host of hosts) {
      try {
        ip("netns", "del", host.name)
      } catch { /* already gone */ }
    }
    for (const link of [...links, bridge]) {
      try {
        ip("link", "del", link)
      } catch { /* removed with its namespace */ }
    }
  }
  try {
    ip("link", "add", bridge, "type", "bridge", "forward_delay", "0")
    ip("addr", "add", `${gateway}/24`, "dev", bridge)
    ip("link", "set", bridge, "up")
    for (let i = 0; i < count; i++) {
      const name = `erh${id}${i}`
      const link = `erv${id}${i}`
      const address = `${subnet}.${10 + i}`
      ip("netns", "add", name)
      hosts.push({ name, address, exec: ["ip", "netns", "exec", name] })
      ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
      links.push(link)
      ip("link", "set", link, "master", bridge, "up")
      ip("-n", name, "addr", "add", `${address}/24`, "dev", "eth0")
      ip("-n", name, "link", "set", "eth0", "up")
      ip("-n", name, "link", "set", "lo", "up")
    }
  } catch (error) {
    dispose()
    throw error
  }
  const linkOf = (host: Host) => links[hosts.indexOf(host)]!
  return {
    gateway,
    hosts,
    cut: (host) => void ip("link", "set", linkOf(host), "down"),
    heal: (host) => {
      ip("link", "set", linkOf(host), "up")
      // Addresses that failed to resolve during the cut are remembered as unreachable for a while: forget them.
      ip("-n", host.name, "neigh", "flush", "all")
      ip("neigh", "flush", "dev", bridge)
    },
    dispose
  }
}

export interface Relay {
  readonly port: number
  readonly close: () => Promise<void>
}

/**
 * A TCP relay listening on `address` (the gateway) that forwards every connection to `target` (PostgreSQL on
 * 127.0.0.1:5432): the hosts reach the database over their veth link, so cutting the link cuts them off from it.
 */
export const relay = (address: string, target: { readonly host: string; readonly port: number }): Promise<Relay> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer((inbound) => {
      const outbound = net.connect(target.port, target.host)
      sockets.add(inbound).add(outbound)
      inbound.pipe(outbound).pipe(inbound)
      const end = () => {
        inbound.destroy()
        outbound.destroy()
        sockets.delete(inbound)
        sockets.delete(outbound)
      }
      inbound.on("error", end).on("close", end)
      outbound.on("error", end).on("close", end)
    })
    server.on("error", reject)
    server.listen(0, address, () => {
      const port = (server.address() as net.AddressInfo).port
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
