// nsjs ls --tree: who owns each listed namespace, asked of the kernel one handle at a time.
import { NAMESPACE_TYPES, Namespace, type NamespaceInfo, type NamespaceType } from '../../index'
import { type LsEntry, lsEntry, out, treeTable } from '../format'

/**
 * Opens a listed namespace, where that is allowed, to ask the kernel who owns it: by its
 * persisted path, else by its lowest pid, else as our own namespace. PID 1's namespaces are
 * never opened by pid: for them the list's facts are all there is (unless they are ours).
 */
export function openListed(n: NamespaceInfo, own: Map<NamespaceType, bigint>): Namespace | undefined {
  const tries: Array<() => Namespace> = []
  if (own.get(n.type) === BigInt(n.id)) tries.push(() => Namespace.current(n.type))
  for (const p of n.paths) tries.push(() => Namespace.fromPath(p, n.type))
  if (n.pid !== undefined && n.pid !== 1) tries.push(() => Namespace.open(n.pid as number, n.type))
  for (const attempt of tries) {
    let h: Namespace | undefined
    try {
      h = attempt()
      // A pid may have moved to another namespace (or been reused) since the list was taken.
      if (h.inode === BigInt(n.id)) return h
    } catch {
      // not allowed or gone: try the next way
    }
    h?.close()
  }
  return undefined
}

/** The user namespace above `h`: its parent for a user namespace, else its owner. */
function ownerOf(h: Namespace): Namespace | undefined {
  try {
    return h.type === 'user' ? h.parent() : h.owner()
  } catch {
    // EPERM: above our own user namespace, which the kernel does not reveal
    return undefined
  }
}

/** The inode of each of our own namespaces, by type (the types this kernel has). */
export function ownInodes(): Map<NamespaceType, bigint> {
  const own = new Map<NamespaceType, bigint>()
  for (const t of NAMESPACE_TYPES) {
    try {
      using h = Namespace.current(t)
      own.set(t, h.inode)
    } catch {
      // a type this kernel lacks
    }
  }
  return own
}

/**
 * lsns's PNS and ONS columns of a listed namespace: its parent (user and pid namespaces only) and
 * the user namespace that owns it (a user namespace's is its parent); 0 where there is none, or
 * where it is above our view or the namespace cannot be opened, as lsns prints them.
 */
export function relationsOf(n: NamespaceInfo, own: Map<NamespaceType, bigint>): { pns: number; ons: number } {
  const h = openListed(n, own)
  if (!h) return { pns: 0, ons: 0 }
  const id = (get: () => Namespace): number => {
    try {
      using up = get()
      return Number(up.inode)
    } catch {
      return 0
    }
  }
  try {
    const pns = n.type === 'user' || n.type === 'pid' ? id(() => h.parent()) : 0
    return { pns, ons: n.type === 'user' ? pns : id(() => h.owner()) }
  } finally {
    h.close()
  }
}

/** `nsjs ls --tree`: each namespace shown under the user namespace that owns it. */
export async function lsTree(type: NamespaceType | undefined, pid: number | undefined, json: boolean): Promise<number> {
  const all = await Namespace.list()
  const key = (t: string, id: number | bigint): string => `${t}:${id}`
  const nodes = new Map<string, LsEntry>(all.map((n) => [key(n.type, n.id), lsEntry(n)]))
  const own = ownInodes()
  // owner of every node: a user namespace's ns, null when outside our view, undefined unknown
  const owner = new Map<string, number | null>()
  // One handle open at a time (a system may hold thousands of namespaces). Owners that no
  // process or mount holds are reached through the handles themselves, walking up.
  for (const n of all) {
    let k = key(n.type, n.id)
    let h = openListed(n, own)
    while (h) {
      const up = ownerOf(h)
      h.close()
      h = undefined
      if (!up) {
        owner.set(k, null)
        break
      }
      const upId = Number(up.inode)
      owner.set(k, upId)
      k = key('user', upId)
      if (owner.has(k)) {
        up.close()
        break
      }
      // Go on up with this handle; it also serves a listed user namespace we could not open.
      if (!nodes.has(k))
        nodes.set(k, { ns: upId, type: 'user', nprocs: 0, pid: null, user: null, command: null, path: null, paths: [] })
      h = up
    }
  }
  // What to show: the namespaces asked for, and the user namespaces above them.
  const wanted = new Set<string>()
  const selected = pid === undefined ? all : await Namespace.list({ pid })
  for (const n of selected) {
    if (type !== undefined && n.type !== type) continue
    for (let k: string | undefined = key(n.type, n.id); k && !wanted.has(k); ) {
      wanted.add(k)
      const o = owner.get(k)
      k = o === undefined || o === null ? undefined : key('user', o)
    }
  }
  const shown = [...nodes.entries()].filter(([k]) => wanted.has(k))
  if (json) {
    const namespaces = shown.map(([k, e]) => ({ ...e, owner: owner.get(k) ?? null }))
    out(JSON.stringify({ namespaces }, null, 2))
    return 0
  }
  const parent = new Map<string, string | null>()
  for (const [k] of shown) {
    const o = owner.get(k)
    if (o !== undefined) parent.set(k, o === null || !wanted.has(key('user', o)) ? null : key('user', o))
  }
  for (const l of treeTable(shown, parent)) out(l)
  return 0
}
