// A.agent() and A.dispatcher(): Node's HTTP clients with their connections made inside a net
// namespace. Both only replace how a connection is opened (A.connect, plus TLS on top of it for
// https); pooling, keep-alive and everything else are Node's and undici's own.
import type * as http from 'node:http'
import type * as https from 'node:https'
import type * as net from 'node:net'
import type * as tls from 'node:tls'

import { lazyHttp, lazyHttps, lazyNet, lazyTls } from '../builtins'
import type { Namespace } from '../namespace'
import { validateObject } from '../validate'
import { connect } from './connect'
import { netHandle } from './socket'

/** http.Agent's options (https.Agent's with `https: true`); keepAlive defaults to true. */
export type NsAgentOptions = (http.AgentOptions | https.AgentOptions) & {
  /** An https.Agent (TLS) rather than an http.Agent. */
  https?: boolean
}

/**
 * An http.Agent (https.Agent with `https: true`) whose connections are made inside the namespace
 * `this` holds. Keep-alive pooling is on unless `keepAlive: false`.
 */
export function agent(this: Namespace, options: NsAgentOptions = {}): http.Agent {
  netHandle(this, 'connect')
  const o = validateObject(options, 'options') as NsAgentOptions
  const ns = this
  const { https: secure, ...rest } = o
  const base = { keepAlive: true, ...rest }
  if (secure) {
    const tlsConnect = lazyTls().connect
    return new (class extends lazyHttps().Agent {
      override createConnection(opts: tls.ConnectionOptions): net.Socket {
        const raw = connect.call(ns, { host: opts.host ?? 'localhost', port: Number(opts.port ?? 443) })
        return tlsConnect({ ...opts, socket: raw })
      }
    })(base)
  }
  return new (class extends lazyHttp().Agent {
    override createConnection(opts: net.NetConnectOpts): net.Socket {
      return connect.call(ns, opts)
    }
  })(base)
}

/** undici's Agent options; `connect` is nsjs's own (TLS options for it go in `tls`). */
export interface NsDispatcherOptions {
  /** TLS options for https origins (ca, rejectUnauthorized, servername, ...). */
  tls?: tls.ConnectionOptions
  /** Other undici Agent options (keepAliveTimeout, connections, pipelining, ...). */
  [key: string]: unknown
}

/**
 * An undici `Agent` (a Dispatcher for `fetch(url, { dispatcher })` and undici's API) whose
 * connections are made inside the namespace `this` holds. Needs the `undici` package installed
 * next to nsjs (nsjs has no dependencies): undici 6, the line Node 20's global fetch bundles and
 * accepts as `dispatcher`.
 */
export function dispatcher(this: Namespace, options: NsDispatcherOptions = {}): import('undici').Agent {
  netHandle(this, 'connect')
  const { tls: tlsOptions, ...rest } = validateObject(options, 'options') as NsDispatcherOptions
  const undici = loadUndici()
  const connector = (
    opts: { hostname: string; port: string; protocol: string; servername?: string | null },
    cb: (err: Error | null, socket: net.Socket | tls.TLSSocket | null) => void,
  ) => {
    const secure = opts.protocol === 'https:'
    const port = Number(opts.port) || (secure ? 443 : 80)
    const host = opts.hostname.replace(/^\[(.*)\]$/, '$1')
    let socket: net.Socket
    try {
      socket = connect.call(this, { host, port })
    } catch (e) {
      return cb(e as Error, null)
    }
    let out: net.Socket | tls.TLSSocket = socket
    if (secure) {
      out = lazyTls().connect({
        ...tlsOptions,
        socket,
        host, // what the certificate is checked against
        // SNI carries host names only (RFC 6066): none for an address.
        servername: opts.servername || tlsOptions?.servername || (lazyNet().isIP(host) === 0 ? host : undefined),
        ALPNProtocols: ['http/1.1'],
      })
    }
    const ready = secure ? 'secureConnect' : 'connect'
    const onError = (e: Error) => cb(e, null)
    out.once('error', onError)
    out.once(ready, () => {
      out.off('error', onError)
      cb(null, out)
    })
  }
  return new undici.Agent({ ...rest, connect: connector as never })
}

/** The user's undici, or an error that says how to get it. */
function loadUndici(): typeof import('undici') {
  try {
    return require('undici') as typeof import('undici')
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e
    const err = new Error(
      "dispatcher() needs the undici package, which nsjs does not install (it has no dependencies): npm install undici@6 (the line Node 20's fetch bundles)",
    ) as Error & { code: string }
    err.code = 'ERR_MODULE_NOT_FOUND'
    throw err
  }
}
