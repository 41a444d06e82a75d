// Sockets made inside a net namespace: the raw descriptor (A.socket), the namespace of an existing
// socket (ofSocket / fromSocket), and the checks every socket function shares. The descriptor is
// made natively within one call (crates/sys/src/socket): the calling thread enters, makes it and is
// back before any JS runs, or a short-lived native thread makes it where the way back is unsure.
import type * as dgram from 'node:dgram'
import { getSystemErrorMap } from 'node:util'
import { namespaceError, native } from '../errors'
import { binding } from '../loader'
import { Namespace } from '../namespace'
import type { NativeNamespace } from '../native'
import { invalidArgType, validateFd, validateInteger, validateOneOf } from '../validate'

/** An address family by name, or an AF_* number. */
export type SocketDomain = 'unix' | 'inet' | 'inet6' | 'netlink' | 'packet' | number
/** A socket type by name, or a SOCK_* number (SOCK_CLOEXEC and SOCK_NONBLOCK are always added). */
export type SocketType = 'stream' | 'dgram' | 'raw' | 'seqpacket' | number

/** Address families by name (AF_*), as `socket()` takes them. */
export const DOMAINS = { unix: 1, inet: 2, inet6: 10, netlink: 16, packet: 17 } as const satisfies Record<
  Exclude<SocketDomain, number>,
  number
>
/** Socket types by name (SOCK_*). */
export const SOCKET_TYPES = { stream: 1, dgram: 2, raw: 3, seqpacket: 5 } as const satisfies Record<
  Exclude<SocketType, number>,
  number
>

/**
 * The native handle of `ns` if it is an open net namespace handle: ERR_NS_TYPE_MISMATCH for
 * another type, ERR_NS_CLOSED for a closed one, an ERR_INVALID_ARG_TYPE for anything else.
 */
export function netHandle(ns: unknown, syscall = 'socket'): NativeNamespace {
  if (!(ns instanceof Namespace)) throw invalidArgType('this', 'an instance of Namespace', ns)
  const h = ns.nativeHandle
  const type = ns.type
  if (type !== 'net') {
    throw namespaceError({ code: 'ERR_NS_TYPE_MISMATCH', errno: 0, syscall, nsType: type, expected: 'net' })
  }
  return h
}

function numberOf(v: unknown, name: string, table: Record<string, number>): number {
  if (typeof v === 'number') return validateInteger(v, name, 0, 0x7fffffff)
  if (typeof v !== 'string') throw invalidArgType(name, 'of type string or number', v)
  return table[validateOneOf(v, name, Object.keys(table))] as number
}

/** socket(2) inside `ns`: a close-on-exec, non-blocking descriptor the caller owns. */
export function socketIn(ns: unknown, domain: SocketDomain, type: SocketType, protocol = 0): number {
  const h = netHandle(ns)
  const d = numberOf(domain, 'domain', DOMAINS)
  const t = numberOf(type, 'type', SOCKET_TYPES)
  const p = validateInteger(protocol, 'protocol', 0, 0x7fffffff)
  return native(() => binding().socketIn(h, d, t, p))
}

/** Anything with a socket descriptor that {@link socketFdOf} understands. */
export type SocketLike = { _handle?: unknown } | dgram.Socket | number

/**
 * The descriptor of a net.Socket, net.Server (http, https, tls too), dgram.Socket, or a number.
 * Node exposes it only on its internal handle (`fd`), so that is where it is read.
 */
export function socketFdOf(x: unknown, name = 'socket'): number {
  if (typeof x === 'number') return validateFd(x, name)
  if (x !== null && typeof x === 'object') {
    // dgram keeps its handle behind a symbol (its `_handle` getter is deprecated).
    const state = Object.getOwnPropertySymbols(x).find((s) => s.description === 'state symbol')
    const handle: unknown = state
      ? (x as Record<symbol, { handle?: unknown }>)[state]?.handle
      : (x as { _handle?: unknown })._handle
    const fd = (handle as { fd?: unknown } | null | undefined)?.fd
    if (typeof fd === 'number' && fd >= 0) return fd
    throw invalidArgType(name, 'a socket with a descriptor (bound, listening or connected)', x)
  }
  throw invalidArgType(name, 'a net.Socket, net.Server, dgram.Socket or file descriptor', x)
}

/** The net namespace `socket` lives in (SIOCGSKNS), as a new handle. */
export function namespaceOfSocket(socket: unknown): Namespace {
  const fd = socketFdOf(socket)
  return Namespace.wrap(native(() => binding().socketNamespace(fd)))
}

/** The id the calling thread's net namespace knows `ns` by, or null (Namespace#netnsid). */
export function netnsidOf(ns: unknown): number | null {
  const h = netHandle(ns, 'netnsid')
  return native(() => binding().netnsid(h)) ?? null
}

/** `id` of a handle, for messages ('net:[4026532177]'), or '' when it cannot be read. */
function nsName(h: NativeNamespace): string {
  try {
    return `net:[${h.inode}]`
  } catch {
    return 'net namespace'
  }
}

/**
 * An error shaped as Node's socket errors are (`listen EADDRINUSE: address already in use
 * 10.0.0.1:80`), with the namespace named at the end of the message.
 */
export function nodeSocketError(
  cause: unknown,
  syscall: string,
  h: NativeNamespace,
  where: { address?: string; port?: number; path?: string },
): Error {
  const errno = (cause as { errno?: number }).errno
  const code = (cause as { code?: string }).code
  if (typeof errno !== 'number' || errno === 0 || typeof code !== 'string') return cause as Error
  const text = getSystemErrorMap().get(errno)?.[1] ?? code
  const at = where.path ?? (where.address !== undefined ? `${where.address}:${where.port ?? 0}` : undefined)
  const e = new Error(`${syscall} ${code}: ${text}${at ? ` ${at}` : ''} in ${nsName(h)}`) as Error &
    Record<string, unknown>
  Object.assign(e, { code, errno, syscall })
  if (where.address !== undefined) Object.assign(e, { address: where.address, port: where.port })
  if (where.path !== undefined) e.address = where.path
  return e
}
