// The socket methods of Namespace (A.listen, A.connect, ...; Namespace.ofSocket, fromSocket) as
// placeholders that load ts/net on their first call (ts/lazy.ts says why); the loaded
// namespace-methods.ts puts the real ones in their place.
import { lazyMethods } from '../lazy'
import { Namespace } from '../namespace'

/** The Namespace methods ts/net/namespace-methods.ts defines. */
export const NET_METHODS = [
  'socket',
  'listen',
  'connect',
  'createSocket',
  'agent',
  'dispatcher',
  'lookup',
  'worker',
  'netnsid',
] as const satisfies readonly (keyof Namespace)[]

/** The static ones. */
export const NET_STATICS = ['ofSocket', 'fromSocket'] as const satisfies readonly (keyof typeof Namespace)[]

const load = (): unknown => require('./index')
lazyMethods(Namespace.prototype, NET_METHODS, load)
lazyMethods(Namespace, NET_STATICS, load)
