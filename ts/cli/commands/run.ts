// nsjs run: a command in new namespaces, like unshare --fork.
import type { NamespaceType } from '../../index'
import { type Options, parse, parseType, splitCommand, UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'

const RUN_OPTIONS: Options = {
  unshare: { type: 'string', short: 's', multiple: true },
  'map-root': { type: 'boolean', short: 'r' },
  'map-current': { type: 'boolean', short: 'c' },
  hostname: { type: 'string' },
  'mount-proc': { type: 'boolean' },
  root: { type: 'string' },
  wd: { type: 'string', short: 'w' },
  'kill-child': { type: 'boolean' },
  fork: { type: 'boolean', short: 'f' },
}

/** `nsjs run`: resolves with the command's exit status. */
export async function cmdRun(args: string[]): Promise<number> {
  const { own, command } = splitCommand(args, RUN_OPTIONS)
  const { values } = parse('run', own, RUN_OPTIONS)
  if (values.help) return help('run')
  const unshare: NamespaceType[] = []
  for (const list of (values.unshare as string[] | undefined) ?? []) {
    for (const name of list.split(',').filter(Boolean)) {
      const t = parseType(name, 'run')
      if (!unshare.includes(t)) unshare.push(t)
    }
  }
  if (values['map-root'] && values['map-current'])
    throw new UsageError('--map-root and --map-current exclude each other', 'run')
  const map = values['map-root'] ? 'root' : values['map-current'] ? 'current' : undefined
  if (map && !unshare.includes('user')) unshare.push('user')
  if (!unshare.length && values.hostname === undefined && !values['mount-proc']) {
    throw new UsageError(
      'no namespace to create: add --unshare TYPES (e.g. --unshare net,uts), or --map-root for a user namespace',
      'run',
    )
  }
  if (!command.length) throw new UsageError('no command given: add -- CMD [ARGS...]', 'run')
  return runChild(command, {
    unshare,
    uidMap: map,
    gidMap: map,
    hostname: values.hostname as string | undefined,
    mountProc: values['mount-proc'] === true,
    root: values.root as string | undefined,
    cwd: values.wd as string | undefined,
    dieWithParent: values['kill-child'] === true,
  })
}
