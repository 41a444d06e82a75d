// A.connect(): a net.Socket whose descriptor was made inside the namespace, connected by Node as
// usual (its handle adopts the descriptor, then Node connects it). Host names resolve with
// A.lookup (inside).

import { closeSync } from 'node:fs'
import type * as net from 'node:net'

import { lazyNet } from '../builtins'
import { native } from '../errors'
import { binding } from '../loader'
import type { NativeNamespace } from '../native'
import { invalidArgType, validateObject } from '../validate'
import { type LookupCallback, type LookupOptions, lookup } from './lookup'
import { DOMAINS, netHandle, SOCKET_TYPES } from './socket'

/** net.connect's options (TCP or IPC). */
export type NsConnectOptions = net.NetConnectOpts

/**
 * Bun's and Deno's net.Socket make a socket of their own when they connect, whatever descriptor
 * they were given (both connected from the host's namespace, tried with Bun 1.4 and Deno 2.9):
 * refused there rather than connected from the wrong namespace.
 */
const CONNECT_UNAVAILABLE = process.versions.bun ? 'Bun' : process.versions.deno ? 'Deno' : undefined

/** The options of `new net.Socket()` that go to the constructor rather than to connect(). */
const SOCKET_KEYS = ['allowHalfOpen', 'noDelay', 'keepAlive', 'keepAliveInitialDelay', 'onread', 'signal'] as const

/** connect()'s arguments as net.connect takes them: (options), (port, host?), (path). */
export function normalizeConnectArgs(args: unknown[]): Record<string, unknown> {
  const [a, b] = args
  if (a !== null && typeof a === 'object') return { ...validateObject(a, 'options') }
  if (typeof a === 'string' && !/^\d+$/.test(a)) return { path: a }
  if (typeof a === 'number' || typeof a === 'string') return { port: a, host: typeof b === 'string' ? b : undefined }
  throw invalidArgType('options', 'of type object', a)
}

/** Node's TCP handle, as far as adopting a descriptor goes (what `new net.Socket({ fd })` calls). */
interface TcpHandle {
  open(fd: number): number
  /** The handle's descriptor, -1 while it has none. */
  readonly fd: number
}

/**
 * A net.Socket connecting from inside the namespace `this` holds: `connect(options)`,
 * `connect(port, host)` or `connect(path)`, with net.connect's options. A host name resolves
 * inside (with `options.lookup` if given), to IPv4 unless `family: 6`; IPv6 and IPv4 literals
 * pick their own family. The optional listener is added for 'connect'.
 *
 * For a path the socket is made at once and adopted with `new net.Socket({ fd })` (Node connects
 * a unix socket within connect()). For TCP, net.connect's own socket is built, and its handle
 * (which connect() creates without a descriptor, making one only when it connects, a tick later
 * for an address and after the lookup for a name) adopts the descriptor made inside, as
 * `{ fd }` would: at once for an address, once the name is resolved for a host name. A socket
 * adopted earlier would sit unconnected (and already reading) meanwhile, which the event loop
 * sees as a hang-up.
 */
export function connect(this: unknown, ...args: unknown[]): net.Socket {
  const h = netHandle(this, 'connect')
  const listener = args.find((a, i) => i > 0 && typeof a === 'function') as (() => void) | undefined
  const o = normalizeConnectArgs(args.filter((a) => typeof a !== 'function'))
  const ctor: Record<string, unknown> = {}
  for (const k of SOCKET_KEYS) if (o[k] !== undefined) ctor[k] = o[k]
  const opts: Record<string, unknown> = { ...o }
  for (const k of SOCKET_KEYS) delete opts[k]
  if (CONNECT_UNAVAILABLE) {
    const err = new Error(
      `The feature connect() is unavailable on ${CONNECT_UNAVAILABLE}: its net.Socket connects a socket of its own, outside the namespace`,
    ) as Error & { code: string }
    err.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM'
    throw err
  }
  const N = lazyNet()
  if (typeof o.path === 'string') {
    const socket = adopt(
      N,
      native(() => binding().socketIn(h, DOMAINS.unix, SOCKET_TYPES.stream, 0)),
      ctor,
    )
    if (typeof o.timeout === 'number') socket.setTimeout(o.timeout)
    return socket.connect(opts as unknown as net.NetConnectOpts, listener)
  }
  const host = o.host === undefined || o.host === null || o.host === '' ? 'localhost' : o.host
  const ip = typeof host === 'string' ? N.isIP(host) : 0
  const family = ip !== 0 ? ip : o.family === 6 ? 6 : 4
  // Each attempt of autoSelectFamily makes a socket of its own, outside: one address it is.
  Object.assign(opts, { host, family, autoSelectFamily: false })
  const socket = new N.Socket(ctor)
  if (ip === 0) {
    const resolve = (typeof o.lookup === 'function' ? o.lookup : lookup.bind(this)) as typeof lookup
    opts.lookup = (name: string, lo: LookupOptions, cb: LookupCallback) =>
      resolve.call(this, name, { ...lo, family }, (err, address, fam) => {
        if (err) return cb(err, address, fam)
        try {
          openInside(socket, h, (fam ?? N.isIP(String(address))) === 6 ? DOMAINS.inet6 : DOMAINS.inet)
        } catch (e) {
          return cb(e as NodeJS.ErrnoException, '', fam)
        }
        cb(null, address, fam)
      })
  }
  if (typeof o.timeout === 'number') socket.setTimeout(o.timeout)
  socket.connect(opts as unknown as net.NetConnectOpts, listener)
  if (ip !== 0) {
    // Node connects to an address on the next tick: the handle gets its descriptor before that.
    try {
      openInside(socket, h, family === 6 ? DOMAINS.inet6 : DOMAINS.inet)
    } catch (e) {
      socket.destroy()
      throw e
    }
  }
  return socket
}

/**
 * Gives the handle `socket.connect()` created a stream socket made inside `h`. Throws (and
 * closes the descriptor) when the handle is missing or already has a socket, which would mean
 * a Node that connects earlier than this module knows: the connection would be made outside.
 */
function openInside(socket: net.Socket, h: NativeNamespace, domain: number): void {
  const handle = (socket as unknown as { _handle: TcpHandle | null })._handle
  if (!handle || handle.fd !== -1) {
    throw Object.assign(new Error('connect: the socket has no handle waiting for a descriptor'), {
      code: 'ERR_INTERNAL_ASSERTION',
    })
  }
  const fd = native(() => binding().socketIn(h, domain, SOCKET_TYPES.stream, 0))
  const rc = handle.open(fd)
  if (rc !== 0) {
    closeSync(fd)
    throw Object.assign(new Error(`open ${rc}`), { errno: rc, syscall: 'open' })
  }
}

/** new net.Socket({ fd }) for a descriptor of ours, closed again if Node refuses it. */
function adopt(N: typeof net, fd: number, ctor: Record<string, unknown>): net.Socket {
  try {
    return new N.Socket({ ...ctor, fd, readable: true, writable: true })
  } catch (e) {
    closeSync(fd)
    throw e
  }
}
