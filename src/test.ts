/**
 * `effect-runner/test`: reserved for the test kit (running jobs and DAGs inside a test, with `TestClock` and an
 * in-memory journal). It is not released yet: importing it fails with a message that says so, rather than with a
 * resolution error that would suggest a broken install.
 */
export {}

throw new Error("effect-runner/test is reserved for the test kit, which is not released yet; import from \"effect-runner\"")
