// A.lookup(): dns.lookup inside a net namespace. getaddrinfo runs on a native thread that is in
// the namespace (never on a libuv pool thread, whose namespace is whatever it was born in), with
// /etc/netns/<name>/ over /etc for a namespace persisted as /run/netns/<name>, as `ip netns exec`.
import type * as dns from 'node:dns'

import { lazyNet } from '../builtins'
import { fromNative } from '../errors'
import { binding } from '../loader'
import type { NativeNamespace } from '../native'
import { invalidArgValue, validateBoolean, validateFunction, validateObject } from '../validate'
import { netHandle } from './socket'

/** dns.lookup's options, as far as they apply. */
export interface LookupOptions {
  /** 4, 6, or 0 (either), as dns.lookup; also 'IPv4' / 'IPv6'. */
  family?: number | 'IPv4' | 'IPv6'
  /** getaddrinfo flags (dns.ADDRCONFIG, dns.V4MAPPED, dns.ALL). */
  hints?: number
  /** All addresses, as an array of `{ address, family }`. */
  all?: boolean
  /** Accepted for dns.lookup compatibility: the resolver's order is always kept. */
  verbatim?: boolean
  /** Accepted for dns.lookup compatibility (Node 22): the resolver's order is always kept. */
  order?: 'verbatim' | 'ipv4first' | 'ipv6first'
}

/** What `Namespace#lookup` calls back with, as dns.lookup: an address (or all of them) and its family. */
export type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void

function familyOf(v: unknown): 0 | 4 | 6 {
  if (v === undefined || v === 0 || v === null) return 0
  if (v === 4 || v === 'IPv4') return 4
  if (v === 6 || v === 'IPv6') return 6
  throw invalidArgValue('options.family', v, 'must be one of: 0, 4, 6')
}

/** The addresses of `hostname` inside `h`'s namespace, or dns.lookup's error. */
export async function resolveIn(
  h: NativeNamespace,
  hostname: string,
  family: 0 | 4 | 6,
  hints: number,
): Promise<dns.LookupAddress[]> {
  const ip = lazyNet().isIP(hostname)
  if (ip !== 0) return [{ address: hostname, family: ip }]
  let answer: Awaited<ReturnType<ReturnType<typeof binding>['lookupIn']>>
  try {
    answer = await binding().lookupIn(h, hostname, family, hints)
  } catch (err) {
    throw fromNative(err)
  }
  if (answer.code === undefined || answer.code === null) return answer.addresses
  const e = new Error(`getaddrinfo ${answer.code} ${hostname}`) as NodeJS.ErrnoException & { hostname: string }
  Object.assign(e, { code: answer.code, errno: answer.errno, syscall: 'getaddrinfo', hostname })
  throw e
}

/**
 * dns.lookup inside the namespace `this` holds, with dns.lookup's signature: `(hostname,
 * [options | family], callback)`. See {@link LookupOptions}.
 */
export function lookup(
  this: unknown,
  hostname: string,
  options: LookupOptions | number | LookupCallback,
  callback?: LookupCallback,
): void {
  let opts: unknown = options
  let cb: unknown = callback
  if (typeof options === 'function') {
    cb = options
    opts = {}
  }
  validateFunction(cb, 'callback')
  const o = typeof opts === 'number' ? { family: opts } : validateObject(opts, 'options')
  const family = familyOf(o.family)
  const all = validateBoolean(o.all, 'options.all')
  const hints = o.hints === undefined ? 0 : Number(o.hints)
  const h = netHandle(this, 'getaddrinfo')
  if (typeof hostname !== 'string' || hostname === '') {
    // dns.lookup answers a falsy name with no address rather than an error.
    process.nextTick(cb as LookupCallback, null, all ? [] : (null as unknown as string), family === 6 ? 6 : 4)
    return
  }
  resolveIn(h, hostname, family, hints).then(
    (addrs) => {
      const done = cb as LookupCallback
      if (all) return done(null, addrs)
      const first = addrs[0]
      if (first === undefined) {
        const e = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
          code: 'ENOTFOUND',
          syscall: 'getaddrinfo',
          hostname,
        })
        return done(e, '')
      }
      done(null, first.address, first.family)
    },
    (err) => (cb as LookupCallback)(err, ''),
  )
}
