// nsjs id: the namespaces of one process.
import { Namespace, type NamespaceType } from '../../index'
import { type Options, parse, parsePid, UsageError } from '../args'
import { out, table } from '../format'
import { help } from '../help'

/** id's options (completion lists them too). */
export const ID_OPTIONS: Options = { json: { type: 'boolean', short: 'J' } }

/** `nsjs id PID [--json]`: one line (or key) per namespace type. */
export async function cmdId(args: string[]): Promise<number> {
  const { values, positionals } = parse('id', args, ID_OPTIONS, true)
  if (values.help) return help('id')
  if (positionals.length !== 1) throw new UsageError('id takes one PID', 'id')
  const pid = parsePid(positionals[0], 'id')
  const namespaces: Partial<Record<NamespaceType, string>> = {}
  // Every type this kernel has, through one pidfd: all the one process's.
  for (const h of Namespace.openAll(pid).sort((a, b) => a.type.localeCompare(b.type))) {
    namespaces[h.type] = h.id
    h.close()
  }
  if (values.json) out(JSON.stringify({ pid, namespaces }))
  else
    for (const l of table(
      ['TYPE', 'NS'],
      Object.entries(namespaces).map(([t, id]) => [t, id as string]),
      ['left', 'left'],
    ))
      out(l)
  return 0
}
