// nsjs ls: namespaces listed like lsns, persisted ones included, with lsns's output options.
import { Namespace, type NamespaceInfo } from '../../index'
import { type Options, optionalValues, parse, parsePid, parseType, UsageError } from '../args'
import { type Align, LS_HEADER, type LsEntry, lsEntry, out, table } from '../format'
import { help } from '../help'
import { lsTree, ownInodes, relationsOf, type TreeKind } from './ls-tree'

/** The columns `-o` takes, lsns's names: how each is aligned and what it shows of an entry. */
export const LS_COLUMNS: Record<string, [Align, (e: LsEntry, n: NamespaceInfo, r: Relations) => string]> = {
  NS: ['right', (e) => String(e.ns)],
  TYPE: ['left', (e) => e.type],
  NPROCS: ['right', (e) => String(e.nprocs)],
  PID: ['right', (e) => (e.pid === null ? '' : String(e.pid))],
  UID: ['right', (_, n) => (n.uid === undefined ? '' : String(n.uid))],
  USER: ['left', (e) => e.user ?? ''],
  COMMAND: ['left', (e) => e.command ?? ''],
  PATH: ['left', (e) => e.paths.join(',')],
  // lsns's NSFS: where the namespace is bind-mounted (nsfs mount points).
  NSFS: ['left', (e) => e.paths.join(',')],
  // The parent (user and pid namespaces) and the owning user namespace, asked of the kernel.
  PNS: ['right', (_, __, r) => String(r().pns)],
  ONS: ['right', (_, __, r) => String(r().ons)],
  // lsns's NETNSID: the id our net namespace knows a net namespace by ('unassigned' when none);
  // empty for other types and for a namespace that could not be opened.
  NETNSID: ['right', (_, __, r) => r().netnsid ?? ''],
}

/** PNS, ONS and NETNSID of a row, found only when a column asks (it opens the namespace). */
type Relations = () => { pns: number; ons: number; netnsid?: string }

/** lsns's default columns with `-t net`: the id and the nsfs mounts of each net namespace. */
const NET_HEADER = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'NETNSID', 'NSFS', 'COMMAND']

function columns(spec: string | undefined, type: string | undefined): string[] {
  const base = type === 'net' ? NET_HEADER : LS_HEADER
  if (spec === undefined) return base
  // lsns: "-o +COL" adds to the default columns.
  const names = spec.replace(/^\+/, '').split(',').filter(Boolean)
  for (const c of names) {
    if (!Object.hasOwn(LS_COLUMNS, c.toUpperCase()))
      throw new UsageError(`unknown column '${c}'; -o takes ${Object.keys(LS_COLUMNS).join(', ')}`, 'ls')
  }
  const upper = names.map((c) => c.toUpperCase())
  return spec.startsWith('+') ? [...base, ...upper.filter((c) => !base.includes(c))] : upper
}

/** lsns --raw: cells separated by one space, spaces inside a cell escaped as \x20. */
function raw(header: string[] | undefined, rows: string[][]): string[] {
  const line = (cells: string[]) =>
    cells.map((c) => c.replace(/[\s\\]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`)).join(' ')
  return [...(header ? [line(header)] : []), ...rows.map(line)]
}

/** ls's options, lsns's names (completion lists them too). */
export const LS_OPTIONS: Options = {
  type: { type: 'string', short: 't' },
  pid: { type: 'string', short: 'p' },
  json: { type: 'boolean', short: 'J' },
  tree: { type: 'boolean', short: 'T' },
  // lsns's --tree=KIND and -TKIND (rewritten by optionalValues and treeValue).
  'x-tree': { type: 'string' },
  noheadings: { type: 'boolean', short: 'n' },
  output: { type: 'string', short: 'o' },
  raw: { type: 'boolean', short: 'r' },
  list: { type: 'boolean', short: 'l' },
}

const TREE_KINDS: readonly TreeKind[] = ['owner', 'parent', 'process']

/** lsns's -TKIND (and -T=KIND): getopt's optional value, attached. */
const treeValue = (args: string[]): string[] => args.map((a) => a.replace(/^-T=?(.+)$/s, '--x-tree=$1'))

/** `nsjs ls [NS]`: a table, JSON, or (with --tree) the tree of user namespaces. */
export async function cmdLs(args: string[]): Promise<number> {
  const { values, positionals } = parse('ls', optionalValues(treeValue(args), ['tree']), LS_OPTIONS, true)
  if (values.help) return help('ls')
  const type = values.type === undefined ? undefined : parseType(values.type as string, 'ls')
  const pid = values.pid === undefined ? undefined : parsePid(values.pid as string, 'ls', '--pid')
  if (positionals.length > 1) throw new UsageError('ls takes at most one namespace id', 'ls')
  const only = positionals[0]
  if (only !== undefined && !/^[1-9]\d{0,19}$/.test(only))
    throw new UsageError(`a namespace id is an inode number, not '${only}'`, 'ls')
  const cols = columns(values.output as string | undefined, type)
  const kind = values['x-tree'] as string | undefined
  if (kind !== undefined && !(TREE_KINDS as readonly string[]).includes(kind))
    throw new UsageError(`unknown tree type '${kind}'; --tree takes ${TREE_KINDS.join(', ')}`, 'ls')
  if (values.tree || kind !== undefined) return lsTree(type, pid, values.json === true, (kind ?? 'owner') as TreeKind)
  const listed = (await Namespace.list({ type, pid })).filter((n) => only === undefined || String(n.id) === only)
  const entries = listed.map(lsEntry)
  if (values.json) {
    out(JSON.stringify({ namespaces: entries }, null, 2))
    return 0
  }
  if (!entries.length) return 0
  const own = cols.some((c) => ['PNS', 'ONS', 'NETNSID'].includes(c)) ? ownInodes() : new Map()
  const rows = entries.map((e, i) => {
    let found: ReturnType<Relations> | undefined
    const relations = () => {
      found ??= relationsOf(listed[i], own)
      return found
    }
    return cols.map((c) => LS_COLUMNS[c][1](e, listed[i], relations))
  })
  const header = values.noheadings ? undefined : cols
  const lines = values.raw
    ? raw(header, rows)
    : table(
        cols,
        rows,
        cols.map((c) => LS_COLUMNS[c][0]),
      ).slice(header ? 0 : 1)
  for (const l of lines) out(l)
  return 0
}
