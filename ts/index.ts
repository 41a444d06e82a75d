/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */

export type { NamespaceErrorCode, NamespaceErrorFields, SystemErrorCode } from './errors'
export { NamespaceError } from './errors'
export { Namespace } from './namespace'
export type { RuleCode } from './native'
// Everything ts/spawn and ts/net export is public. Their code loads on first use (ts/lazy.ts):
// here only their types (which add the Namespace methods: spawn, exec; listen, connect, ...),
// the placeholders of those methods, spawn/exec/fork that load the rest, and NsChildProcess.
export type * from './net'

import './net/public'

export type * from './spawn'
export { exec, fork, NsChildProcess, spawn } from './spawn/public'

export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
export { NAMESPACE_TYPES } from './types'
