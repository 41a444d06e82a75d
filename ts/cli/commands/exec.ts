// nsjs exec: a command in existing namespaces, like nsenter.
import { Namespace, type NamespaceType, type SpawnOptions } from '../../index'
import { type Options, optionalValues, parse, parsePid, splitCommand, UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'

// The options that name one type, as nsenter's: [option, short option, type].
const FLAG_TYPES: Array<[string, string, NamespaceType]> = [
  ['net', 'n', 'net'],
  ['mnt', 'm', 'mnt'],
  ['uts', 'u', 'uts'],
  ['ipc', 'i', 'ipc'],
  ['pid', 'p', 'pid'],
  ['user', 'U', 'user'],
  ['cgroup', 'C', 'cgroup'],
  ['time', 'T', 'time'],
]

/** exec's options, as parseArgs takes them (completion lists them too). */
export const EXEC_OPTIONS: Options = {
  target: { type: 'string', short: 't' },
  ...Object.fromEntries(FLAG_TYPES.map(([name, short]) => [name, { type: 'boolean', short }])),
  mount: { type: 'boolean' },
  all: { type: 'boolean', short: 'a' },
  ns: { type: 'string', multiple: true },
  wd: { type: 'string', short: 'w' },
  // nsenter's --net=FILE and the others: the namespace at FILE (rewritten by optionalValues).
  ...Object.fromEntries([...FLAG_TYPES.map(([name]) => name), 'mount'].map((n) => [`x-${n}`, { type: 'string' }])),
  setuid: { type: 'string', short: 'S' },
  setgid: { type: 'string', short: 'G' },
  'no-fork': { type: 'boolean', short: 'F' },
}

const OPTIONAL_VALUES = [...FLAG_TYPES.map(([name]) => name), 'mount']

/** A uid or gid given as a number (`what` names the option in the error). */
function id(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value) || Number(value) > 0xfffffffe)
    throw new UsageError(`${what} takes a numeric id, not '${value}'`, 'exec')
  return Number(value)
}

/** Handles on target's namespaces of `types` (all that differ from ours when `all`). */
function openTarget(pid: number, types: NamespaceType[], all: boolean): Namespace[] {
  const handles = Namespace.openAll(pid, all ? undefined : types)
  try {
    // Like nsenter: a namespace we are already in is not entered again (for user, it can't be).
    return handles.filter((h) => {
      if (!all && h.type !== 'user') return true
      using mine = Namespace.current(h.type)
      if (!h.equals(mine)) return true
      h.close()
      return false
    })
  } catch (err) {
    for (const h of handles) h.close()
    throw err
  }
}

/** `nsjs exec`: resolves with the command's exit status. */
export async function cmdExec(args: string[]): Promise<number> {
  const { own, command } = splitCommand(args, EXEC_OPTIONS)
  const { values } = parse('exec', optionalValues(own, OPTIONAL_VALUES), EXEC_OPTIONS)
  if (values.help) return help('exec')
  const types = FLAG_TYPES.filter(([name]) => values[name] === true).map(([, , t]) => t)
  if (values.mount && !types.includes('mnt')) types.push('mnt')
  const paths: Array<[string, NamespaceType | undefined]> = ((values.ns as string[] | undefined) ?? []).map((p) => [
    p,
    undefined,
  ])
  for (const [name, , type] of [...FLAG_TYPES, ['mount', 'm', 'mnt'] as const]) {
    const file = values[`x-${name}`] as string | undefined
    if (file !== undefined) paths.push([file, type])
  }
  const all = values.all === true
  if (values.target === undefined && (types.length || all)) {
    throw new UsageError(
      `${all ? '--all' : `--${types[0]}`} enters the namespaces of a process: add --target PID`,
      'exec',
    )
  }
  const pid = values.target === undefined ? undefined : parsePid(values.target as string, 'exec', '--target')
  if (!types.length && !all && !paths.length) {
    throw new UsageError(
      'no namespace to enter: name the types (--net, --mnt, --uts, --ipc, --pid, --user, --cgroup, --time), use --all for every one the target does not share with us, or --ns PATH',
      'exec',
    )
  }
  if (all && types.length) throw new UsageError(`--all enters every namespace; leave out --${types[0]}`, 'exec')
  if (!command.length) throw new UsageError('no command given: add -- CMD [ARGS...]', 'exec')
  // -F (--no-fork) is accepted: the command is always nsjs's child, created in the pid namespace.
  const options: SpawnOptions = {
    cwd: values.wd as string | undefined,
    uid: id(values.setuid, '--setuid'),
    gid: id(values.setgid, '--setgid'),
  }
  if (!paths.length) {
    options.join = all ? { pid: pid as number } : { pid: pid as number, types }
    return runChild(command, options)
  }
  const handles: Namespace[] = []
  try {
    if (pid !== undefined) handles.push(...openTarget(pid, types, all))
    for (const [p, type] of paths) handles.push(Namespace.fromPath(p, type))
    options.join = handles
    return await runChild(command, options)
  } finally {
    for (const h of handles) h.close()
  }
}
