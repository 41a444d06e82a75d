// How a Namespace refers to its handle in the binding: a descriptor number, which the binding's
// table of the calling thread holds (crates/node/src/handles.rs), and its type as a position.

import { namespaceError } from './errors'
import { binding } from './loader'
import type { NamespaceType } from './types'

/**
 * The native table's order of types: a handle's type crosses to the binding as its position in
 * this list (`nsTypeOrder`), a number, where a string would cost more than the rest of a join.
 */
let typeOrder: readonly NamespaceType[] | undefined

export function types(): readonly NamespaceType[] {
  typeOrder ??= binding().nsTypeOrder()
  return typeOrder
}

export function positionOf(type: NamespaceType): number {
  return types().indexOf(type)
}

/** The positions of the types this kernel has (openAll's default). */
let supported: number[] | undefined

export function supportedPositions(): number[] {
  supported ??= binding().supportedTypes()
  return supported
}

/**
 * Closes the descriptor of a handle that became unreachable without close(). The binding keeps
 * every handle's descriptor in a table of its JS thread (see crates/node/src/handles.rs); this
 * tells it to let one go. It is called after a garbage collection, once the event loop turns;
 * when descriptors run short the binding makes V8 collect (crates/node/src/fd_pressure.rs).
 */
export const dropped = new FinalizationRegistry<number>((fd) => binding().closeHandle(fd))

export function closedError(): Error {
  return namespaceError({ code: 'ERR_NS_CLOSED', errno: 0, syscall: 'close' })
}
