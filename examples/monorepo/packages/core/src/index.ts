/** A price in cents, never a float. */
export type Cents = number & { readonly __cents: unique symbol }

export const cents = (amount: number): Cents => Math.round(amount * 100) as Cents

export const total = (prices: ReadonlyArray<Cents>): Cents => prices.reduce((a, b) => a + b, 0) as Cents

export const format = (amount: Cents): string => `$${(amount / 100).toFixed(2)}`
