// What the commands print on stdout: lines, columns as lsns prints them, and the rows of ls.
import type { NamespaceInfo, NamespaceType } from '../index'

/** Writes one line on stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`)
}

/** How a column is padded: numbers right, text left. */
export type Align = 'left' | 'right'

/** Columns as lsns prints them: padded with spaces, the last one not padded. */
export function table(header: string[], rows: string[][], align: Align[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join(' ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/** One namespace as `nsjs ls` shows it: the keys and meanings of its JSON output. */
export interface LsEntry {
  ns: number
  type: NamespaceType
  nprocs: number
  pid: number | null
  user: string | null
  command: string | null
  path: string | null
  paths: string[]
  owner?: number | null
}

/** The ls entry of a listed namespace. */
export function lsEntry(n: NamespaceInfo): LsEntry {
  return {
    ns: n.id,
    type: n.type,
    nprocs: n.nprocs,
    pid: n.pid ?? null,
    user: n.user ?? (n.uid !== undefined ? String(n.uid) : null),
    command: n.command ?? null,
    path: n.paths[0] ?? null,
    paths: n.paths,
  }
}

/** The columns of `nsjs ls`, lsns's with PATH added, and how each is aligned. */
export const LS_HEADER = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'PATH', 'COMMAND']
export const LS_ALIGN: Align[] = ['right', 'left', 'right', 'right', 'left', 'left', 'left']

/** The cells of a row of the ls table; `ns` is the first one (indented in the tree). */
export function lsCells(e: LsEntry, ns = String(e.ns)): string[] {
  return [
    ns,
    e.type,
    String(e.nprocs),
    e.pid === null ? '' : String(e.pid),
    e.user ?? '',
    e.paths.join(','),
    e.command ?? '',
  ]
}

/** A row of a tree, in the order drawn: its key, entry, and the prefix drawn before it. */
export interface TreeRow {
  k: string
  e: LsEntry
  prefix: string
}

/**
 * The rows of a tree in the order lsns draws them: depth first, siblings in the order lsns adds
 * them: it walks the namespaces by ns and adds, before each, the one it must follow (`first`,
 * by default its parent row), so a user namespace comes where the first thing it owns would. `parent` maps a node's key to its parent's, or null for a root; nodes it does not
 * name (owner unknown) come last, under a `?` row (key '?').
 */
export function treeOrder(
  shown: Array<[string, LsEntry]>,
  parent: Map<string, string | null>,
  first: Map<string, string | null> = parent,
): TreeRow[] {
  const children = new Map<string, Array<[string, LsEntry]>>()
  const roots: Array<[string, LsEntry]> = []
  const unknown: Array<[string, LsEntry]> = []
  for (const [k, e] of shown) {
    const pk = parent.get(k)
    if (pk === undefined) unknown.push([k, e])
    else if (pk === null) roots.push([k, e])
    else {
      if (!children.has(pk)) children.set(pk, [])
      children.get(pk)?.push([k, e])
    }
  }
  // lsns's insertion order: by ns, each row preceded by the one it must follow.
  const rank = new Map<string, number>()
  const byKey = new Map(shown)
  let next = 0
  const visit = (k: string): void => {
    if (rank.has(k)) return
    rank.set(k, -1) // a cycle (none in a kernel's relations) ends here
    const f = first.get(k)
    if (f && byKey.has(f)) visit(f)
    rank.set(k, next++)
  }
  for (const [k] of [...shown].sort((a, b) => a[1].ns - b[1].ns)) visit(k)
  const rows: TreeRow[] = []
  const walk = (list: Array<[string, LsEntry]>, prefix: string, top: boolean): void => {
    list.sort((a, b) => (rank.get(a[0]) ?? 0) - (rank.get(b[0]) ?? 0))
    list.forEach(([k, e], i) => {
      const last = i === list.length - 1
      rows.push({ k, e, prefix: `${prefix}${top ? '' : last ? '└─' : '├─'}` })
      walk(children.get(k) ?? [], top ? '' : `${prefix}${last ? '  ' : '│ '}`, false)
    })
  }
  walk(roots, '', true)
  if (unknown.length) {
    rows.push({ k: '?', e: { ...UNKNOWN }, prefix: '' })
    walk(unknown, '', false)
  }
  return rows
}

const UNKNOWN: LsEntry = { ns: 0, type: 'user', nprocs: 0, pid: null, user: null, command: null, path: null, paths: [] }

/**
 * The lines of `nsjs ls --tree`, drawn with ├─, └─ and │ in column `at` of the ls table: the NS
 * column (owner and parent trees), or COMMAND (the process tree, as lsns draws it).
 */
export function treeTable(
  shown: Array<[string, LsEntry]>,
  parent: Map<string, string | null>,
  at = 0,
  first: Map<string, string | null> = parent,
): string[] {
  const rows = treeOrder(shown, parent, first).map(({ k, e, prefix }) => {
    if (k === '?') return ['?', 'user', '', '', '', '', '(owner not visible: no access to these namespaces)']
    const cells = lsCells(e)
    cells[at] = `${prefix}${cells[at]}`
    return cells
  })
  const align = [...LS_ALIGN]
  align[at] = 'left'
  return rows.length ? table(LS_HEADER, rows, align) : []
}
