// When spawn() clones on the JS thread and when it hands the child to the native spawner thread,
// and a spawn while it is so handed over.
//
// A clone+exec holds the calling thread 0.3-0.7 ms, so 500 spawns started in one synchronous
// loop would hold Node's event loop for a third of a second. Each loop turn spawns on the JS
// thread (pid known at once, the cheapest path) until its spawns have taken TURN_BUDGET_MS; the
// rest of that turn's spawns, and every spawn while earlier ones are still waiting, are queued
// and handed to the spawner thread a batch per turn, HANDOVER_BUDGET_MS at most.
import { resolve as resolvePath } from 'node:path'

import { fromNative, native } from '../errors'
import { binding } from '../loader'
import { Namespace } from '../namespace'
import type { NativeSpawnRequest, NativeStdioPipes } from '../native'
import { isMainThread } from '../thread'
import { awaitReady, type ReadyWaiter, spawnLater } from './exits'
import type { Normalized } from './options'
import type { Stdio, StdioSlot } from './stdio'

const TURN_BUDGET_MS = 0.25
const HANDOVER_BUDGET_MS = 0.5

let spentThisTurn = 0
let resetScheduled = false
const queue: PendingSpawn[] = []
let drainScheduled = false
const inFlight = new Set<PendingSpawn>()
let exitHooked = false

/**
 * Whether a spawn starting now goes to the spawner thread: only from the main thread, only once
 * this turn's budget is spent or earlier spawns are still queued or in flight (order is kept),
 * and only while the native side says the spawner thread stands in for this thread (not while
 * this thread is in namespaces it joined or entered, has a root and cwd of its own, or a nice
 * value other than the spawner thread's). When it does and the child inherits the environment,
 * the environment of now is held for it (`envGeneration`), in the same native call: the
 * spawn's hand-over releases it, or {@link releaseEnvironment} if it fails before.
 */
export function shouldHandOver(request: NativeSpawnRequest): boolean {
  if (!isMainThread()) return false
  if (queue.length === 0 && inFlight.size === 0 && spentThisTurn < TURN_BUDGET_MS) return false
  const inherits = request.env === undefined
  const answer = binding().spawnerAvailable(inherits)
  if (answer < 0) return false
  if (inherits) request.envGeneration = answer
  return true
}

/** Releases the environment {@link shouldHandOver} held for a spawn that will not be handed over. */
function releaseEnvironment(request: NativeSpawnRequest): void {
  const generation = request.envGeneration
  if (generation === undefined) return
  request.envGeneration = undefined
  binding().releaseEnvironment(generation)
}

/**
 * Counts a spawn done on the JS thread against this loop turn's budget. The count is cleared on
 * the next turn only once it has reached the budget: an Immediate scheduled for every spawn cost
 * a sequential spawn (one per turn) a call into JS from the loop. What smaller counts carry over
 * to a later turn stays below the budget, so a lone spawn there still starts at once; a burst
 * there hands over at most that much sooner.
 */
export function chargeSyncSpawn(ms: number): void {
  spentThisTurn += ms
  if (spentThisTurn >= TURN_BUDGET_MS && !resetScheduled) {
    resetScheduled = true
    setImmediate(() => {
      spentThisTurn = 0
      resetScheduled = false
    })
  }
}

/** Queues a spawn for the spawner thread. */
export function enqueue(item: PendingSpawn): void {
  if (!exitHooked) {
    exitHooked = true
    // A spawn() that returned is a child that runs, as with child_process, also when the process
    // exits (process.exit(), or the loop ran dry) before the spawner thread got to it.
    process.on('exit', () => {
      for (const q of [...queue, ...inFlight]) q.finish()
    })
  }
  queue.push(item)
  if (!drainScheduled) {
    drainScheduled = true
    setImmediate(drain)
  }
}

/** Hands over at once every spawn queued up to and including `item` (someone needs its pid now). */
function handOverThrough(item: PendingSpawn): void {
  const at = queue.indexOf(item)
  if (at < 0) return
  for (const q of queue.splice(0, at + 1)) start(q)
}

function start(q: PendingSpawn): void {
  inFlight.add(q)
  q.handOver()
}

function drain(): void {
  drainScheduled = false
  const until = performance.now() + HANDOVER_BUDGET_MS
  while (queue.length > 0 && performance.now() < until) start(queue.shift() as PendingSpawn)
  if (queue.length > 0) {
    drainScheduled = true
    setImmediate(drain)
  }
}

function currentCwd(): string | undefined {
  try {
    return process.cwd()
  } catch {
    return undefined
  }
}

/** What gets a queued spawn's outcome once: the started child's pid (with its pipes), or the error. */
export interface OutcomeWaiter {
  pendingOutcome(outcome: number | number[] | Error): void
}

/**
 * A spawn queued for, or handed to, the spawner thread, until it has started or failed to. Its
 * outcome goes to its waiter once: the started child, or the error. Neither `handOver` nor
 * `finish` throws.
 */
export class PendingSpawn implements ReadyWaiter {
  readonly #request: NativeSpawnRequest
  /** The child's id (exits.ts), under which its readiness and its exit are reported. */
  readonly #id: number
  /** Handles the request's join descriptors belong to, closed once the child has started. */
  readonly #held: Namespace[]
  /** The cwd when spawn() was called, for a child that inherits it. */
  readonly #cwd: string | undefined
  readonly #stdio: Stdio
  readonly #waiter: OutcomeWaiter
  #pipes: NativeStdioPipes | null = null
  #pipeError: unknown
  /** A signal kill() asked for before the child started (the last one). */
  #signal: number | undefined
  /** Whether the spawner thread has it (its outcome is then taken by id). */
  #sent = false
  #settled = false

  /** A pending child's state (child.ts) is its PendingSpawn: no object of its own for that. */
  get kind(): 'pending' {
    return 'pending'
  }

  /** Throws when the join handles cannot be held (nothing is then left open). */
  constructor(n: Normalized, id: number, stdio: Stdio, waiter: OutcomeWaiter) {
    const { request } = n
    // Whatever the caller does once spawn() returns must not change the child: its join handles
    // may be closed (so hold duplicates), its cwd changed (so remember it; see handOver).
    const held: Namespace[] = []
    try {
      if (n.joined.length > 0)
        request.join = n.joined.map((h) => {
          if (n.opened.includes(h)) return { fd: h.fd, nsType: h.type }
          const dup = Namespace.fromFd(h.fd, h.type)
          held.push(dup)
          return { fd: dup.fd, nsType: h.type }
        })
    } catch (err) {
      for (const h of [...held, ...n.opened]) h.close()
      releaseEnvironment(request)
      throw err
    }
    this.#request = request
    this.#id = id
    this.#held = held.length === 0 ? n.opened : [...held, ...n.opened]
    this.#stdio = stdio
    this.#waiter = waiter
    // Opened at the hand-over, or when a stream is asked for first: not in the burst itself.
    if (n.stdio.includes('pipe')) stdio.plan(n.stdio, this)
    // Not with a joined mount namespace: setns puts the child at that namespace's root, and a
    // path of ours would mean something else there.
    this.#cwd = n.joined.length > 0 && n.joined.some((h) => h.type === 'mnt') ? undefined : currentCwd()
  }

  /** Opens the 'pipe' slots of `slots`; the parent's ends, or undefined when that failed. */
  openPipes(slots: StdioSlot[]): number[] | undefined {
    try {
      this.#pipes = native(() => binding().openStdioPipes(slots))
      return this.#pipes.parentFds
    } catch (err) {
      // The spawn fails with `err` at its hand-over.
      this.#pipeError = err
      return undefined
    }
  }

  /** Keeps `signal` (the last one asked for) for the child to send itself once it has started. */
  killWhenStarted(signal: number): void {
    this.#signal = signal
  }

  /** The signal kill() asked for before the start, if any. */
  get queuedSignal(): number | undefined {
    return this.#signal
  }

  /** Gives the spawn to the spawner thread. */
  handOver(): void {
    pinCwd(this.#request, this.#cwd)
    this.#stdio.openPlanned()
    if (this.#pipeError !== undefined) {
      releaseEnvironment(this.#request)
      this.#settle(this.#pipeError)
      return
    }
    try {
      spawnLater(this.#request, this.#pipes, this.#id)
      this.#sent = true
    } catch (err) {
      this.#settle(err)
      return
    }
    awaitReady(this.#id, this)
  }

  /** @internal The spawner thread has the outcome (exits.ts). */
  readyReported(): void {
    let outcome: number | number[] | null | unknown
    try {
      outcome = binding().takeSpawn(this.#id)
    } catch (err) {
      outcome = err
    }
    this.#settle(outcome)
  }

  /** Hands over if not done yet and waits until the child has started (or failed to). */
  waitForStart(): void {
    if (!this.#sent) handOverThrough(this)
    // Handing over failed: the outcome is in already.
    if (!this.#sent) return
    let outcome: number | number[] | unknown
    try {
      outcome = native(() => binding().waitSpawn(this.#id))
    } catch (err) {
      outcome = err
    }
    this.#settle(outcome)
  }

  /** As {@link waitForStart}, unless the outcome is in already (at process exit). */
  finish(): void {
    if (!this.#settled) this.waitForStart()
  }

  /** The spawner thread's outcome (a native error when it failed); null when waitForStart took it first. */
  #settle(outcome: number | number[] | Error | null | unknown): void {
    if (outcome === null || this.#settled) return
    this.#settled = true
    inFlight.delete(this)
    for (const h of this.#held) h.close()
    outcome = fromNative(outcome)
    if (outcome instanceof Error) {
      this.#waiter.pendingOutcome(outcome)
      return
    }
    this.#waiter.pendingOutcome(outcome as number | number[])
  }
}

/**
 * Gives a queued spawn the cwd of its spawn() call (`cwd` undefined: it had none, or a joined
 * mount namespace decides): a relative `cwd` or `root` is resolved against it, and an inherited
 * cwd becomes that path, whatever the process's cwd is by the time the spawner thread clones.
 */
function pinCwd(request: NativeSpawnRequest, cwd: string | undefined): void {
  // A tmpfs root has none of our directories: a relative cwd there is from its root.
  const more = request.more
  if (cwd === undefined || more?.rootTmpfs) return
  if (more?.root !== undefined) {
    more.root = resolvePath(cwd, more.root)
    return
  }
  // process.cwd() is absolute and normalized already: no new string for a child that inherits it.
  request.cwd = request.cwd === undefined ? cwd : resolvePath(cwd, request.cwd)
}
