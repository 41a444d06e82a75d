// Networking inside a net namespace from one process: see namespace-methods.ts for the API.
import './namespace-methods'

export type { NsAgentOptions, NsDispatcherOptions } from './http'
export type { ListenAddress, NsListenOptions } from './listen'
export type { LookupCallback, LookupOptions } from './lookup'
export type { SocketDomain, SocketType } from './socket'
