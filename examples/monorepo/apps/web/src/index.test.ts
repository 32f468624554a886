// The packages compile without DOM or Node types: the one global a test prints with.
declare const console: { log: (message: string) => void }

import { page } from "./main.js"

if (!page().includes("total            $5.90")) throw new Error(`unexpected page:\n${page()}`)
console.log("web: 1 check passed")
