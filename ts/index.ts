/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */
export { Namespace } from './namespace'
export { NamespaceError } from './errors'
export type { NamespaceErrorFields } from './errors'
export { exec, spawn, NsChildProcess } from './spawn'
export type { ExecError, ExecOptions, ExecResult, ExitStatus, IdMap, IdMapEntry, JoinOption, SpawnOptions, StdioOption } from './spawn'
export { NAMESPACE_TYPES } from './types'
export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
