// The parent's side of a Node IPC channel ('ipc' in spawn()'s stdio, fork()): a Unix socket pair
// whose child end the child finds through NODE_CHANNEL_FD, so a Node child's process.send() and
// 'message' are Node's own, handles included. Our end is read and written natively (recvmsg and
// sendmsg, so that descriptors travel with their messages) when a uv_poll on this thread's loop
// says it is ready (crates/sys/src/channel_poll.rs): a net.Socket cannot be the channel, it reads
// with read() and the kernel drops the descriptors of a message read that way. The protocol
// around handles (NODE_HANDLE, its ACK and NACK, the queue that waits for them) is Node's, as
// lib/internal/child_process.js has it; framing is ipc-wire.ts's, handles ipc-handles.ts's.
import { getSystemErrorName } from 'node:util'

import { native } from '../errors'
import { binding } from '../loader'
import { invalidArgType, validateObject } from '../validate'
import type { NsChildProcess } from './child'
import {
  ArrivedFds,
  closeFd,
  fromFd,
  type HandleMessage,
  type HandleOptions,
  handleType,
  type NativeHandle,
  nativeOf,
} from './ipc-handles'
import { SocketLists } from './ipc-socket-list'
import { encodeMessage, isInternal, MessageReader } from './ipc-wire'
import type { Serialization } from './validate'

type Callback = (err: Error | null) => void

/** What a channel's `send()` takes after the message: a callback, or a handle, options, callback. */
type SendRest = [callback?: Callback] | [handle: unknown, options?: unknown, callback?: unknown]

/** child_process's `subprocess.channel`: the loop's hold on an open channel. */
export interface ChannelControl {
  /** Keeps the event loop alive while the channel is open (the default). */
  ref(): void
  /** Lets the event loop end with the channel open (the child sees it close when we exit). */
  unref(): void
  /** Our end's descriptor. */
  readonly fd: number
}

/** A child with an IPC channel: what {@link withChannel} adds to an NsChildProcess. */
export interface ChannelMethods {
  /** See NsForkedProcess#send. */
  send(message: unknown, ...rest: SendRest): boolean
  /** Closes the channel. */
  disconnect(): void
  /** Whether the channel is open. */
  readonly connected: boolean
  /** The channel's hold on the event loop while it is open, else null. */
  readonly channel: ChannelControl | null
}

const READABLE = 1
const WRITABLE = 2
/** As Node: a socket the child says it did not get is sent again this many times. */
const MAX_HANDLE_RETRANSMISSIONS = 3
/** As Node, send() returns false once this much waits to be written. */
const HIGH_WATER = 65536 * 2
/** Reads per readiness; more wait for the next turn of the loop (the poll is level-triggered). */
const READS_PER_WAKE = 16

/** A message waiting to be written, with the duplicate of the descriptor it carries (or -1). */
interface Write {
  bytes: Buffer
  sent: number
  attach: number
  callback: Callback | undefined
  swallowErrors: boolean
}

/** A send() held until the handle sent before it is acknowledged, as Node's `_handleQueue`. */
interface Held {
  message: unknown
  handle: unknown
  options: HandleOptions
  callback: Callback | undefined
}

/** A message read, held until those before it (a handle being built) have gone out. */
interface Inbound {
  event: 'message' | 'internalMessage'
  message: unknown
  handle?: unknown
  ready: boolean
}

/** Node's error for a failed channel write (errnoException(err, 'write')). */
function writeError(err: unknown): Error {
  const errno = (err as { errno?: number }).errno ?? 0
  const code = errno > 0 ? getSystemErrorName(-errno) : 'EIO'
  return Object.assign(new Error(`write ${code}`), { errno: -errno, code, syscall: 'write' })
}

/** Node's error for a message its channel cannot carry. */
function checkMessage(message: unknown): void {
  if (message === undefined) {
    const err = new TypeError('The "message" argument must be specified') as TypeError & { code: string }
    err.code = 'ERR_MISSING_ARGS'
    throw err
  }
  const t = typeof message
  if (t !== 'string' && t !== 'object' && t !== 'number' && t !== 'boolean') {
    throw invalidArgType('message', 'one of type string, object, number, or boolean', message)
  }
}

/** Closes what a handle sent to a channel that has closed became on our side. */
function discard(handle: unknown): void {
  const h = handle as { close?(): void; destroy?(): void } | undefined
  if (typeof h?.destroy === 'function') h.destroy()
  else h?.close?.()
}

/** One channel: our end `fd`, its poll, what waits to be written and what was read. */
class Channel {
  #fd: number
  #poll: number
  #polling = READABLE
  readonly #child: NsChildProcess
  readonly #serialization: Serialization
  readonly #reader: MessageReader
  readonly #arrived = new ArrivedFds()
  #received = 0
  #writes: Write[] = []
  #queued = 0
  #inbox: Inbound[] = []
  /** Messages read while nobody listened to 'message': emitted once someone does (Node's). */
  #unheard: Inbound[] = []
  /** Node's `_handleQueue`: null, or the sends waiting for the last handle's acknowledgement. */
  #handleQueue: Held[] | null = null
  /** Node's `_pendingMessage`: the socket sent last, closed (ours) once acknowledged. */
  #pending: { message: HandleMessage; handle: NativeHandle; retransmissions: number } | null = null
  connected = true
  #release: () => void
  readonly #lists: SocketLists

  constructor(child: NsChildProcess, fd: number, serialization: Serialization) {
    this.#child = child
    this.#fd = fd
    this.#serialization = serialization
    this.#reader = new MessageReader(serialization)
    this.#poll = native(() => binding().channelPollStart(fd, (_id, status, events) => this.#onReady(status, events)))
    this.#release = child.holdClose()
    this.#lists = new SocketLists({
      child,
      connected: () => this.connected,
      sendInternal: (message, swallowErrors) => this.#send(message, undefined, { swallowErrors }),
    })
    child.on('newListener', () => process.nextTick(() => this.#replay()))
  }

  /** child_process's `channel`: `ref()` and `unref()` of the loop's hold, `fd`; null once closed. */
  control(): ChannelControl | null {
    if (this.#fd < 0) return null
    const id = this.#poll
    return {
      ref: () => binding().channelPollRef(id, true),
      unref: () => binding().channelPollRef(id, false),
      fd: this.#fd,
    }
  }

  #replay(): void {
    if (this.#fd < 0 || this.#child.listenerCount('message') === 0) return
    const unheard = this.#unheard
    this.#unheard = []
    for (const { event, message, handle } of unheard) this.#child.emit(event, message, handle)
  }

  /** child_process's `send(message[, handle[, options]][, callback])`. */
  send(message: unknown, handle?: unknown, options?: unknown, callback?: unknown): boolean {
    if (typeof handle === 'function') {
      callback = handle
      handle = undefined
      options = undefined
    } else if (typeof options === 'function') {
      callback = options
      options = undefined
    } else if (options !== undefined) {
      validateObject(options, 'options')
    }
    const opts: HandleOptions = { swallowErrors: false, ...(options as HandleOptions | undefined) }
    const cb = typeof callback === 'function' ? (callback as Callback) : undefined
    if (this.connected) return this.#send(message, handle, opts, cb)
    const err = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' })
    if (cb) process.nextTick(cb, err)
    else process.nextTick(() => this.#child.emit('error', err))
    return false
  }

  /** Node's `_send`: wraps a handle in NODE_HANDLE, or queues behind one not yet acknowledged. */
  #send(message: unknown, handle: unknown, options: HandleOptions, callback?: Callback): boolean {
    checkMessage(message)
    let wire = message
    let sent: NativeHandle | undefined
    if (handle) {
      const wrapper: HandleMessage = { cmd: 'NODE_HANDLE', type: handleType(handle), msg: message }
      if (this.#handleQueue) return this.#hold({ message, handle, options, callback })
      sent = nativeOf(wrapper, handle, options, this.#lists)
      if (sent) wire = wrapper
    } else if (this.#handleQueue && !isAck(message)) {
      return this.#hold({ message, handle: null, options, callback })
    }
    this.#write(wire, sent?.fd ?? -1, callback, options.swallowErrors === true)
    if (sent) this.#handleQueue ??= []
    // Node's postSend: a socket sent is ours to close once the child has acknowledged it.
    if (sent && (wire as HandleMessage).type === 'net.Socket' && !options.keepOpen) {
      this.#pending = { message: wire as HandleMessage, handle: sent, retransmissions: 0 }
    }
    return this.#queued < HIGH_WATER
  }

  #hold(held: Held): boolean {
    this.#handleQueue?.push(held)
    return this.#handleQueue?.length === 1
  }

  /** Queues `message` (with a duplicate of descriptor `fd`, if any) and writes what it can. */
  #write(message: unknown, fd: number, callback: Callback | undefined, swallowErrors: boolean): void {
    const bytes = encodeMessage(message, this.#serialization)
    const attach = fd >= 0 ? native(() => binding().dupCloexec(fd)) : -1
    this.#writes.push({ bytes, sent: 0, attach, callback, swallowErrors })
    this.#queued += bytes.length
    if (this.#writes.length === 1) this.#flush()
  }

  #flush(): void {
    while (this.#writes.length > 0 && this.#fd >= 0) {
      const w = this.#writes[0]
      let n: number
      try {
        n = binding().channelSend(this.#fd, w.bytes.subarray(w.sent), w.sent === 0 ? w.attach : -1)
      } catch (err) {
        this.#drop(w, writeError(err))
        continue
      }
      if (n < 0) {
        this.#pollFor(READABLE | WRITABLE)
        return
      }
      // The descriptor went with the first byte: ours is closed, the child has its own.
      if (w.attach >= 0) closeFd(w.attach)
      w.attach = -1
      w.sent += n
      this.#queued -= n
      if (w.sent === w.bytes.length) {
        this.#writes.shift()
        if (w.callback) process.nextTick(w.callback, null)
      }
    }
    this.#pollFor(READABLE)
  }

  /**
   * Takes the first write off the queue, unwritten: its callback gets `err`, else 'error' is
   * emitted with it unless `quiet` or the write's swallowErrors.
   */
  #drop(w: Write, err: Error, quiet = false): void {
    this.#writes.shift()
    this.#queued -= w.bytes.length - w.sent
    if (w.attach >= 0) closeFd(w.attach)
    w.attach = -1
    if (w.callback) process.nextTick(w.callback, err)
    else if (!quiet && !w.swallowErrors) process.nextTick(() => this.#child.emit('error', err))
  }

  #pollFor(events: number): void {
    if (events === this.#polling || this.#fd < 0) return
    this.#polling = events
    native(() => binding().channelPollEvents(this.#poll, events))
  }

  #onReady(status: number, events: number): void {
    if (status < 0) {
      this.#end()
      return
    }
    if (events & WRITABLE) this.#flush()
    if (events & READABLE) this.#read()
  }

  #read(): void {
    for (let i = 0; i < READS_PER_WAKE && this.#fd >= 0; i++) {
      let r: { bytes: Buffer; fds: number[] } | null
      try {
        r = binding().channelRecv(this.#fd)
      } catch {
        r = { bytes: Buffer.alloc(0), fds: [] }
      }
      if (r === null) return
      const start = this.#received
      this.#received += r.bytes.length
      this.#arrived.add(start, Math.max(this.#received, start + 1), r.fds)
      if (r.bytes.length === 0) {
        this.#end()
        return
      }
      for (const { message, start } of this.#reader.push(r.bytes)) this.#onMessage(message, start)
      this.#arrived.closeBefore(this.#reader.parsed())
    }
  }

  #onMessage(message: unknown, start: number): void {
    if (!isInternal(message)) this.#deliver({ event: 'message', message, ready: true })
    else if (message.cmd === 'NODE_HANDLE') this.#onHandle(message as HandleMessage, this.#arrived.take(start))
    else if (isAck(message)) this.#onAck(message.cmd === 'NODE_HANDLE_ACK')
    else this.#deliver({ event: 'internalMessage', message, ready: true })
  }

  /** A handle from the child: acknowledged (or, its descriptor lost, refused) as Node does. */
  #onHandle(message: HandleMessage, fd: number | undefined): void {
    if (fd === undefined) {
      this.#write({ cmd: 'NODE_HANDLE_NACK' }, -1, undefined, true)
      return
    }
    this.#write({ cmd: 'NODE_HANDLE_ACK' }, -1, undefined, true)
    const entry: Inbound = {
      event: isInternal(message.msg) ? 'internalMessage' : 'message',
      message: message.msg,
      ready: false,
    }
    this.#inbox.push(entry)
    fromFd(message, fd, this.#lists, (handle) => {
      entry.handle = handle
      entry.ready = true
      this.#pump()
    })
  }

  /** The child's answer to our last handle: close our copy, send again, or give it up (Node's). */
  #onAck(ack: boolean): void {
    const pending = this.#pending
    if (pending && (ack || pending.retransmissions++ === MAX_HANDLE_RETRANSMISSIONS)) {
      this.#closePending()
      if (!ack)
        process.emitWarning('Handle did not reach the receiving process correctly', 'SentHandleNotReceivedWarning')
    }
    const queue = this.#handleQueue ?? []
    this.#handleQueue = null
    if (this.#pending) {
      this.#write(this.#pending.message, this.#pending.handle.fd, undefined, true)
      this.#handleQueue = []
    }
    for (const held of queue) this.#send(held.message, held.handle, held.options, held.callback)
    if (!this.connected && this.#fd >= 0 && !this.#handleQueue) this.#close()
  }

  #closePending(): void {
    this.#pending?.handle.close()
    this.#pending = null
  }

  #deliver(entry: Inbound): void {
    this.#inbox.push(entry)
    this.#pump()
  }

  /** Emits what was read, in order, each on its own tick as Node does. */
  #pump(): void {
    while (this.#inbox[0]?.ready) {
      const { event, message, handle } = this.#inbox.shift() as Inbound
      if (this.#fd < 0) discard(handle)
      else process.nextTick(() => this.#emit({ event, message, handle, ready: true }))
    }
  }

  #emit(entry: Inbound): void {
    if (entry.event === 'message' && this.#child.listenerCount('message') === 0) this.#unheard.push(entry)
    else this.#child.emit(entry.event, entry.message, entry.handle)
  }

  /** child_process's `disconnect()`: at once, or once the handle queue has gone out. */
  disconnect(): void {
    if (!this.connected) {
      const err = Object.assign(new Error('IPC channel is already disconnected'), { code: 'ERR_IPC_DISCONNECTED' })
      this.#child.emit('error', err)
      return
    }
    this.connected = false
    if (!this.#handleQueue) this.#close()
  }

  /** The child closed its end (or the poll failed). */
  #end(): void {
    this.connected = false
    this.#close(false)
  }

  /**
   * Closes our end, after writing what can be (`flush`, unless the child has closed its end):
   * nothing more is read or written; every descriptor held is closed.
   */
  #close(flush = true): void {
    if (this.#fd < 0) return
    if (flush) this.#flush()
    // Closes our end too (the poll owns it: it is closed when a worker's env goes, as well).
    binding().channelPollClose(this.#poll)
    this.#fd = -1
    this.#arrived.closeAll()
    this.#closePending()
    const closed = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' })
    while (this.#writes.length > 0) this.#drop(this.#writes[0], closed, true)
    for (const held of this.#handleQueue ?? []) if (held.callback) process.nextTick(held.callback, closed)
    this.#handleQueue = null
    this.#pump()
    for (const { handle } of this.#unheard.splice(0)) discard(handle)
    process.nextTick(() => {
      this.#child.emit('disconnect')
      this.#release()
    })
  }
}

function isAck(message: unknown): message is { cmd: 'NODE_HANDLE_ACK' | 'NODE_HANDLE_NACK' } {
  const cmd = (message as { cmd?: unknown } | null)?.cmd
  return cmd === 'NODE_HANDLE_ACK' || cmd === 'NODE_HANDLE_NACK'
}

/**
 * Gives `child` the parent's side of a channel on our descriptor `fd` (which it then owns):
 * `send()` (with handles), `'message'`, `disconnect()`, `connected`, `'disconnect'` as
 * child_process has them.
 */
export function withChannel<T extends NsChildProcess>(
  child: T,
  fd: number,
  serialization: Serialization,
): T & ChannelMethods {
  let channel: Channel
  try {
    channel = new Channel(child, fd, serialization)
  } catch (err) {
    closeFd(fd)
    throw err
  }
  const withIpc = child as T & ChannelMethods
  Object.defineProperty(withIpc, 'connected', { get: () => channel.connected, enumerable: true })
  Object.defineProperty(withIpc, 'channel', { get: () => channel.control(), enumerable: true })
  withIpc.send = (message: unknown, ...rest: unknown[]) => channel.send(message, ...rest)
  withIpc.disconnect = () => channel.disconnect()
  return withIpc
}
