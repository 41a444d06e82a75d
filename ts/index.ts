/**
 * nsjs: Linux namespaces for Node.js.
 *
 * @packageDocumentation
 */
export { Namespace } from './namespace'
export { NamespaceError } from './errors'
export { NAMESPACE_TYPES } from './types'
export type { ListOptions, NamespaceInfo, NamespaceType } from './types'
