/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */

export type { NamespaceErrorFields } from './errors'
export { NamespaceError } from './errors'
export { Namespace } from './namespace'
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
  Capability,
  ExecError,
  ExecOptions,
  ExecResult,
  ExitStatus,
  ForkOptions,
  IdMap,
  IdMapEntry,
  JoinOption,
  MountEntry,
  NsForkedProcess,
  Rlimits,
  RlimitValue,
  SeccompAction,
  SeccompArg,
  SeccompPolicy,
  SeccompRule,
  SpawnOptions,
  StdioOption,
} from './spawn'
export { exec, fork, NsChildProcess, spawn } from './spawn'

import './net'

export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
export { NAMESPACE_TYPES } from './types'
