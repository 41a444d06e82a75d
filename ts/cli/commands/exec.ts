// nsjs exec: a command in existing namespaces, like nsenter.
import { Namespace, type NamespaceType, type SpawnOptions } from '../../index'
import { type Options, optionalValues, parse, parsePid, splitCommand, UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'
import { TYPE_FLAGS } from './type-flags'

/** exec's options, as parseArgs takes them (completion lists them too). */
export const EXEC_OPTIONS: Options = {
  target: { type: 'string', short: 't' },
  ...Object.fromEntries(TYPE_FLAGS.map(([name, short]) => [name, { type: 'boolean', short }])),
  // nsjs's own name for --mount, as the library names the type.
  mnt: { type: 'boolean' },
  all: { type: 'boolean', short: 'a' },
  ns: { type: 'string', multiple: true },
  // nsenter's -r/--root and -w/--wd: alone, the target's root and working directory.
  root: { type: 'boolean', short: 'r' },
  wd: { type: 'boolean', short: 'w' },
  // nsenter's --net=FILE and the others, --root=DIR and --wd=DIR (rewritten by optionalValues).
  ...Object.fromEntries(
    [...TYPE_FLAGS.map(([name]) => name), 'mnt', 'root', 'wd'].map((n) => [`x-${n}`, { type: 'string' }]),
  ),
  setuid: { type: 'string', short: 'S' },
  setgid: { type: 'string', short: 'G' },
  'no-fork': { type: 'boolean', short: 'F' },
  'preserve-credentials': { type: 'boolean' },
}

const OPTIONAL_VALUES = [...TYPE_FLAGS.map(([name]) => name), 'mnt', 'root', 'wd']

// The short options whose value, as nsenter's getopt takes it, is optional and attached.
const ATTACHED: Record<string, string> = {
  ...Object.fromEntries(TYPE_FLAGS.map(([name, short]) => [short, name])),
  r: 'root',
  w: 'wd',
}

/**
 * nsenter's -nFILE, -rDIR, -wDIR (getopt's optional values, attached to the letter, which may
 * follow -a or -F in one word: -aw/tmp): rewritten to --x-net=FILE and so on, in the options
 * before the command only. `-w DIR` stays -w followed by the command DIR, as for nsenter.
 */
function attachedValues(args: string[]): string[] {
  const out = [...args]
  for (let i = 0; i < out.length; i++) {
    const a = out[i]
    if (a === '--' || !a.startsWith('-')) break
    const m = /^-([aF]*)([nmuipUCTrw])(.+)$/s.exec(a)
    if (m) {
      const value = `--x-${ATTACHED[m[2]]}=${m[3]}`
      out.splice(i, 1, ...(m[1] ? [`-${m[1]}`, value] : [value]))
    } else if (/^(-[tSG]|--(target|setuid|setgid|ns))$/.test(a)) {
      i++ // its value
    }
  }
  return out
}

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

/**
 * The types to join for -r or -w without a type (`nsenter -t PID -w`): spawn takes a target's
 * root and cwd only with a join, so its user namespace, which nsenter's rules leave out when it
 * is ours: nothing is entered. A target in another user namespace needs the types named.
 */
function dirTypes(pid: number, types: NamespaceType[]): NamespaceType[] {
  if (types.length) return types
  using theirs = Namespace.open(pid, 'user')
  using mine = Namespace.current('user')
  if (theirs.equals(mine)) return ['user']
  throw new UsageError(
    `process ${pid} is in another user namespace: name what to enter with -r or -w (e.g. -U, or --all)`,
    'exec',
  )
}

/** `nsjs exec`: resolves with the command's exit status. */
export async function cmdExec(args: string[]): Promise<number> {
  const { own, command } = splitCommand(attachedValues(args), EXEC_OPTIONS)
  const { values } = parse('exec', optionalValues(own, OPTIONAL_VALUES), EXEC_OPTIONS)
  if (values.help) return help('exec')
  const types = TYPE_FLAGS.filter(([name]) => values[name] === true).map(([, , t]) => t)
  if (values.mnt && !types.includes('mnt')) types.push('mnt')
  const paths: Array<[string, NamespaceType | undefined]> = ((values.ns as string[] | undefined) ?? []).map((p) => [
    p,
    undefined,
  ])
  for (const [name, , type] of [...TYPE_FLAGS, ['mnt', 'm', 'mnt'] as const]) {
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
  // -r and -w alone take the target's root and cwd (spawn's join: { root, cwd }); with a value,
  // that directory, looked up once the namespaces are entered (nsenter opens it before).
  const targetRoot = values.root === true && values['x-root'] === undefined
  const targetCwd = values.wd === true && values['x-wd'] === undefined
  if (!types.length && !all && !paths.length && !(pid !== undefined && (targetRoot || targetCwd))) {
    throw new UsageError(
      'no namespace to enter: name the types (--net, --mnt, --uts, --ipc, --pid, --user, --cgroup, --time), use --all for every one the target does not share with us, or --ns PATH',
      'exec',
    )
  }
  if (all && types.length) throw new UsageError(`--all enters every namespace; leave out --${types[0]}`, 'exec')
  if (!command.length) throw new UsageError('no command given: add -- CMD [ARGS...]', 'exec')
  if ((targetRoot || targetCwd) && (pid === undefined || paths.length)) {
    throw new UsageError(
      `${targetRoot ? '-r' : '-w'} alone takes the root or working directory of --target PID, which only joins by type (not with --ns or --net=FILE): give a directory (${targetRoot ? '--root=DIR' : '--wd=DIR'})`,
      'exec',
    )
  }
  // -F (--no-fork) is accepted: the command is always nsjs's child, created in the pid namespace.
  const options: SpawnOptions = {
    root: values['x-root'] as string | undefined,
    cwd: values['x-wd'] as string | undefined,
    uid: id(values.setuid, '--setuid'),
    gid: id(values.setgid, '--setgid'),
    // Our ids as the entered user namespace sees them (65534 where unmapped); -S/-G still apply.
    preserveCredentials: values['preserve-credentials'] === true,
  }
  if (!paths.length) {
    const dirs = { ...(targetRoot && { root: true }), ...(targetCwd && { cwd: true }) }
    options.join = all
      ? { pid: pid as number, ...dirs }
      : { pid: pid as number, types: dirTypes(pid as number, types), ...dirs }
    return runChild(command, options)
  }
  const handles: Namespace[] = []
  try {
    if (pid !== undefined && (types.length || all)) handles.push(...openTarget(pid, types, all))
    for (const [p, type] of paths) handles.push(Namespace.fromPath(p, type))
    options.join = handles
    return await runChild(command, options)
  } finally {
    for (const h of handles) h.close()
  }
}
