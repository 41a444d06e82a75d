// A.listen(server, options): the listening socket is made inside the namespace and bound there,
// then handed to the server with server.listen({ fd }), which listens on it as on any other.
import { closeSync, readFileSync } from 'node:fs'
import type * as net from 'node:net'

import { lazyNet } from '../builtins'
import { fromNative } from '../errors'
import { binding } from '../loader'
import type { NativeNamespace } from '../native'
import { invalidArgType, validateBoolean, validateInteger, validateObject } from '../validate'
import { resolveIn } from './lookup'
import { netHandle, nodeSocketError } from './socket'

/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108

let padsAbstract: Promise<boolean> | undefined

/**
 * Whether this Node binds (and connects to) an abstract unix name as the whole of sun_path, the
 * name padded with NUL bytes (Node 20's libuv), or as the name alone (Node 22 and later): found
 * once by binding a probe and reading its name back from the calling thread's /proc/net/unix.
 */
function nodePadsAbstract(): Promise<boolean> {
  padsAbstract ??= new Promise((resolve) => {
    const name = `nsjs-probe-${process.pid}-${process.hrtime.bigint()}`
    const probe = lazyNet().createServer()
    probe.once('error', () => resolve(false))
    probe.listen(`\0${name}`, () => {
      // The path is a line's last field, NULs shown as '@': "@name" alone, or "@name@@@...".
      const line = readFileSync('/proc/thread-self/net/unix', 'utf8')
        .split('\n')
        .find((l) => l.includes(`@${name}`))
      probe.close()
      resolve(line !== undefined && !line.trimEnd().endsWith(`@${name}`))
    })
  })
  return padsAbstract
}

/** What `listen()` takes: net.Server#listen's options. */
export interface NsListenOptions {
  /** Port to bind (0 or absent: the kernel picks one). */
  port?: number
  /** Address or name (resolved inside); absent: `::` (and IPv4 too), or 0.0.0.0 without IPv6. */
  host?: string
  /** A unix socket path instead of host and port; `\0name` is an abstract socket of the namespace. */
  path?: string
  /** listen(2)'s backlog (Node's default 511). */
  backlog?: number
  /** For an IPv6 address: IPv6 only, not IPv4 as well. */
  ipv6Only?: boolean
  /** SO_REUSEPORT: several sockets may bind the same port (Linux 3.9). */
  reusePort?: boolean
  /**
   * Always true in effect: a socket made here is never handed to cluster's primary (which could
   * not use this process's descriptor); accepted for net's signature.
   */
  exclusive?: boolean
}

/** The address a listening server reports: `{ address, family, port }`, or the unix path. */
export type ListenAddress = net.AddressInfo | string

function isEafnosupport(e: unknown): boolean {
  return (e as { code?: string }).code === 'EAFNOSUPPORT'
}

/** A socket made and bound inside a namespace: its descriptor, the IP address it was bound to as
 * given, and the port (0 for unix). */
export interface BoundSocket {
  fd: number
  host: string | undefined
  port: number
}

/** socketBoundIn's flags (crates/node/src/socket.rs, BIND_*). */
const REUSE_ADDR = 1
const REUSE_PORT = 2
const IPV6_ONLY = 4

/** A bound socket inside `h` (one native call, which closes the descriptor again when bind fails). */
function boundSocket(
  h: NativeNamespace,
  where: { host?: string; port: number; path?: string },
  opts: { reusePort: boolean; ipv6Only: boolean; reuseAddr: boolean },
  type: number,
): BoundSocket {
  const flags = (opts.reuseAddr ? REUSE_ADDR : 0) | (opts.reusePort ? REUSE_PORT : 0) | (opts.ipv6Only ? IPV6_ONLY : 0)
  // The descriptor times 65536 plus the port, in one number (see socket.rs).
  const packed = binding().socketBoundIn(h, type, where.host ?? null, where.port, where.path ?? null, flags)
  return { fd: Math.floor(packed / 65536), host: where.host, port: packed % 65536 }
}

/** Binds a new socket of `type` inside `h` at `where`; the default host as Node chooses it. */
export function bindInside(
  h: NativeNamespace,
  syscall: string,
  where: { host?: string; port: number; path?: string },
  opts: { reusePort: boolean; ipv6Only: boolean; reuseAddr: boolean },
  type: number,
  any6 = '::',
  any4 = '0.0.0.0',
): BoundSocket {
  try {
    if (where.path === undefined && where.host === undefined) {
      try {
        return boundSocket(h, { ...where, host: any6 }, opts, type)
      } catch (e) {
        if (!isEafnosupport(fromNative(e))) throw e
        return boundSocket(h, { ...where, host: any4 }, opts, type)
      }
    }
    return boundSocket(h, where, opts, type)
  } catch (e) {
    const err = fromNative(e)
    throw nodeSocketError(err, syscall, h, {
      address: where.path === undefined ? (where.host ?? any6) : undefined,
      port: where.path === undefined ? where.port : undefined,
      path: where.path,
    })
  }
}

/**
 * Makes `server` listen on a socket made and bound inside the namespace `this` holds; resolves
 * with `server.address()` once it listens, rejects with Node's error shape (EADDRINUSE, ...).
 */
export async function listen(this: unknown, server: net.Server, options: NsListenOptions = {}): Promise<ListenAddress> {
  const h = netHandle(this, 'listen')
  const N = lazyNet()
  if (!(server instanceof N.Server)) throw invalidArgType('server', 'an instance of net.Server', server)
  const o = validateObject(options, 'options')
  const port = o.port === undefined ? 0 : validateInteger(o.port, 'options.port', 0, 65535)
  const backlog = o.backlog === undefined ? undefined : validateInteger(o.backlog, 'options.backlog', 0, 0x7fffffff)
  const opts = {
    reusePort: validateBoolean(o.reusePort, 'options.reusePort'),
    ipv6Only: validateBoolean(o.ipv6Only, 'options.ipv6Only'),
    reuseAddr: true, // libuv sets SO_REUSEADDR on every TCP bind
  }
  validateBoolean(o.exclusive, 'options.exclusive')
  let host: string | undefined
  let path: string | undefined
  if (o.path !== undefined) {
    if (typeof o.path !== 'string' || o.path === '') throw invalidArgType('options.path', 'a non-empty string', o.path)
    path = o.path
    // An abstract name is bound as this Node's own listen() binds it (see nodePadsAbstract), so
    // that net.connect('\0name') and connect() reach it.
    if (path.startsWith('\0') && (await nodePadsAbstract())) {
      path = path + '\0'.repeat(Math.max(0, SUN_PATH - Buffer.byteLength(path)))
    }
  } else if (o.host !== undefined && o.host !== null) {
    if (typeof o.host !== 'string') throw invalidArgType('options.host', 'of type string', o.host)
    if (o.host !== '') host = N.isIP(o.host) !== 0 ? o.host : await firstAddress(h, o.host)
  }
  const bound = bindInside(h, 'listen', { host, port, path }, opts, 1)
  const fd = bound.fd
  const handle = path === undefined ? adoptingHandle(fd) : undefined
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => {
        server.off('listening', onListening)
        reject(e)
      }
      const onListening = () => {
        server.off('error', onError)
        resolve()
      }
      server.once('error', onError)
      server.once('listening', onListening)
      try {
        if (handle === undefined) server.listen({ fd, backlog, exclusive: true })
        else if (backlog === undefined) server.listen(handle)
        else server.listen(handle, backlog)
      } catch (e) {
        server.off('error', onError)
        server.off('listening', onListening)
        if (handle === undefined) closeSync(fd)
        else handle.close()
        throw e
      }
    })
  } catch (e) {
    throw nodeSocketError(e, 'listen', h, { address: host, port, path })
  }
  // A server listening on an adopted unix socket knows no pipe name: report the one asked for.
  if (path !== undefined) return o.path as string
  learnTcpHandle(server)
  // What server.address() would say, without asking the kernel again.
  const address = bound.host as string
  if (N.isIPv4(address)) return { address, family: 'IPv4', port: bound.port }
  // inet_ntop's form, as address() gives it ('0:0::1' is '::1').
  const canonical =
    typeof N.SocketAddress === 'function' ? new N.SocketAddress({ address, family: 'ipv6' }).address : address
  return { address: canonical, family: 'IPv6', port: bound.port }
}

/** Node's TCP handle (internal), as far as adopting a listening socket goes. */
interface TcpServerHandle {
  open(fd: number): number
  close(): void
}

/**
 * Node's TCP handle class, as the first server that adopted a socket of ours showed it
 * (`server._handle`). With it later servers get a handle that has adopted their socket already
 * (`listen(handle)`): what `listen({ fd })` builds, less asking the kernel what the descriptor
 * is (guessHandleType: fstat, getsockopt and getsockname, each time). Never on Bun or Deno.
 */
let TcpServer: (new (type: number) => TcpServerHandle) | undefined

/** A TCP server handle (TCPConstants.SERVER: 1) holding `fd`, once the class is known. */
function adoptingHandle(fd: number): TcpServerHandle | undefined {
  if (TcpServer === undefined) return undefined
  const handle = new TcpServer(1)
  if (handle.open(fd) === 0) return handle
  // Not adopted: the descriptor is still ours, and listen({ fd }) reports what Node makes of it.
  handle.close()
  return undefined
}

function learnTcpHandle(server: net.Server): void {
  if (TcpServer !== undefined || process.versions.bun !== undefined || process.versions.deno !== undefined) return
  const c = (server as unknown as { _handle?: { constructor?: unknown } | null })._handle?.constructor
  if (typeof c === 'function' && typeof c.prototype?.open === 'function' && typeof c.prototype?.listen === 'function') {
    TcpServer = c as new (type: number) => TcpServerHandle
  }
}

/** The first address of `name` inside `h`'s namespace (dns.lookup's ENOTFOUND when none). */
async function firstAddress(h: NativeNamespace, name: string): Promise<string> {
  const first = (await resolveIn(h, name, 0, 0))[0]
  if (first) return first.address
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), {
    code: 'ENOTFOUND',
    syscall: 'getaddrinfo',
    hostname: name,
  })
}
