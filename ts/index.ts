/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */

export type { NamespaceErrorCode, NamespaceErrorFields, SystemErrorCode } from './errors'
export { NamespaceError } from './errors'
export { Namespace } from './namespace'
export type { RuleCode } from './native'
// Everything ts/spawn and ts/net export is public; importing them also adds their Namespace
// methods (spawn, exec; listen, connect, ...).
export * from './net'
export * from './spawn'

export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
export { NAMESPACE_TYPES } from './types'
