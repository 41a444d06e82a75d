// nsjs delete: remove persisted namespaces, like ip netns delete.
import { Namespace } from '../../index'
import { parse, UsageError } from '../args'
import { help } from '../help'

/** `nsjs delete PATH...`: unpersists each path in turn. */
export async function cmdDelete(args: string[]): Promise<number> {
  const { values, positionals } = parse('delete', args, {}, true)
  if (values.help) return help('delete')
  if (!positionals.length) throw new UsageError('delete takes the PATH of a persisted namespace', 'delete')
  for (const p of positionals) await Namespace.unpersist(p)
  return 0
}
