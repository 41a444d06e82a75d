// nsjs ls: namespaces listed like lsns, persisted ones included.
import { Namespace } from '../../index'
import { parse, parsePid, parseType } from '../args'
import { LS_ALIGN, LS_HEADER, lsCells, lsEntry, out, table } from '../format'
import { help } from '../help'
import { lsTree } from './ls-tree'

/** `nsjs ls`: a table, JSON, or (with --tree) the tree of user namespaces. */
export async function cmdLs(args: string[]): Promise<number> {
  const { values } = parse('ls', args, {
    type: { type: 'string', short: 't' },
    pid: { type: 'string', short: 'p' },
    json: { type: 'boolean', short: 'J' },
    tree: { type: 'boolean', short: 'T' },
  })
  if (values.help) return help('ls')
  const type = values.type === undefined ? undefined : parseType(values.type as string, 'ls')
  const pid = values.pid === undefined ? undefined : parsePid(values.pid as string, 'ls', '--pid')
  if (values.tree) return lsTree(type, pid, values.json === true)
  const entries = (await Namespace.list({ type, pid })).map(lsEntry)
  if (values.json) {
    out(JSON.stringify({ namespaces: entries }, null, 2))
  } else if (entries.length) {
    for (const l of table(
      LS_HEADER,
      entries.map((e) => lsCells(e)),
      LS_ALIGN,
    ))
      out(l)
  }
  return 0
}
