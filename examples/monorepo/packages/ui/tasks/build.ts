import * as kit from "@acme/tasks-kit"

export const build = kit.build("compile @acme/ui (after @acme/core's build: it uses core's declarations)")

export const test = kit.test(build)
