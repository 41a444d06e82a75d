// A.connect(): a net.Socket whose descriptor was made inside the namespace, connected by Node as
// usual (new net.Socket({ fd }) then connect). Host names resolve with A.lookup (inside).

import { closeSync } from 'node:fs'
import type * as net from 'node:net'

import { lazyNet } from '../builtins'
import { native } from '../errors'
import { binding } from '../loader'
import { invalidArgType, validateObject } from '../validate'
import { type LookupCallback, type LookupOptions, lookup } from './lookup'
import { DOMAINS, netHandle, SOCKET_TYPES } from './socket'

/** net.connect's options (TCP or IPC). */
export type NsConnectOptions = net.NetConnectOpts

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
}

/**
 * A net.Socket connecting from inside the namespace `this` holds: `connect(options)`,
 * `connect(port, host)` or `connect(path)`, with net.connect's options. A host name resolves
 * inside (with `options.lookup` if given), to IPv4 unless `family: 6`; IPv6 and IPv4 literals
 * pick their own family. The optional listener is added for 'connect'.
 *
 * For an address or a path the socket is made at once and adopted with `new net.Socket({ fd })`.
 * For a host name it is made once the name is resolved and adopted by the handle connect()
 * has just created, as `{ fd }` would: a socket adopted earlier would sit unconnected (and
 * already reading) for the lookup's duration, which the event loop sees as a hang-up.
 */
export function connect(this: unknown, ...args: unknown[]): net.Socket {
  const h = netHandle(this, 'connect')
  const listener = args.find((a, i) => i > 0 && typeof a === 'function') as (() => void) | undefined
  const o = normalizeConnectArgs(args.filter((a) => typeof a !== 'function'))
  const ctor: Record<string, unknown> = {}
  for (const k of SOCKET_KEYS) if (o[k] !== undefined) ctor[k] = o[k]
  const opts: Record<string, unknown> = { ...o }
  for (const k of SOCKET_KEYS) delete opts[k]
  let socket: net.Socket
  if (typeof o.path === 'string') {
    socket = adopt(
      native(() => binding().socketIn(h, DOMAINS.unix, SOCKET_TYPES.stream, 0)),
      ctor,
    )
  } else {
    const host = o.host === undefined || o.host === null || o.host === '' ? 'localhost' : o.host
    const ip = typeof host === 'string' ? lazyNet().isIP(host) : 0
    const family = ip !== 0 ? ip : o.family === 6 ? 6 : 4
    // Each attempt of autoSelectFamily makes a socket of its own, outside: one address it is.
    Object.assign(opts, { host, family, autoSelectFamily: false })
    if (ip !== 0) {
      socket = adopt(
        native(() => binding().socketIn(h, family === 6 ? DOMAINS.inet6 : DOMAINS.inet, SOCKET_TYPES.stream, 0)),
        ctor,
      )
    } else {
      const s = new (lazyNet().Socket)(ctor)
      socket = s
      const resolve = (typeof o.lookup === 'function' ? o.lookup : lookup.bind(this)) as typeof lookup
      opts.lookup = (name: string, lo: LookupOptions, cb: LookupCallback) =>
        resolve.call(this, name, { ...lo, family }, (err, address, fam) => {
          if (err) return cb(err, address, fam)
          try {
            const domain = (fam ?? lazyNet().isIP(String(address))) === 6 ? DOMAINS.inet6 : DOMAINS.inet
            const fd = native(() => binding().socketIn(h, domain, SOCKET_TYPES.stream, 0))
            const rc = (s as unknown as { _handle: TcpHandle })._handle.open(fd)
            if (rc !== 0) {
              closeSync(fd)
              throw Object.assign(new Error(`open ${rc}`), { errno: rc, syscall: 'open' })
            }
          } catch (e) {
            return cb(e as NodeJS.ErrnoException, '', fam)
          }
          cb(null, address, fam)
        })
    }
  }
  if (typeof o.timeout === 'number') socket.setTimeout(o.timeout)
  socket.connect(opts as unknown as net.NetConnectOpts, listener)
  return socket
}

/** new net.Socket({ fd }) for a descriptor of ours, closed again if Node refuses it. */
function adopt(fd: number, ctor: Record<string, unknown>): net.Socket {
  try {
    return new (lazyNet().Socket)({ ...ctor, fd, readable: true, writable: true })
  } catch (e) {
    closeSync(fd)
    throw e
  }
}
