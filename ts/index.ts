/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */

export type { NamespaceErrorCode, NamespaceErrorFields, SystemErrorCode } from './errors'
export { NamespaceError } from './errors'
export { Namespace } from './namespace'
export type { RuleCode } from './native'
export type {
  ListenAddress,
  LookupCallback,
  LookupOptions,
  NsAgentOptions,
  NsDispatcherOptions,
  NsListenOptions,
  SocketDomain,
  SocketType,
} from './net'
export type {
  ExecError,
  ExecOptions,
  ExecResult,
  ExitStatus,
  IdMap,
  IdMapEntry,
  JoinOption,
  SpawnOptions,
  StdioOption,
} from './spawn'
export { exec, NsChildProcess, spawn } from './spawn'

import './net'

export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
export { NAMESPACE_TYPES } from './types'
