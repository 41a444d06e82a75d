import type { NsType } from './native'
import type { ListsAll, Same } from './type-checks'

/** The eight Linux namespace types, named as in `/proc/<pid>/ns/`. */
export type NamespaceType = 'cgroup' | 'ipc' | 'mnt' | 'net' | 'pid' | 'time' | 'user' | 'uts'

const ORDER = ['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt', 'time'] as const

/** Every namespace type, in the order nsenter enters them (user first). */
export const NAMESPACE_TYPES: readonly NamespaceType[] = Object.freeze(ORDER)

// The public type and list are the native table's (crates/sys ns_type.rs): a type added there
// and not here fails tsc.
const sameTypes: Same<NamespaceType, NsType> = true
const listsEveryType: ListsAll<NamespaceType, (typeof ORDER)[number]> = true
void sameTypes
void listsEveryType

/** One namespace as `Namespace.list()` reports it, like a row of `lsns --json`. */
export interface NamespaceInfo {
  /** The namespace's inode number (lsns' NS column). */
  id: number
  /** The namespace's type (lsns' TYPE column). */
  type: NamespaceType
  /**
   * Processes in it (threads are not counted, as in lsns). 0 when only a descriptor, a socket, a
   * bind mount or a namespace it owns keeps it alive.
   */
  nprocs: number
  /** The lowest pid in it; undefined when no process is in it. */
  pid?: number
  /** That process's command line; undefined when no process is in it. */
  command?: string
  /**
   * That process's uid. When no process is in it: the uid that created it (a user namespace) or
   * that created the user namespace owning it (other types); undefined when it could not be asked.
   */
  uid?: number
  /** `uid`'s login name from the system's name service (getpwuid_r), undefined when it has none. */
  user?: string
  /** Paths where it is bind-mounted (persisted), in the caller's mount namespace. */
  paths: string[]
}

/** Options of `Namespace.list()`. */
export interface ListOptions {
  /** Only namespaces of this type. */
  type?: NamespaceType
  /** Only the namespaces this process is in. */
  pid?: number
}
