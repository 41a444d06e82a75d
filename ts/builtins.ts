// Node's built-in modules that only some calls of nsjs need, loaded on first use: importing nsjs
// loads none of them, and together they take longer to load than nsjs itself (issue 12).
import type * as dgram from 'node:dgram'
import type * as http from 'node:http'
import type * as https from 'node:https'
import type * as net from 'node:net'
import type * as os from 'node:os'
import type * as tls from 'node:tls'
import type * as v8 from 'node:v8'
import type * as workerThreads from 'node:worker_threads'

let netModule: typeof net | undefined
/** `node:net`, kept after the first call: require() of a builtin costs about half a microsecond. */
export const lazyNet = (): typeof net => {
  netModule ??= require('node:net') as typeof net
  return netModule
}
let osModule: typeof os | undefined
/** `node:os` (its errno and signal numbers: only an error or a signal by name needs them). */
export const lazyOs = (): typeof os => {
  osModule ??= require('node:os') as typeof os
  return osModule
}
/** `node:dgram` */
export const lazyDgram = (): typeof dgram => require('node:dgram')
/** `node:http` */
export const lazyHttp = (): typeof http => require('node:http')
/** `node:https` */
export const lazyHttps = (): typeof https => require('node:https')
/** `node:tls` */
export const lazyTls = (): typeof tls => require('node:tls')
/** `node:v8` */
export const lazyV8 = (): typeof v8 => require('node:v8')
/** `node:worker_threads` */
export const lazyWorkerThreads = (): typeof workerThreads => require('node:worker_threads')
