// Handles on an IPC channel, as Node's child_process passes them: the handle's kind names the
// NODE_HANDLE message's `type`; sending takes the handle's descriptor (a net.Socket sent without
// `keepOpen` is detached from its object at once and closed once the child has acknowledged it);
// receiving builds the same kind of object around the descriptor that arrived. Node's own objects
// only, through their public constructors and the properties every handle-passing library reads
// (`_handle`, its `fd`): no internal binding.

import type { Socket as DgramSocket, SocketType } from 'node:dgram'
import type { Server, Socket } from 'node:net'

import { lazyDgram, lazyNet } from '../builtins'
import { binding } from '../loader'
import type { SocketLists } from './ipc-socket-list'

/**
 * Closes a descriptor of the channel's (ours, a duplicate, one that arrived), natively: node:fs
 * on a worker thread warns about closing what it did not open. Never throws (cleanup paths).
 */
export function closeFd(fd: number): void {
  try {
    binding().channelCloseFd(fd)
  } catch {
    // EBADF: closed already; nothing else can fail in close() on a socket or pipe
  }
}

/** The `type` of a NODE_HANDLE message: what was sent, so that the receiver rebuilds it. */
export type HandleType = 'net.Socket' | 'net.Server' | 'net.Native' | 'dgram.Socket' | 'dgram.Native'

/** A handle's native side, as the sender holds it until the child acknowledges it. */
export interface NativeHandle {
  /** Its descriptor (Linux), or -1 once closed. */
  readonly fd: number
  /** Closes it (the parent's copy). */
  close(): void
}

/** The NODE_HANDLE message that carries a handle. */
export interface HandleMessage {
  cmd: 'NODE_HANDLE'
  type: HandleType
  msg: unknown
  dgramType?: SocketType
  /** For a socket a net.Server accepted: that server's key (ipc-socket-list.ts). */
  key?: string
}

/** What `send()` takes as options with a handle (and Node's legacy `swallowErrors`). */
export interface HandleOptions {
  keepOpen?: boolean
  swallowErrors?: boolean
}

type WithHandle = { _handle?: (NativeHandle & { onread?: unknown; readStop?(): number }) | null }

/** The constructor name of a native handle that has a descriptor (TCP, Pipe, UDP), else ''. */
function nativeKind(handle: unknown): string {
  const h = handle as { constructor?: { name?: unknown }; fd?: unknown } | null
  return typeof h?.fd === 'number' && typeof h.constructor?.name === 'string' ? h.constructor.name : ''
}

/** Node's error for a handle it cannot send. */
function invalidHandleType(): TypeError {
  return Object.assign(new TypeError('This handle type cannot be sent'), { code: 'ERR_INVALID_HANDLE_TYPE' })
}

/** The NODE_HANDLE `type` of `handle`, in Node's order of checks; ERR_INVALID_HANDLE_TYPE else. */
export function handleType(handle: unknown): HandleType {
  const net = lazyNet()
  if (handle instanceof net.Socket) return 'net.Socket'
  if (handle instanceof net.Server) return 'net.Server'
  const kind = nativeKind(handle)
  if (kind === 'TCP' || kind === 'Pipe') return 'net.Native'
  if (handle instanceof lazyDgram().Socket) return 'dgram.Socket'
  if (kind === 'UDP') return 'dgram.Native'
  throw invalidHandleType()
}

/** A dgram socket's native handle: held under Node's internal state symbol, which is not exported. */
function dgramHandle(socket: DgramSocket): NativeHandle | undefined {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol')
  return state ? (socket as unknown as Record<symbol, { handle?: NativeHandle }>)[state]?.handle : undefined
}

/**
 * The native handle to send for `handle` (whose type `message` names), or undefined when it has
 * none (a closed socket, a server not listening): the message then goes without it, as in Node.
 * A socket a server accepted gets that server's key, tracked in `lists`.
 */
export function nativeOf(
  message: HandleMessage,
  handle: unknown,
  options: HandleOptions,
  lists: SocketLists,
): NativeHandle | undefined {
  let native: NativeHandle | null | undefined
  switch (message.type) {
    case 'net.Socket': {
      const socket = handle as Socket &
        WithHandle & { server?: { _connections: number; _connectionKey?: string } | null }
      const h = socket._handle
      if (!h) return undefined
      // One a server accepted: the child counts it for that server, which asks it (Node's).
      if (socket.server) message.key = lists.sending(socket.server)
      if (!options.keepOpen) {
        // Detached from its object now, as Node does: what arrives meanwhile is the child's.
        h.readStop?.()
        h.onread = () => {}
        socket._handle = null
        socket.setTimeout(0)
        if (socket.server) socket.server._connections--
      }
      native = h
      break
    }
    case 'net.Server':
      native = (handle as Server & WithHandle)._handle
      break
    case 'dgram.Socket':
      message.dgramType = (handle as DgramSocket & { type: SocketType }).type
      native = dgramHandle(handle as DgramSocket)
      break
    default:
      native = handle as NativeHandle
  }
  return native && native.fd >= 0 ? native : undefined
}

/**
 * Builds what the child sent as `message.type` around descriptor `fd` (which it then owns), and
 * calls `emit` with it once it is ready (a server once it listens): a net.Socket (counted in
 * `lists` when it names a server's key), net.Server or dgram.Socket. The native forms come as those objects too (a raw handle cannot be made without
 * Node's internal bindings): a listening socket as a net.Server. Undefined, with `fd` closed,
 * when the descriptor is not what the type says.
 */
export function fromFd(message: HandleMessage, fd: number, lists: SocketLists, emit: (handle: unknown) => void): void {
  try {
    const net = lazyNet()
    let type: string = message.type
    let dgramType = message.dgramType
    if (type === 'net.Native' || type === 'dgram.Native') {
      const [listening, family] = binding().socketShape(fd)
      if (type === 'net.Native') type = listening ? 'net.Server' : 'net.Socket'
      else [type, dgramType] = ['dgram.Socket', family === 10 ? 'udp6' : 'udp4']
    }
    if (type === 'net.Server') {
      const server = new net.Server()
      server.listen({ fd }, () => emit(server))
    } else if (type === 'net.Socket') {
      const socket = new net.Socket({ fd, readable: true, writable: true })
      if (typeof message.key === 'string') lists.got(message.key, socket)
      emit(socket)
    } else if (type === 'dgram.Socket') {
      const socket = lazyDgram().createSocket(dgramType ?? 'udp4')
      socket.bind({ fd }, () => emit(socket))
    } else {
      closeFd(fd)
      emit(undefined)
    }
  } catch {
    closeFd(fd)
    emit(undefined)
  }
}

/**
 * The descriptors that arrived on a channel, by the stream range of the read that brought them:
 * a read that brings descriptors ends with the bytes that came with them (the kernel does not
 * join a later write to it), so they belong to the NODE_HANDLE message that starts in that range.
 */
export class ArrivedFds {
  #held: { start: number; end: number; fds: number[] }[] = []

  /** Descriptors `fds` came with the stream's bytes [start, end). */
  add(start: number, end: number, fds: number[]): void {
    if (fds.length > 0) this.#held.push({ start, end, fds })
  }

  /** The descriptor of the NODE_HANDLE message starting at stream offset `start`, if one came. */
  take(start: number): number | undefined {
    const i = this.#held.findIndex((h) => h.start <= start && start < h.end)
    if (i < 0) return undefined
    const [{ fds }] = this.#held.splice(i, 1)
    for (const extra of fds.slice(1)) closeFd(extra)
    return fds[0]
  }

  /** Closes those that no message can take any more: all that came before stream offset `end`. */
  closeBefore(end: number): void {
    const stale = this.#held.filter((h) => h.end <= end)
    this.#held = this.#held.filter((h) => h.end > end)
    for (const h of stale) for (const fd of h.fds) closeFd(fd)
  }

  /** Closes every descriptor held (the channel closed). */
  closeAll(): void {
    this.closeBefore(Number.POSITIVE_INFINITY)
  }
}
