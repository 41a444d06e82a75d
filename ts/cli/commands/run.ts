// nsjs run: a command in new namespaces, like unshare --fork, with unshare's options.
import { statSync, unlinkSync } from 'node:fs'
import { dirname, resolve } from 'node:path'

import { Namespace, type NamespaceType, type SpawnOptions } from '../../index'
import { type Options, optionalValues, pairValues, parse, parseType, splitCommand, UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'
import { SANDBOX_OPTIONS, SANDBOX_PAIRS, sandboxRequest } from './sandbox-flags'
import { TYPE_FLAGS } from './type-flags'

// Types whose new namespace `--TYPE=FILE` can persist: made first (Namespace.create), bound at
// FILE, then joined by the command. A new pid namespace admits no process once its first one has
// gone, and a new user namespace is the command's own: those two are refused.
const PERSISTABLE: readonly NamespaceType[] = ['net', 'uts', 'ipc', 'mnt', 'cgroup', 'time']

/** run's options, as parseArgs takes them (completion lists them too). */
export const RUN_OPTIONS: Options = {
  unshare: { type: 'string', short: 's', multiple: true },
  ...Object.fromEntries(TYPE_FLAGS.map(([name, short]) => [name, { type: 'boolean', short }])),
  ...Object.fromEntries(TYPE_FLAGS.map(([name]) => [`x-${name}`, { type: 'string' }])),
  'map-root': { type: 'boolean', short: 'r' },
  'map-root-user': { type: 'boolean' },
  'map-current': { type: 'boolean', short: 'c' },
  'map-current-user': { type: 'boolean' },
  'map-user': { type: 'string' },
  'map-group': { type: 'string' },
  setgroups: { type: 'string' },
  propagation: { type: 'string' },
  hostname: { type: 'string' },
  'mount-proc': { type: 'boolean' },
  root: { type: 'string', short: 'R' },
  wd: { type: 'string', short: 'w' },
  chdir: { type: 'string' },
  setuid: { type: 'string', short: 'S' },
  setgid: { type: 'string', short: 'G' },
  'kill-child': { type: 'boolean' },
  'x-kill-child': { type: 'string' },
  fork: { type: 'boolean', short: 'f' },
  ...SANDBOX_OPTIONS,
}

const OPTIONAL_VALUES = [...TYPE_FLAGS.map(([name]) => name), 'kill-child']

/** A uid or gid given as a number (`what` names the option in the error). */
function id(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value) || Number(value) > 0xfffffffe)
    throw new UsageError(`${what} takes a numeric id, not '${value}'`, 'run')
  return Number(value)
}

function oneOf<T extends string>(value: unknown, what: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!(allowed as readonly unknown[]).includes(value))
    throw new UsageError(`${what} takes ${allowed.join(', ')}, not '${value}'`, 'run')
  return value as T
}

/** The spawn options that the mapping options ask for, and whether they need a user namespace. */
function idMaps(values: Record<string, unknown>): Pick<SpawnOptions, 'uidMap' | 'gidMap'> {
  const root = values['map-root'] === true || values['map-root-user'] === true
  const current = values['map-current'] === true || values['map-current-user'] === true
  if (root && current) throw new UsageError('--map-root and --map-current exclude each other', 'run')
  const user = id(values['map-user'], '--map-user')
  const group = id(values['map-group'], '--map-group')
  if ((root || current) && (user !== undefined || group !== undefined))
    throw new UsageError('--map-user and --map-group replace --map-root and --map-current', 'run')
  if (root || current) return { uidMap: root ? 'root' : 'current', gidMap: root ? 'root' : 'current' }
  // As unshare: the given id inside is our own effective id outside.
  return {
    uidMap: user === undefined ? undefined : [{ inside: user, outside: process.geteuid?.() ?? 0, count: 1 }],
    gidMap: group === undefined ? undefined : [{ inside: group, outside: process.getegid?.() ?? 0, count: 1 }],
  }
}

/**
 * unshare binds onto a FILE that exists (users `touch` it first); persist() makes its own. An
 * empty regular file that is not a mount point is what such a habit leaves: it is removed.
 */
function clearTarget(file: string): void {
  const st = statSync(file, { throwIfNoEntry: false })
  if (!st?.isFile() || st.size !== 0) return
  const parent = statSync(dirname(resolve(file)))
  // A mount point (a namespace already bound there) has another device than its directory.
  if (st.dev === parent.dev) unlinkSync(file)
}

/** `nsjs run`: resolves with the command's exit status. */
export async function cmdRun(args: string[]): Promise<number> {
  const { own, command } = splitCommand(pairValues(args, RUN_OPTIONS, SANDBOX_PAIRS, 'run'), RUN_OPTIONS)
  const { values, tokens } = parse('run', optionalValues(own, OPTIONAL_VALUES), RUN_OPTIONS)
  if (values.help) return help('run')
  const sandbox = sandboxRequest(tokens)
  const unshare: NamespaceType[] = []
  const add = (t: NamespaceType) => {
    if (!unshare.includes(t)) unshare.push(t)
  }
  for (const list of (values.unshare as string[] | undefined) ?? []) {
    for (const name of list.split(',').filter(Boolean)) add(parseType(name, 'run'))
  }
  const persist: Array<[NamespaceType, string]> = []
  for (const [name, , type] of TYPE_FLAGS) {
    if (values[name] === true) add(type)
    const file = values[`x-${name}`] as string | undefined
    if (file === undefined) continue
    if (!PERSISTABLE.includes(type))
      throw new UsageError(`--${name}=FILE: a new ${type} namespace cannot be persisted by nsjs run`, 'run')
    persist.push([type, file])
  }
  const maps = idMaps(values)
  if (maps.uidMap !== undefined || maps.gidMap !== undefined) add('user')
  if (sandbox.mounts || values.root === 'tmpfs') add('mnt')
  if (sandbox.init) add('pid')
  if (!unshare.length && !persist.length && values.hostname === undefined && !values['mount-proc']) {
    throw new UsageError(
      'no namespace to create: add the types (-n, -p, -m, -u, -i, -U, -C, -T or --unshare net,uts), or -r for a user namespace',
      'run',
    )
  }
  if (!command.length) throw new UsageError('no command given: add -- CMD [ARGS...]', 'run')
  // --kill-child[=SIGNAL]: SIGKILL by default; a name with or without SIG, or a number.
  const sig = values['x-kill-child'] as string | undefined
  const killChild =
    sig === undefined
      ? values['kill-child'] === true
        ? 'SIGKILL'
        : undefined
      : /^\d+$/.test(sig)
        ? Number(sig)
        : ((sig.toUpperCase().startsWith('SIG') ? sig.toUpperCase() : `SIG${sig.toUpperCase()}`) as NodeJS.Signals)
  const options: SpawnOptions = {
    unshare: unshare.filter((t) => !persist.some(([p]) => p === t)),
    ...maps,
    setgroups: oneOf(values.setgroups, '--setgroups', ['allow', 'deny'] as const),
    propagation: oneOf(values.propagation, '--propagation', ['private', 'shared', 'slave', 'unchanged'] as const),
    hostname: values.hostname as string | undefined,
    mountProc: values['mount-proc'] === true,
    // --root tmpfs is spawn's root: 'tmpfs', an empty root as bwrap's (a directory so named: ./tmpfs).
    root: values.root as string | undefined,
    cwd: (values.wd ?? values.chdir) as string | undefined,
    uid: id(values.setuid, '--setuid'),
    gid: id(values.setgid, '--setgid'),
    ...sandbox,
    dieWithParent: killChild ?? sandbox.dieWithParent,
  }
  if (!persist.length) return runChild(command, options, ['SIGINT'])
  // unshare --net=FILE: the namespace is bound at FILE before the command runs, and stays.
  const made: Namespace[] = []
  try {
    for (const [type, file] of persist) {
      const ns = await Namespace.create(type)
      made.push(ns)
      clearTarget(file)
      await ns.persist(file)
    }
    return await runChild(command, { ...options, join: made }, ['SIGINT'])
  } finally {
    for (const ns of made) ns.close()
  }
}
