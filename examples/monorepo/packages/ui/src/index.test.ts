// The packages compile without DOM or Node types: the one global a test prints with.
declare const console: { log: (message: string) => void }

import { cents } from "@acme/core"
import { receipt } from "./index.js"

const text = receipt([["tea", cents(3.5)], ["cake", cents(4.25)]])
if (!text.endsWith("total            $7.75")) throw new Error(`unexpected receipt:\n${text}`)
console.log("ui: 1 check passed")
