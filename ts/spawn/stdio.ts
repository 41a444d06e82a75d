// A child's stdio streams, made lazily, and the two pieces of module state that all children
// share: the timer that holds the event loop for running children, and the queue in which the
// Sockets nobody has asked for yet are made a few at a time.
import { closeSync, createReadStream, createWriteStream } from 'node:fs'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

import { lazyNet } from '../builtins'
import type { StdioKind } from '../native'
import { isMainThread } from '../thread'

/** What one of the child's fds is connected to (an entry of spawn()'s `stdio`). */
export type StdioOption =
  | 'pipe'
  | 'inherit'
  | 'ignore'
  | 'ipc'
  | number
  | {
      /** A descriptor of ours that the child gets in this slot. */
      fd: number
    }
  | null
  | undefined

/** Each of fds 0-2 as the native side takes it: what it becomes, or a descriptor of ours. */
export type StdioSlot = StdioKind | number

/**
 * A parent end of a pipe: a Socket, or a file stream where Sockets cannot read pipes. Typed as the
 * Duplex a Socket is: only the direction of its slot is ever used (stdin written, 1-2 read).
 */
type PipeStream = Duplex & { ref?(): unknown; unref?(): unknown }

// Bun's net.Socket never reads from a pipe descriptor (its Sockets are sockets only); its file
// streams read and write pipes, with the same events. Node and Deno get Sockets, as child_process.
const SOCKETS_READ_PIPES = !process.versions.bun

function pipeStream(fd: number, input: boolean, hold: boolean): PipeStream {
  if (SOCKETS_READ_PIPES)
    return new (lazyNet().Socket)({ fd, readable: !input, writable: input, manualStart: hold } as ConstructorParameters<
      typeof Socket
    >[0])
  return (input ? createWriteStream('', { fd }) : createReadStream('', { fd })) as unknown as PipeStream
}

// Children that are running and referenced keep the event loop alive through one timer, as
// child_process's handles do; the native exit notification itself does not hold the loop. The
// timer is made once and then only referenced and unreferenced (a counter, and a native call when
// the process's count of referenced timers changes between 0 and 1): creating and clearing one
// for every lone spawn cost more.
let liveRefs = 0
let keepAlive: NodeJS.Timeout | undefined

/** Takes (1) or gives back (-1) one child's hold on the event loop. */
export function holdLoop(delta: 1 | -1): void {
  liveRefs += delta
  if (delta === 1 && liveRefs === 1) {
    if (keepAlive) keepAlive.ref()
    else keepAlive = setInterval(() => {}, 1 << 30)
  } else if (liveRefs === 0) keepAlive?.unref()
}

// Sockets of pipes nobody has touched yet are made from setImmediate, at most this long per loop
// turn, in the order of the spawns.
const WRAP_BUDGET_MS = 0.5
const toWrap: Array<() => void> = []
let wrapped = 0

/**
 * Runs `wrap` (which makes Sockets, about 20 us each) soon, within a per-turn budget, so that a
 * burst of spawns does not hold the loop for them. A worker runs it at once: it may end before
 * its next turn, and with it any wrap it had planned (and workers never hand over, so nothing is
 * gained by waiting).
 */
export function wrapSoon(wrap: () => void): void {
  if (!isMainThread()) wrap()
  else if (toWrap.push(wrap) === 1) setImmediate(wrapSome)
}

function wrapSome(): void {
  const end = performance.now() + WRAP_BUDGET_MS
  try {
    while (wrapped < toWrap.length && performance.now() < end) toWrap[wrapped++]()
  } finally {
    // Whatever one wrap threw, the others still get theirs.
    if (wrapped < toWrap.length) setImmediate(wrapSome)
    else {
      toWrap.length = 0
      wrapped = 0
    }
  }
}

type Reading = { _read: (n: number) => void }

/** The child whose stdio a {@link Stdio} is (a method, not a closure made for every child). */
export interface OutputOwner {
  /** stdout or stderr has closed. */
  outputClosed(): void
}

// The stdio of a child without pipes, shared by all of them (frozen: only replaced, never written;
// `attach(NO_FDS)` is the cheap case).
export const NO_FDS: readonly number[] = Object.freeze([-1, -1, -1])
const NO_STREAMS: Array<PipeStream | null | undefined> = Object.freeze([null, null, null]) as unknown as null[]

/** Opens the 'pipe' slots of `slots`: the parent's ends, or undefined when that failed. */
export interface PipeOpener {
  openPipes(slots: StdioSlot[]): number[] | undefined
}

/**
 * The parent's side of fds 0-2 of one child. A pipe's Socket is made when it is first asked for,
 * or in the background by {@link wrapSoon}; always before the child's exit is handled. The pipes
 * of a child handed to the spawner thread are opened at its hand-over or when a stream is asked
 * for first, and their output is read only once 'spawn' has been emitted.
 */
export class Stdio {
  /** The parent's pipe ends; -1 where there is none. Replaced, never written in place. */
  #fds: readonly number[] = NO_FDS
  /**
   * The Socket on each: null where there is no pipe, undefined where it is not made yet. Only an
   * undefined entry is ever written, so a child without pipes shares {@link NO_STREAMS}.
   */
  #streams: Array<PipeStream | null | undefined> = NO_STREAMS
  /** Output streams (1, 2) not closed yet: as in child_process, 'close' waits for them. */
  #openOutputs = 0
  /** The stdio of a pending child whose pipes are not open yet, and what opens them. */
  #planned: { slots: StdioSlot[]; opener: PipeOpener } | undefined
  /** Whether output Sockets made now wait for 'spawn' before they read. */
  #holding = false
  /** The held reads, started once 'spawn' has been emitted (made for the first). */
  #afterSpawn: Array<() => void> | undefined
  #referenced = true
  readonly #owner: OutputOwner

  /** @param owner is told when stdout or stderr closes. */
  constructor(owner: OutputOwner) {
    this.#owner = owner
  }

  /**
   * The child has exited: every Socket is made, stdin is destroyed, and output nobody reads is
   * drained, as child_process does, so that 'close' still comes. Nothing to do (nor any array
   * made) for a child without pipes.
   */
  childExited(): void {
    if (this.#streams === NO_STREAMS) return
    this.wrapAll()
    this.get(0)?.destroy()
    for (let i = 1; i < 3; i++) {
      const out = this.get(i)
      if (out?.readable && out.readableFlowing === null) out.resume()
    }
  }

  /** Output collected natively ('capture' slots) and not complete yet. */
  #capturing = 0

  /** Whether stdout or stderr (when they are pipes) are still open, or still collected natively. */
  get outputsOpen(): boolean {
    return this.#openOutputs > 0 || this.#capturing > 0
  }

  /** `count` of fds 1-2 are collected natively (exec()): 'close' waits for their output. */
  captureStarted(count: number): void {
    this.#capturing = count
  }

  /** The natively collected output is complete (or was cut short); false if it was already. */
  captureEnded(): boolean {
    if (this.#capturing === 0) return false
    this.#capturing = 0
    return true
  }

  /**
   * Takes the parent's pipe ends of a started child (or of a pending one's opened pipes): the
   * three of `fds` from `from` on.
   */
  attach(fds: readonly number[], from = 0): void {
    if (fds === NO_FDS) {
      // Most spawns: what the fields start as, without the four arrays made below.
      this.#fds = NO_FDS
      this.#streams = NO_STREAMS
      this.#openOutputs = 0
      return
    }
    this.#fds = fds.slice(from, from + 3)
    this.#streams = this.#fds.map((fd) => (fd < 0 ? null : undefined))
    this.#openOutputs = this.#fds.filter((fd, i) => i !== 0 && fd >= 0).length
    if (this.#streams.includes(undefined)) wrapSoon(() => this.wrapAll())
  }

  /**
   * The pipes of a child handed to the spawner thread: not opened in the burst of spawns itself,
   * but by `opener` at the hand-over or when a stream is asked for first.
   */
  plan(slots: StdioSlot[], opener: PipeOpener): void {
    this.#planned = { slots, opener }
    this.#streams = slots.map((s) => (s === 'pipe' ? undefined : null))
    this.#openOutputs = slots.filter((s, i) => i !== 0 && s === 'pipe').length
    this.#holding = true
  }

  /** Opens the planned pipes now, if they are not open yet. */
  openPlanned(): void {
    const planned = this.#planned
    if (!planned) return
    this.#planned = undefined
    const fds = planned.opener.openPipes(planned.slots)
    // A failed open fails the spawn at its hand-over; its streams exist, and are over.
    if (fds) this.attach(fds)
    else this.end()
  }

  /** For a child that never ran: its pipes (as `slots` has them) exist and are over. */
  endUnstarted(slots: StdioSlot[]): void {
    this.#streams = slots.map((s) => (s === 'pipe' ? undefined : null))
    this.end()
  }

  /**
   * For a child that will not run: every stream is destroyed, and a pipe that has none yet (or
   * was never opened) gets one that is destroyed already, so that `stdout` and the others stay
   * the same non-null objects a caller may hold, as in child_process.
   */
  end(): void {
    this.#planned = undefined
    this.#streams = this.#streams.map((s, i) => {
      if (s !== undefined) {
        s?.destroy()
        return s
      }
      if (this.#fds[i] >= 0) closeSync(this.#fds[i])
      const over = new (lazyNet().Socket)()
      over.destroy()
      return over
    })
    this.#fds = NO_FDS
  }

  /** Makes every Socket not made yet. */
  wrapAll(): void {
    for (let i = 0; i < 3; i++) this.get(i)
  }

  /** The Socket on fd `i` (made now if need be), or null when fd `i` is not a pipe. */
  get(i: number): PipeStream | null {
    if (this.#streams[i] === undefined) this.openPlanned()
    const made = this.#streams[i]
    if (made !== undefined) return made
    const hold = this.#holding && i !== 0
    const s = pipeStream(this.#fds[i], i === 0, hold)
    this.#streams[i] = s
    if (hold) this.#holdReads(s)
    if (i === 0) {
      // A reader that stops early must not crash the parent with EPIPE on stdin.
      s.on('error', () => {})
    } else {
      s.once('close', () => {
        this.#openOutputs--
        this.#owner.outputClosed()
      })
    }
    if (!this.#referenced) s.unref?.()
    return s
  }

  /**
   * Defers the socket's first read (Readable's `_read`, which starts reading the pipe) until
   * 'spawn' has been emitted, however the caller consumes the stream meanwhile.
   */
  #holdReads(s: PipeStream): void {
    const read = (s as unknown as Reading)._read
    let wanted: number | undefined
    ;(s as unknown as Reading)._read = (n: number) => {
      wanted = n
    }
    this.#afterSpawn ??= []
    this.#afterSpawn.push(() => {
      ;(s as unknown as Reading)._read = read
      if (wanted !== undefined) read.call(s, wanted)
    })
  }

  /** 'spawn' is being emitted: Sockets made from now on read at once. */
  spawning(): void {
    this.#holding = false
  }

  /** 'spawn' has been emitted: the held reads start. */
  spawned(): void {
    const held = this.#afterSpawn
    if (held === undefined) return
    this.#afterSpawn = undefined
    for (const go of held) go()
  }

  ref(): void {
    this.#referenced = true
    for (const s of this.#streams) s?.ref?.()
  }

  unref(): void {
    this.#referenced = false
    for (const s of this.#streams) s?.unref?.()
  }
}
