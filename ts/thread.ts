// What join() and run() do around a move of the calling thread, beside the move itself.

import { lazyWorkerThreads } from './builtins'
import { invalidArgValue } from './validate'

let mainThread: boolean | undefined

/**
 * worker_threads' `isMainThread`, the module loaded when first asked: loading it costs about a
 * fifth of what importing nsjs does, and only spawn, run() and join() ever ask.
 */
export function isMainThread(): boolean {
  mainThread ??= lazyWorkerThreads().isMainThread
  return mainThread
}

/**
 * Node caches `process.cwd()` and forgets it only on `process.chdir()`. Entering a mnt namespace
 * moves the thread's cwd (to that namespace's root) and `run()` moves it back, so the cache is
 * dropped, or `process.cwd()`, `path.resolve()` and everything built on them (persist, spawn's
 * relative paths) would name a directory the thread is no longer in. chdir('.') leaves the real
 * cwd as it is. Workers cannot chdir; their process.cwd() follows the main thread's anyway.
 */
export function cwdChanged(): void {
  if (!isMainThread()) return
  try {
    process.chdir('.')
  } catch {
    // a cwd that no longer exists: nothing cached can be right either
  }
}

/** run()'s refusal of a `fn` whose work would continue outside the namespace. */
export function returnedPromise(fn: unknown, what: string): Error {
  return invalidArgValue(
    'fn',
    fn,
    `${what}: only the synchronous part of fn runs inside the namespace; use join() or spawn() for asynchronous work, or the socket functions (listen, connect, createSocket, agent, dispatcher) for network namespaces`,
  )
}
