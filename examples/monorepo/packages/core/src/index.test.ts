// The packages compile without DOM or Node types: the one global a test prints with.
declare const console: { log: (message: string) => void }

import { cents, format, total } from "./index.js"

const expect = (actual: unknown, expected: unknown) => {
  if (actual !== expected) throw new Error(`expected ${String(expected)}, got ${String(actual)}`)
}
expect(format(total([cents(0.1), cents(0.2)])), "$0.30")
expect(format(cents(19.999)), "$20.00")
console.log("core: 2 checks passed")
