/** The one place that hides a URL's secrets: what is shown of a URL, credentials as basic auth, masking error texts. */
import { assert, describe, it } from "vitest"
import * as UrlSecrets from "../src/internal/urlSecrets.ts"

describe("urlSecrets", () => {
  it("show: the origin and /*** by default; with `path`, the path too; never credentials, query or fragment", () => {
    const url = new URL("https://ops:pw@hooks.example.com/services/T0/B0/s3cr3t?token=t0k#f")
    assert.strictEqual(UrlSecrets.show(url), "https://hooks.example.com/***")
    assert.strictEqual(UrlSecrets.show(url, "path"), "https://hooks.example.com/services/T0/B0/s3cr3t")
    assert.strictEqual(UrlSecrets.show(new URL("http://127.0.0.1:9091/")), "http://127.0.0.1:9091")
    assert.strictEqual(UrlSecrets.show(new URL("http://127.0.0.1:9091/"), "path"), "http://127.0.0.1:9091")
    assert.strictEqual(UrlSecrets.show(new URL("http://h/?q=1")), "http://h/***")
  })

  it("splitCredentials: percent-decoded user:password as a Basic header, the URL without them; a bad escape kept", () => {
    const { authorization, url } = UrlSecrets.splitCredentials(new URL("https://ops:p%40ss@h.example/x"))
    assert.strictEqual(url.href, "https://h.example/x")
    assert.strictEqual(authorization, `Basic ${Buffer.from("ops:p@ss").toString("base64")}`)
    assert.strictEqual(
      UrlSecrets.splitCredentials(new URL("https://ops:%zz@h.example/")).authorization,
      `Basic ${Buffer.from("ops:%zz").toString("base64")}`
    )
    assert.isUndefined(UrlSecrets.splitCredentials(new URL("https://h.example/")).authorization)
  })

  it("masker: the whole URL, its path and query, its credentials and their header never survive in a text", () => {
    const raw = new URL("https://ops:pw-s3cret@hooks.example.com/services/s3cr3t?t=1")
    const { authorization, url } = UrlSecrets.splitCredentials(raw)
    const mask = UrlSecrets.masker(url, UrlSecrets.show(url), authorization)
    const text = `error sending request for url (${url.href}); path /services/s3cr3t?t=1; ` +
      `header ${authorization}; token ${authorization!.slice(6)}`
    const masked = mask(text)
    assert.notInclude(masked, "s3cr3t")
    assert.notInclude(masked, authorization!.slice(6))
    assert.include(masked, "(https://hooks.example.com/***)")
    const withCredentials = UrlSecrets.masker(raw, UrlSecrets.show(raw))
    assert.notInclude(withCredentials(`GET ${raw.href} as ops:pw-s3cret`), "pw-s3cret")
  })
})
