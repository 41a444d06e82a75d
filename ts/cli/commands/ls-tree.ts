// nsjs ls --tree: who owns each listed namespace, asked of the kernel one handle at a time.
import { readFileSync } from 'node:fs'

import { NAMESPACE_TYPES, Namespace, type NamespaceInfo, type NamespaceType } from '../../index'
import { type LsEntry, lsEntry, out, treeOrder, treeTable } from '../format'

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
export function relationsOf(
  n: NamespaceInfo,
  own: Map<NamespaceType, bigint>,
): { pns: number; ons: number; netnsid?: string } {
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
    let netnsid: string | undefined
    try {
      if (n.type === 'net') netnsid = String(h.netnsid() ?? 'unassigned')
    } catch {
      // left empty, as for a namespace that cannot be opened
    }
    return { pns, ons: n.type === 'user' ? pns : id(() => h.owner()), netnsid }
  } finally {
    h.close()
  }
}

/** lsns's --tree relations: owning user namespace, parent namespace, or parent process. */
export type TreeKind = 'owner' | 'parent' | 'process'

/** One node of the tree as --json prints it: lsns's nested `children`. */
type JsonNode = LsEntry & { children?: JsonNode[] }

const key = (t: string, id: number | bigint): string => `${t}:${id}`

/** The parent process of `pid`, from /proc/PID/stat (undefined once it is gone). */
function ppidOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  } catch {
    return undefined
  }
}

/**
 * Who is above each namespace, walking up with one handle open at a time (a system may hold
 * thousands of namespaces): `up` of a handle (its owner, or its parent) is asked of the kernel,
 * and namespaces above that no process or mount holds are added to `nodes` as they are met.
 */
function walkUp(
  all: NamespaceInfo[],
  nodes: Map<string, LsEntry>,
  up: (h: Namespace) => Namespace | undefined,
): Map<string, string | null> {
  const own = ownInodes()
  const above = new Map<string, string | null>()
  for (const n of all) {
    let k = key(n.type, n.id)
    let h = openListed(n, own)
    while (h) {
      const next = up(h)
      h.close()
      h = undefined
      if (!next) {
        if (!above.has(k)) above.set(k, null)
        break
      }
      const nk = key(next.type, next.inode)
      above.set(k, nk)
      k = nk
      if (above.has(k)) {
        next.close()
        break
      }
      const ns = Number(next.inode)
      if (!nodes.has(k))
        nodes.set(k, { ns, type: next.type, nprocs: 0, pid: null, user: null, command: null, path: null, paths: [] })
      h = next
    }
  }
  return above
}

/** lsns's relations: each namespace's parent row in the tree (null: a root; undefined: unknown). */
function relations(kind: TreeKind, all: NamespaceInfo[], nodes: Map<string, LsEntry>): Map<string, string | null> {
  if (kind === 'owner') return walkUp(all, nodes, ownerOf)
  if (kind === 'parent') {
    // Only user and pid namespaces have parents; the others are roots.
    const nested = all.filter((n) => n.type === 'user' || n.type === 'pid')
    const above = walkUp(nested, nodes, (h) => {
      try {
        return h.type === 'user' || h.type === 'pid' ? h.parent() : undefined
      } catch {
        return undefined // above our own: the kernel does not say
      }
    })
    for (const k of nodes.keys()) if (!above.has(k)) above.set(k, null)
    return above
  }
  // process: under the row (taken in ns order) of the process's parent process, as lsns.
  const above = new Map<string, string | null>()
  const rowOfPid = new Map<number, string>()
  for (const [k, e] of [...nodes.entries()].sort((a, b) => a[1].ns - b[1].ns)) {
    const ppid = e.pid === null ? undefined : ppidOf(e.pid)
    above.set(k, (ppid !== undefined && rowOfPid.get(ppid)) || null)
    if (e.pid !== null) rowOfPid.set(e.pid, k)
  }
  return above
}

/**
 * What lsns adds before each row of the parent tree: its parent, or for a namespace without one
 * its owning user namespace (when that is shown), so a user namespace comes before what it owns.
 */
function ownersFirst(
  all: NamespaceInfo[],
  parent: Map<string, string | null>,
  wanted: Set<string>,
): Map<string, string | null> {
  const own = ownInodes()
  const first = new Map(parent)
  for (const n of all) {
    const k = key(n.type, n.id)
    if (!wanted.has(k) || parent.get(k)) continue
    const h = openListed(n, own)
    if (!h) continue
    try {
      using owner = ownerOf(h)
      const ok = owner && key(owner.type, owner.inode)
      if (ok && wanted.has(ok)) first.set(k, ok)
    } finally {
      h.close()
    }
  }
  return first
}

/** `nsjs ls --tree[=KIND]`: each namespace under its owner, its parent or its parent process. */
export async function lsTree(
  type: NamespaceType | undefined,
  pid: number | undefined,
  json: boolean,
  kind: TreeKind = 'owner',
): Promise<number> {
  const all = await Namespace.list()
  const nodes = new Map<string, LsEntry>(all.map((n) => [key(n.type, n.id), lsEntry(n)]))
  const above = relations(kind, all, nodes)
  // What to show: the namespaces asked for, and those above them.
  const wanted = new Set<string>()
  const selected = pid === undefined ? all : await Namespace.list({ pid })
  for (const n of selected) {
    if (type !== undefined && n.type !== type) continue
    for (let k: string | null | undefined = key(n.type, n.id); k && !wanted.has(k); k = above.get(k)) wanted.add(k)
  }
  const shown = [...nodes.entries()].filter(([k]) => wanted.has(k))
  const parent = new Map<string, string | null>()
  for (const [k] of shown) {
    const o = above.get(k)
    if (o !== undefined) parent.set(k, o === null || !wanted.has(o) ? null : o)
  }
  const first = kind === 'parent' ? ownersFirst(all, parent, wanted) : parent
  if (json) {
    const byKey = new Map<string, JsonNode>()
    for (const [k, e] of shown) {
      const o = kind === 'owner' ? above.get(k) : undefined
      byKey.set(k, kind === 'owner' ? { ...e, owner: o ? Number(o.split(':')[1]) : null } : { ...e })
    }
    const roots: JsonNode[] = []
    for (const { k } of treeOrder(shown, parent, first)) {
      if (k === '?') continue
      const node = byKey.get(k) as JsonNode
      const p = parent.get(k)
      const host = p ? byKey.get(p) : undefined
      if (!host) roots.push(node)
      else if (host.children) host.children.push(node)
      else host.children = [node]
    }
    out(JSON.stringify({ namespaces: roots }, null, 2))
    return 0
  }
  for (const l of treeTable(shown, parent, kind === 'process' ? 6 : 0, first)) out(l)
  return 0
}
