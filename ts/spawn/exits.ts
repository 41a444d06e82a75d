// How the native side reaches this thread's children: each spawn gets an id, and the binding
// reports by id to one exit function and one ready function per thread (initSpawnCallbacks),
// instead of a native callback object made for every child (each of which was an async handle
// that libuv checked on every wake-up of the loop).

import { binding } from '../loader'
import type { NativeSpawnRequest, NativeStdioPipes } from '../native'

/** How a child ended: `code` when it exited, `signal` when a signal ended it. */
export interface ExitStatus {
  /** The exit code, or null when a signal ended the child. */
  code: number | null
  /** The signal that ended the child, or null when it exited. */
  signal: NodeJS.Signals | null
}

/** What waits for a child's exit: the child, until it has exited. */
export interface ExitWaiter {
  /** @internal The child has exited and was reaped; code -1 when a signal ended it. */
  exitReported(code: number, signal: number): void
}

/** What waits for the output of a child's 'capture' slots. */
export interface OutputWaiter {
  /**
   * @internal The output is complete (null: the stream was empty); overflow 1 or 2 when stdout or
   * stderr went past its limit.
   */
  outputReported(stdout: Buffer | null, stderr: Buffer | null, overflow: number): void
}

/** What waits for the outcome of a spawn handed to the spawner thread. */
export interface ReadyWaiter {
  /** @internal The outcome can be taken now. */
  readyReported(): void
}

interface Registry {
  exits: Map<number, ExitWaiter>
  ready: Map<number, ReadyWaiter>
  outputs: Map<number, OutputWaiter>
  lastId: number
  /** Whether 'capture' slots work on this thread (its own loop watches exits). */
  capture: boolean
}

// Kept on the binding's exports, which every copy of this module that loads the same binary
// shares (the native side takes one pair of functions per thread).
const REGISTRY = Symbol.for('nsjs.spawn.registry')
let registry: Registry | undefined

function outputReported(r: Registry, id: number, stdout: Buffer | null, stderr: Buffer | null, overflow: number): void {
  const w = r.outputs.get(id)
  if (w === undefined) return
  r.outputs.delete(id)
  w.outputReported(stdout, stderr, overflow)
}

function theRegistry(): Registry {
  if (registry) return registry
  const b = binding() as unknown as { [REGISTRY]?: Registry }
  let r = b[REGISTRY]
  if (r === undefined) {
    const made: Registry = { exits: new Map(), ready: new Map(), outputs: new Map(), lastId: 0, capture: false }
    made.capture = binding().initSpawnCallbacks(
      (id, code, signal, stdout, stderr, overflow) => {
        // Where the reaper thread reports exits, the binding still holds the child's pidfd
        // (where this thread's loop watches them, it has closed it before this call).
        if (!made.capture) binding().releaseChild(id)
        // Output that was complete with the exit comes with it, first, as if reported just before.
        if (stdout !== undefined) outputReported(made, id, stdout, stderr ?? null, overflow ?? 0)
        const w = made.exits.get(id)
        if (w === undefined) return
        made.exits.delete(id)
        w.exitReported(code, signal)
      },
      (id) => {
        // Node hands over up to 1,000 notifications in one go: taken a turn's budget at a time.
        if (readyIds.push(id) === 1) setImmediate(takeReady, made)
      },
      (id, stdout, stderr, overflow) => outputReported(made, id, stdout, stderr, overflow),
    )
    r = made
    b[REGISTRY] = r
  }
  registry = r
  return r
}

// Handed-over spawns whose outcome is in, taken at most READY_BUDGET_MS per loop turn so that
// a burst's notifications do not hold the loop.
const READY_BUDGET_MS = 0.5
const readyIds: number[] = []
let readyTaken = 0

function takeReady(r: Registry): void {
  const end = performance.now() + READY_BUDGET_MS
  try {
    while (readyTaken < readyIds.length && performance.now() < end) {
      const id = readyIds[readyTaken++]
      const w = r.ready.get(id)
      if (w === undefined) continue
      r.ready.delete(id)
      w.readyReported()
    }
  } finally {
    // Whatever one of them threw, the others still get theirs.
    if (readyTaken < readyIds.length) setImmediate(takeReady, r)
    else {
      readyIds.length = 0
      readyTaken = 0
    }
  }
}

/** A new id for a spawn whose exit `waiter` waits for (1 to 2^32-1, none in use). */
export function childId(waiter: ExitWaiter): number {
  const r = theRegistry()
  let id = r.lastId
  do id = (id + 1) >>> 0
  while (id === 0 || r.exits.has(id))
  r.lastId = id
  r.exits.set(id, waiter)
  return id
}

/** The spawn of `id` never started: no exit will be reported. */
export function forgetChild(id: number): void {
  theRegistry().exits.delete(id)
}

/** `waiter` takes the outcome of the handed-over spawn `id` when the ready function names it. */
export function awaitReady(id: number, waiter: ReadyWaiter): void {
  theRegistry().ready.set(id, waiter)
}

/** Whether this thread may use 'capture' slots (exec()'s output collected natively). */
export function captureAvailable(): boolean {
  return theRegistry().capture
}

/** `waiter` gets the output of child `id`'s 'capture' slots once it is complete. */
export function awaitOutput(id: number, waiter: OutputWaiter): void {
  theRegistry().outputs.set(id, waiter)
}

/** Stops collecting child `id`'s output: [stdout, stderr] so far, or null when it was reported. */
export function stopCapture(id: number): Buffer[] | null {
  theRegistry().outputs.delete(id)
  return binding().stopCapture(id)
}

/**
 * Starts the child of `r` on this thread as `id` (the native spawnChild): its pid, or [pid,
 * stdin, stdout, stderr] with pipes. The request goes one field per argument, which napi reads by
 * position, where an object's fields are read by name, a V8 string made for each.
 */
export function spawnNow(r: NativeSpawnRequest, id: number): number | number[] {
  return binding().spawnChild(
    r.file,
    r.argv,
    r.env,
    r.envGeneration,
    r.path,
    r.join,
    r.unshare,
    r.cwd,
    r.stdio,
    r.extraFds,
    r.captureLimit,
    r.more,
    id,
  )
}

/**
 * Hands the child of `r` to the spawner thread as `id` (the native spawnChildLater), with the
 * child's ends of its 'pipe' slots in `pipes`; one field per argument, as {@link spawnNow}.
 */
export function spawnLater(r: NativeSpawnRequest, pipes: NativeStdioPipes | null, id: number): void {
  binding().spawnChildLater(
    r.file,
    r.argv,
    r.env,
    r.envGeneration,
    r.path,
    r.join,
    r.unshare,
    r.cwd,
    r.stdio,
    r.extraFds,
    r.captureLimit,
    r.more,
    pipes,
    id,
  )
}
