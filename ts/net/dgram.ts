// A.createSocket(): a dgram.Socket whose descriptor is made inside the namespace when it is bound
// (explicitly, or implicitly by send() and connect(), which call bind()), then adopted by dgram
// through bind({ fd }). Everything else is dgram's own.
import type * as dgram from 'node:dgram'

import { lazyDgram, lazyNet } from '../builtins'
import { invalidArgValue, validateObject } from '../validate'
import { bindInside } from './listen'
import { resolveIn } from './lookup'
import { netHandle, SOCKET_TYPES } from './socket'

type BindCallback = () => void

/** bind()'s arguments as dgram takes them: (port, address, cb), (options, cb), (cb). */
function bindArgs(args: unknown[]): { port: number; address?: string; exclusive: boolean; cb?: BindCallback } {
  const cb = typeof args[args.length - 1] === 'function' ? (args.pop() as BindCallback) : undefined
  const [a, b] = args
  if (a !== null && typeof a === 'object') {
    const o = validateObject(a, 'options')
    if (o.fd !== undefined)
      throw invalidArgValue('options.fd', o.fd, 'is not supported: the socket is made inside the namespace')
    return {
      port: Number(o.port ?? 0),
      address: (o.address as string | undefined) || undefined,
      exclusive: !!o.exclusive,
      cb,
    }
  }
  return { port: Number(a ?? 0), address: typeof b === 'string' && b !== '' ? b : undefined, exclusive: false, cb }
}

/**
 * A dgram.Socket of `type` ('udp4', 'udp6', or dgram's options object) whose socket is made
 * inside the namespace `this` holds. `bind`, `send`, `connect`, `addMembership` work as on any
 * dgram socket; a host name given to bind resolves inside.
 */
export function createSocket(
  this: unknown,
  type: dgram.SocketType | dgram.SocketOptions,
  callback?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
): dgram.Socket {
  const h = netHandle(this, 'socket')
  const options = typeof type === 'string' ? { type } : { ...validateObject(type, 'type') }
  const sock = lazyDgram().createSocket(options as dgram.SocketOptions, callback)
  const v6 = options.type === 'udp6'
  const origBind = sock.bind
  const opts = {
    reusePort: false,
    ipv6Only: !!(options as dgram.SocketOptions).ipv6Only,
    reuseAddr: !!(options as dgram.SocketOptions).reuseAddr,
  }
  const adopt = (where: { host?: string; port: number }, cb?: BindCallback) => {
    let fd: number
    try {
      fd = bindInside(h, 'bind', where, opts, SOCKET_TYPES.dgram, v6 ? '::' : '0.0.0.0', v6 ? '::' : '0.0.0.0').fd
    } catch (e) {
      sock.emit('error', e)
      return
    }
    origBind.call(sock, { fd }, cb)
  }
  Object.defineProperty(sock, 'bind', {
    configurable: true,
    writable: true,
    value: function bind(this: dgram.Socket, ...args: unknown[]): dgram.Socket {
      const { port, address, cb } = bindArgs(args)
      if (address === undefined || lazyNet().isIP(address) !== 0) {
        adopt({ host: address ?? (v6 ? '::' : '0.0.0.0'), port }, cb)
      } else {
        resolveIn(h, address, v6 ? 6 : 4, 0).then(
          (a) =>
            a[0]
              ? adopt({ host: a[0].address, port }, cb)
              : sock.emit('error', Object.assign(new Error(`getaddrinfo ENOTFOUND ${address}`), { code: 'ENOTFOUND' })),
          (e) => sock.emit('error', e),
        )
      }
      return this
    },
  })
  return sock
}
