/**
 * The outputs round-trip property, run by each runtime (test/ResumeProperty.test.ts spawns it on Bun and Deno): every
 * sampled value is journaled as JSON text and read back as itself (same type, same content), or, when it cannot be,
 * journaled unrestorable; a secret never appears in the text. Prints `roundtrip ok <runs>`; exits 1 on a counterexample.
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import fc from "fast-check"
import * as Encoding from "../../src/internal/Encoding.ts"
import { sample, sameValue } from "../support/values.ts"

const runs = Number(process.argv[2] ?? 200)
const secretsOf = (value: unknown): Array<string> =>
  typeof value === "object" && value !== null
    ? Object.values(value).flatMap((v) => Redacted.isRedacted(v) ? [String(Redacted.value(v))] : [])
    : []

try {
  fc.assert(
    fc.property(sample, (s) => {
      const encoded = Effect.runSync(Encoding.encode(s.schema, s.value))
      for (const secret of secretsOf(s.value)) if ((encoded.json ?? "").includes(secret)) return false
      if (!s.restorable) return encoded._tag === "Unrestorable"
      if (encoded._tag !== "Restorable") return false
      const decoded = Effect.runSync(Encoding.decode(s.schema, encoded.json))
      return sameValue(s.value, decoded)
    }),
    { numRuns: runs }
  )
  console.log(`roundtrip ok ${runs}`)
} catch (error) {
  console.error(String(error))
  process.exit(1)
}
