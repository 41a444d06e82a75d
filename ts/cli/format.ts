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

/**
 * The lines of `nsjs ls --tree`: each user namespace followed by what it owns, drawn with
 * ├─, └─ and │. `parent` maps a node's key to the key of the user namespace shown above it,
 * or to null for a root; nodes it does not name (owner unknown) come last, under a `?` row.
 */
export function treeTable(shown: Array<[string, LsEntry]>, parent: Map<string, string | null>): string[] {
  // Children of each user namespace: the namespaces it owns first, then its child user namespaces.
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
  const order = (a: [string, LsEntry], b: [string, LsEntry]): number =>
    Number(a[1].type === 'user') - Number(b[1].type === 'user') ||
    a[1].type.localeCompare(b[1].type) ||
    a[1].ns - b[1].ns
  const rows: string[][] = []
  const walk = (list: Array<[string, LsEntry]>, prefix: string, top: boolean): void => {
    list.sort(order).forEach(([k, e], i) => {
      const last = i === list.length - 1
      const branch = top ? '' : last ? '└─' : '├─'
      rows.push(lsCells(e, `${prefix}${branch}${e.ns}`))
      walk(children.get(k) ?? [], top ? '' : `${prefix}${last ? '  ' : '│ '}`, false)
    })
  }
  walk(roots, '', true)
  if (unknown.length) {
    rows.push(['?', 'user', '', '', '', '', '(owner not visible: no access to these namespaces)'])
    walk(unknown, '', false)
  }
  const align = [...LS_ALIGN]
  align[0] = 'left'
  return rows.length ? table(LS_HEADER, rows, align) : []
}
