// When spawn() clones on the JS thread and when it hands the child to the native spawner thread.
//
// A clone+exec holds the calling thread 0.3-0.7 ms, so 500 spawns started in one synchronous
// loop would hold Node's event loop for a third of a second. Each loop turn spawns on the JS
// thread (pid known at once, the cheapest path) until its spawns have taken TURN_BUDGET_MS; the
// rest of that turn's spawns, and every spawn while earlier ones are still waiting, are queued
// and handed to the spawner thread a batch per turn, HANDOVER_BUDGET_MS at most.
import { isMainThread } from 'node:worker_threads'

import { binding } from './loader'

const TURN_BUDGET_MS = 0.25
const HANDOVER_BUDGET_MS = 0.5

/** A spawn waiting to be handed over; neither method may throw. */
export interface Queued {
  handOver(): void
  /** Hands over if not done yet and waits until the child has started (or failed to). */
  finish(): void
}

let spentThisTurn = 0
let resetScheduled = false
const queue: Queued[] = []
let drainScheduled = false
const inFlight = new Set<Queued>()
let exitHooked = false

/**
 * Whether a spawn starting now goes to the spawner thread: only from the main thread, only once
 * this turn's budget is spent or earlier spawns are still queued or in flight (order is kept),
 * and only while the native side says the spawner thread stands in for this thread (not while
 * this thread is in namespaces it joined or entered, has a root and cwd of its own, or a nice
 * value other than the spawner thread's).
 */
export function shouldHandOver(): boolean {
  if (!isMainThread) return false
  if (queue.length === 0 && inFlight.size === 0 && spentThisTurn < TURN_BUDGET_MS) return false
  return binding().spawnerAvailable()
}

/** Counts a spawn done on the JS thread against this loop turn's budget. */
export function chargeSyncSpawn(ms: number): void {
  spentThisTurn += ms
  if (!resetScheduled) {
    resetScheduled = true
    setImmediate(() => {
      spentThisTurn = 0
      resetScheduled = false
    })
  }
}

/** Queues a spawn for the spawner thread. */
export function enqueue(item: Queued): void {
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
export function handOverThrough(item: Queued): void {
  const at = queue.indexOf(item)
  if (at < 0) return
  for (const q of queue.splice(0, at + 1)) start(q)
}

/** A handed-over spawn has its outcome (or never got to the spawner thread). */
export function settled(item: Queued): void {
  inFlight.delete(item)
}

function start(q: Queued): void {
  inFlight.add(q)
  q.handOver()
}

function drain(): void {
  drainScheduled = false
  const until = performance.now() + HANDOVER_BUDGET_MS
  while (queue.length > 0 && performance.now() < until) start(queue.shift() as Queued)
  if (queue.length > 0) {
    drainScheduled = true
    setImmediate(drain)
  }
}
