/**
 * `user:password@` in a URL, as a `Basic` Authorization header: fetch refuses URLs that carry credentials, and a header
 * keeps them out of the URL that logs may show. Shared by `--notify-url` and `--pushgateway`.
 */
import { Buffer } from "node:buffer"

/** The URL without its credentials, and the `Basic ...` header they make (undefined when it had none). */
export const fromUrl = (url: URL): { readonly url: URL; readonly authorization: string | undefined } => {
  if (url.username === "" && url.password === "") return { url, authorization: undefined }
  const bare = new URL(url.href)
  bare.username = ""
  bare.password = ""
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
  return { url: bare, authorization: `Basic ${Buffer.from(credentials, "utf8").toString("base64")}` }
}
