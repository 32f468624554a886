import { type Cents, format, total } from "@acme/core"

/** One line of a receipt per price, and the total. */
export const receipt = (items: ReadonlyArray<readonly [string, Cents]>): string =>
  [...items.map(([name, price]) => `${name.padEnd(12)}${format(price).padStart(10)}`), `${"total".padEnd(12)}${format(total(items.map(([, p]) => p))).padStart(10)}`]
    .join("\n")
