// nsjs create: a new namespace persisted at a path, like ip netns add.
import { resolve } from 'node:path'

import { Namespace } from '../../index'
import { parse, parseType, UsageError } from '../args'
import { out } from '../format'
import { help } from '../help'

/** `nsjs create TYPE PATH`: prints the new namespace's id. */
export async function cmdCreate(args: string[]): Promise<number> {
  const { values, positionals } = parse('create', args, {}, true)
  if (values.help) return help('create')
  if (positionals.length !== 2) throw new UsageError('create takes a TYPE and a PATH', 'create')
  const type = parseType(positionals[0], 'create')
  const path = resolve(positionals[1])
  const ns = await Namespace.create(type)
  try {
    await ns.persist(path)
    out(ns.id)
  } finally {
    ns.close()
  }
  return 0
}
