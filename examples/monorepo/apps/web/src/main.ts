import { cents } from "@acme/core"
import { receipt } from "@acme/ui"

export const page = (): string => `<pre>\n${receipt([["coffee", cents(2.8)], ["bagel", cents(3.1)]])}\n</pre>`
