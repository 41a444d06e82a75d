#!/usr/bin/env node
/**
 * nsjs: the command-line tool (package.json "bin"), built only on the public API of the library
 * (`./index`). Arguments are parsed with Node's own `util.parseArgs`; the tool has no dependency.
 *
 *   nsjs ls [--type TYPE] [--pid PID] [--json] [--tree]   like lsns, persisted namespaces included
 *   nsjs exec (--target PID [-n -m -u -i -p -U -C -T | -a] | --ns PATH...) [--wd DIR] -- CMD [ARGS]
 *                                                          like nsenter
 *   nsjs run --unshare TYPES [--map-root|--map-current] [--hostname H] [--mount-proc] -- CMD [ARGS]
 *                                                          like unshare --fork
 *   nsjs create TYPE PATH                                  like ip netns add
 *   nsjs delete PATH...                                    like ip netns delete
 *   nsjs id PID [--json]                                   the namespaces of a process
 *
 * Exit status: 0 on success; 1 on an error, printed as ONE line `nsjs: <CODE>: <message>` on stderr
 * (a NamespaceError's code and message); 2 on bad usage (the problem and a usage line). `exec`
 * and `run` exit with the command's status, 128+N when signal N killed it, 127 when it was not
 * found and 126 when it could not be executed (like a shell and nsenter).
 *
 * JSON output (stable; keys are never renamed or removed, new keys may be added):
 *
 * `nsjs ls --json` prints
 *   {"namespaces":[{"ns":4026531840,"type":"net","nprocs":3,"pid":812,"user":"root",
 *                   "command":"sleep 600","path":"/run/netns/x","paths":["/run/netns/x"]}, ...]}
 *   ns, type, nprocs, pid, user and command have the names and meanings of `lsns --json`: ns is
 *   the inode number, nprocs counts processes (not threads), pid is the lowest pid in the
 *   namespace and user/command are that process's. pid, user and command are null when only a
 *   bind mount holds the namespace. paths are the places it is bind-mounted (persisted) in our
 *   mount namespace, path is the first of them or null. With --tree every entry also has
 *   "owner": the ns of the user namespace that owns it (for a user namespace: its parent), or
 *   null when that is outside our view.
 *
 * `nsjs id PID --json` prints
 *   {"pid":812,"namespaces":{"cgroup":"cgroup:[4026531835]","ipc":"ipc:[...]", ...}}
 *   with one key per namespace type the kernel has, valued as `readlink /proc/PID/ns/TYPE` prints.
 */
import { existsSync, readFileSync } from 'node:fs'
import { constants as osConstants } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { type ParseArgsConfig, parseArgs } from 'node:util'

import {
  NAMESPACE_TYPES,
  Namespace,
  NamespaceError,
  type NamespaceInfo,
  type NamespaceType,
  type SpawnOptions,
  spawn,
} from './index'

type Options = NonNullable<ParseArgsConfig['options']>

/** A usage error: printed with the command's usage line, exit status 2. */
class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    readonly code = 'ERR_USAGE',
  ) {
    super(message)
  }
}

// ---------------------------------------------------------------------------------------------
// help texts

const TYPES_HELP = `TYPE is one of: ${[...NAMESPACE_TYPES].sort().join(', ')} ('mount' is accepted for mnt).`

const USAGE: Record<string, string> = {
  nsjs: 'nsjs <ls|exec|run|create|delete|id> [options]   (nsjs --help)',
  ls: 'nsjs ls [--type TYPE] [--pid PID] [--json] [--tree]',
  exec: 'nsjs exec --target PID [-n] [-m] [-u] [-i] [-p] [-U] [-C] [-T] [--all] [--ns PATH] [--wd DIR] -- CMD [ARGS...]',
  run: 'nsjs run --unshare TYPE[,TYPE...] [--map-root|--map-current] [--hostname NAME] [--mount-proc] [--root DIR] [--wd DIR] [--kill-child] -- CMD [ARGS...]',
  create: 'nsjs create TYPE PATH',
  delete: 'nsjs delete PATH...',
  id: 'nsjs id PID [--json]',
}

const HELP: Record<string, string> = {
  nsjs: `Usage: nsjs <command> [options]

Linux namespaces from the command line, on the nsjs library.

Commands:
  ls       list namespaces, like lsns (persisted ones too, with their paths)
  exec     run a command in the namespaces of a process or in persisted ones, like nsenter
  run      run a command in new namespaces, like unshare --fork
  create   create a namespace and persist it at a path, like ip netns add
  delete   remove a persisted namespace, like ip netns delete
  id       show the namespaces of a process

Options:
  -h, --help     show this help; nsjs <command> --help shows a command's
  -V, --version  print the version

Exit status: 0 on success, 1 on an error (one line on stderr: nsjs: <CODE>: <message>),
2 on bad usage. exec and run exit with the command's status: 128+N when signal N ended it,
127 when it was not found, 126 when it could not be executed.
`,
  ls: `Usage: ${USAGE.ls}

List namespaces like lsns: those of every process in /proc and those kept only by a bind mount
(persisted with nsjs create or ip netns add), with the paths where they are mounted.

Options:
  -t, --type TYPE  only namespaces of this type
  -p, --pid PID    only the namespaces process PID is in
  -J, --json       print JSON (below)
  -T, --tree       show user namespaces as a tree, each with the namespaces it owns
  -h, --help       show this help

${TYPES_HELP}

Columns: NS (inode number), TYPE, NPROCS (processes in it), PID (the lowest pid in it),
USER (that process's user), PATH (where it is persisted), COMMAND (that process's command).

--json prints {"namespaces":[{"ns":N,"type":"net","nprocs":N,"pid":N|null,"user":"root"|null,
"command":"..."|null,"path":"..."|null,"paths":["..."]}]}; ns, type, nprocs, pid, user and
command mean what they mean in lsns --json; path is the first of paths or null. With --tree each
entry also has "owner": the ns of the owning user namespace (a user namespace's parent), or null.
`,
  exec: `Usage: ${USAGE.exec}

Run a command inside existing namespaces, like nsenter: those of process PID (--target with the
types to enter, or --all) and/or namespace files such as /run/netns/NAME (--ns). stdio is passed
through and nsjs exits with the command's status.

Options:
  -t, --target PID  the process whose namespaces to enter
  -n, --net         enter its network namespace
  -m, --mnt         enter its mount namespace (also --mount)
  -u, --uts         enter its UTS (hostname) namespace
  -i, --ipc         enter its IPC namespace
  -p, --pid         enter its pid namespace (the command is created inside it)
  -U, --user        enter its user namespace
  -C, --cgroup      enter its cgroup namespace
  -T, --time        enter its time namespace
  -a, --all         enter every namespace of the target that differs from ours
      --ns PATH     enter the namespace file PATH (repeatable), e.g. /run/netns/NAME
  -w, --wd DIR      working directory of the command (inside the entered mount namespace)
  -h, --help        show this help

Without a namespace to enter, exec refuses: name the types (-n, -m, ...), use --all, or --ns.
Exit status: the command's; 128+N if signal N ended it; 127 not found; 126 not executable;
1 when a namespace could not be entered (nsjs: <CODE>: <message>); 2 on bad usage.
`,
  run: `Usage: ${USAGE.run}

Run a command in new namespaces, like unshare --fork: the command is the first process of a new
pid namespace (PID 1) when pid is among the types. stdio is passed through and nsjs exits with
the command's status.

Options:
  -s, --unshare TYPES  new namespaces, comma-separated and/or repeated: user,pid,mnt,net,uts,...
  -r, --map-root       map root inside a new user namespace to your uid and gid (implies user)
  -c, --map-current    map your uid and gid to themselves in a new user namespace (implies user)
      --hostname NAME  hostname in the new UTS namespace (implies uts)
      --mount-proc     mount a new /proc (implies mnt; pair it with pid)
      --root DIR       run the command with DIR as its root directory
  -w, --wd DIR         working directory of the command
      --kill-child     kill the command (SIGKILL) when nsjs dies
  -f, --fork           accepted for unshare compatibility: nsjs always forks
  -h, --help           show this help

${TYPES_HELP}
Unprivileged users can create every type together with user and a map:
  nsjs run --unshare user,pid,net --map-root --mount-proc -- sh
Exit status: as for exec.
`,
  create: `Usage: ${USAGE.create}

Create a new namespace of TYPE and keep it at PATH with a bind mount, like ip netns add (for a
net namespace at /run/netns/NAME, ip netns sees it). PATH must not exist; a missing parent
directory is created. Prints the new namespace's id (TYPE:[inode]). Remove it with nsjs delete.

${TYPES_HELP}
`,
  delete: `Usage: ${USAGE.delete}

Remove namespaces persisted at PATH (by nsjs create, ip netns add, or the library's persist()):
unmount and delete the file, like ip netns delete. A namespace lives on while processes are in it.
`,
  id: `Usage: ${USAGE.id}

Show the namespaces process PID is in: one line per type with its id as readlink /proc/PID/ns/TYPE
prints it.

Options:
  -J, --json  print {"pid":N,"namespaces":{"cgroup":"cgroup:[4026531835]",...}}
  -h, --help  show this help
`,
}

// ---------------------------------------------------------------------------------------------
// parsing helpers (util.parseArgs does the parsing)

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } }

function parse<O extends Options>(command: string, args: string[], options: O, positionals = false) {
  try {
    return parseArgs({ args, options: { ...HELP_OPTION, ...options }, strict: true, allowPositionals: positionals })
  } catch (err) {
    const e = err as Error & { code?: string }
    // parseArgs explains how to pass a value starting with '-'; the first sentence is the point.
    throw new UsageError(e.message.split(/\.\s/)[0], command, e.code)
  }
}

/**
 * Splits `[options] [--] CMD ARGS...` where the command begins: at `--` or at the first argument
 * that is not an option (as nsenter and unshare, getopt with '+', do). parseArgs' tokens say
 * where that is, knowing which options take a value.
 */
function splitCommand(args: string[], options: Options): { own: string[]; command: string[] } {
  const { tokens } = parseArgs({
    args,
    options: { ...HELP_OPTION, ...options },
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
  const stop = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator')
  if (!stop) return { own: args, command: [] }
  return {
    own: args.slice(0, stop.index),
    command: args.slice(stop.kind === 'option-terminator' ? stop.index + 1 : stop.index),
  }
}

function parsePid(value: string | undefined, command: string, what = 'PID'): number {
  if (value === undefined || !/^[1-9]\d{0,6}$/.test(value)) {
    throw new UsageError(
      `${what} must be a process id (a positive integer), not ${value === undefined ? 'nothing' : `'${value}'`}`,
      command,
    )
  }
  return Number(value)
}

function parseType(value: string, command: string): NamespaceType {
  const t = value === 'mount' ? 'mnt' : value
  if (!(NAMESPACE_TYPES as readonly string[]).includes(t)) {
    throw new UsageError(`unknown namespace type '${value}'; ${TYPES_HELP}`, command)
  }
  return t as NamespaceType
}

// ---------------------------------------------------------------------------------------------
// output

function out(line = ''): void {
  process.stdout.write(`${line}\n`)
}

type Align = 'left' | 'right'

/** Columns as lsns prints them: padded with spaces, the last one not padded. */
function table(header: string[], rows: string[][], align: Align[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : align[i] === 'right' ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join(' ')
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

// ---------------------------------------------------------------------------------------------
// ls

interface LsEntry {
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

function entry(n: NamespaceInfo): LsEntry {
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

const LS_HEADER = ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'PATH', 'COMMAND']
const LS_ALIGN: Align[] = ['right', 'left', 'right', 'right', 'left', 'left', 'left']

function lsCells(e: LsEntry, ns = String(e.ns)): string[] {
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

async function cmdLs(args: string[]): Promise<number> {
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
  const entries = (await Namespace.list({ type, pid })).map(entry)
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

/**
 * Opens a listed namespace, where that is allowed, to ask the kernel who owns it: by its
 * persisted path, else by its lowest pid, else as our own namespace. PID 1's namespaces are
 * never opened by pid: for them the list's facts are all there is (unless they are ours).
 */
function openListed(n: NamespaceInfo, own: Map<NamespaceType, bigint>): Namespace | undefined {
  const tries: Array<() => Namespace> = []
  if (own.get(n.type) === BigInt(n.id)) tries.push(() => Namespace.current(n.type))
  for (const p of n.paths) tries.push(() => Namespace.fromPath(p, n.type))
  if (n.pid !== undefined && n.pid !== 1) tries.push(() => Namespace.open(n.pid as number, n.type))
  for (const attempt of tries) {
    let h: Namespace | undefined
    try {
      h = attempt()
      // A pid may have moved to another namespace (or been reused) since the list was taken.
      if (h.inode === BigInt(n.id)) return h
    } catch {
      // not allowed or gone: try the next way
    }
    h?.close()
  }
  return undefined
}

/** The user namespace above `h`: its parent for a user namespace, else its owner. */
function ownerOf(h: Namespace): Namespace | undefined {
  try {
    return h.type === 'user' ? h.parent() : h.owner()
  } catch {
    // EPERM: above our own user namespace, which the kernel does not reveal
    return undefined
  }
}

async function lsTree(type: NamespaceType | undefined, pid: number | undefined, json: boolean): Promise<number> {
  const all = await Namespace.list()
  const key = (t: string, id: number | bigint): string => `${t}:${id}`
  const nodes = new Map<string, LsEntry>(all.map((n) => [key(n.type, n.id), entry(n)]))
  const own = new Map<NamespaceType, bigint>()
  for (const t of NAMESPACE_TYPES) {
    try {
      using h = Namespace.current(t)
      own.set(t, h.inode)
    } catch {
      // a type this kernel lacks
    }
  }
  // owner of every node: a user namespace's ns, null when outside our view, undefined unknown
  const owner = new Map<string, number | null>()
  // One handle open at a time (a system may hold thousands of namespaces). Owners that no
  // process or mount holds are reached through the handles themselves, walking up.
  for (const n of all) {
    let k = key(n.type, n.id)
    let h = openListed(n, own)
    while (h) {
      const up = ownerOf(h)
      h.close()
      h = undefined
      if (!up) {
        owner.set(k, null)
        break
      }
      const upId = Number(up.inode)
      owner.set(k, upId)
      k = key('user', upId)
      if (owner.has(k)) {
        up.close()
        break
      }
      // Go on up with this handle; it also serves a listed user namespace we could not open.
      if (!nodes.has(k))
        nodes.set(k, { ns: upId, type: 'user', nprocs: 0, pid: null, user: null, command: null, path: null, paths: [] })
      h = up
    }
  }
  // What to show: the namespaces asked for, and the user namespaces above them.
  const wanted = new Set<string>()
  const selected = pid === undefined ? all : await Namespace.list({ pid })
  for (const n of selected) {
    if (type !== undefined && n.type !== type) continue
    for (let k: string | undefined = key(n.type, n.id); k && !wanted.has(k); ) {
      wanted.add(k)
      const o = owner.get(k)
      k = o === undefined || o === null ? undefined : key('user', o)
    }
  }
  const shown = [...nodes.entries()].filter(([k]) => wanted.has(k))
  if (json) {
    const namespaces = shown.map(([k, e]) => ({ ...e, owner: owner.get(k) ?? null }))
    out(JSON.stringify({ namespaces }, null, 2))
    return 0
  }
  // Children of each user namespace: the namespaces it owns first, then its child user namespaces.
  const children = new Map<string, Array<[string, LsEntry]>>()
  const roots: Array<[string, LsEntry]> = []
  const unknown: Array<[string, LsEntry]> = []
  for (const [k, e] of shown) {
    const o = owner.get(k)
    if (o === undefined) unknown.push([k, e])
    else if (o === null || !wanted.has(key('user', o))) roots.push([k, e])
    else {
      const pk = key('user', o)
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
  if (rows.length) for (const l of table(LS_HEADER, rows, align)) out(l)
  return 0
}

// ---------------------------------------------------------------------------------------------
// exec and run: a child with stdio passed through; we exit as it did

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

const EXEC_OPTIONS: Options = {
  target: { type: 'string', short: 't' },
  ...Object.fromEntries(FLAG_TYPES.map(([name, short]) => [name, { type: 'boolean', short }])),
  mount: { type: 'boolean' },
  all: { type: 'boolean', short: 'a' },
  ns: { type: 'string', multiple: true },
  wd: { type: 'string', short: 'w' },
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

async function cmdExec(args: string[]): Promise<number> {
  const { own, command } = splitCommand(args, EXEC_OPTIONS)
  const { values } = parse('exec', own, EXEC_OPTIONS)
  if (values.help) return help('exec')
  const types = FLAG_TYPES.filter(([name]) => values[name] === true).map(([, , t]) => t)
  if (values.mount && !types.includes('mnt')) types.push('mnt')
  const paths = (values.ns as string[] | undefined) ?? []
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
  const options: SpawnOptions = { cwd: values.wd as string | undefined }
  if (!paths.length) {
    options.join = all ? { pid: pid as number } : { pid: pid as number, types }
    return runChild(command, options)
  }
  const handles: Namespace[] = []
  try {
    if (pid !== undefined) handles.push(...openTarget(pid, types, all))
    for (const p of paths) handles.push(Namespace.fromPath(p))
    options.join = handles
    return await runChild(command, options)
  } finally {
    for (const h of handles) h.close()
  }
}

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

async function cmdRun(args: string[]): Promise<number> {
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

/** Signals sent to nsjs alone that the command should get. Ctrl-C and Ctrl-\ reach it directly. */
const FORWARD: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR2']
const IGNORE: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT']

async function runChild(command: string[], options: SpawnOptions): Promise<number> {
  const [file, ...rest] = command
  const child = spawn(file, rest, { ...options, stdio: 'inherit' })
  child.on('error', () => {}) // reported through `exited`
  const handlers = new Map<NodeJS.Signals, () => void>()
  for (const s of FORWARD) handlers.set(s, () => child.kill(s))
  for (const s of IGNORE) handlers.set(s, () => {})
  for (const [s, h] of handlers) process.on(s, h)
  try {
    const { code, signal } = await child.exited
    return signal ? 128 + (osConstants.signals[signal] ?? 0) : (code ?? 1)
  } finally {
    for (const [s, h] of handlers) process.off(s, h)
  }
}

// ---------------------------------------------------------------------------------------------
// create, delete, id

async function cmdCreate(args: string[]): Promise<number> {
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

async function cmdDelete(args: string[]): Promise<number> {
  const { values, positionals } = parse('delete', args, {}, true)
  if (values.help) return help('delete')
  if (!positionals.length) throw new UsageError('delete takes the PATH of a persisted namespace', 'delete')
  for (const p of positionals) await Namespace.unpersist(p)
  return 0
}

async function cmdId(args: string[]): Promise<number> {
  const { values, positionals } = parse('id', args, { json: { type: 'boolean', short: 'J' } }, true)
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

// ---------------------------------------------------------------------------------------------
// main

function help(command: string): number {
  process.stdout.write(HELP[command])
  return 0
}

function version(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'nsjs') return pkg.version ?? 'unknown'
    }
    if (dirname(dir) === dir) return 'unknown'
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  ls: cmdLs,
  exec: cmdExec,
  run: cmdRun,
  create: cmdCreate,
  delete: cmdDelete,
  id: cmdId,
}

/** Runs the tool on `argv` (without node and the script) and resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const [first, ...rest] = argv
    if (first === undefined) throw new UsageError('a command is needed')
    if (first === 'help') return help(rest[0] !== undefined && rest[0] in COMMANDS ? rest[0] : 'nsjs')
    if (first.startsWith('-')) {
      const { values } = parse('nsjs', argv, { version: { type: 'boolean', short: 'V' } })
      if (values.version) {
        out(version())
        return 0
      }
      return help('nsjs')
    }
    const run = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
    if (!run) throw new UsageError(`unknown command '${first}'`)
    return await run(rest)
  } catch (err) {
    return report(err)
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}

/** Prints an error as described at the top of this file and gives the exit status. */
function report(err: unknown): number {
  if (err instanceof UsageError) {
    const cmd = err.command ?? 'nsjs'
    process.stderr.write(
      `nsjs: ${err.code}: ${oneLine(err.message)}\nusage: ${USAGE[cmd]}${cmd === 'nsjs' ? '' : `   (nsjs ${cmd} --help)`}\n`,
    )
    return 2
  }
  const e = err as Partial<NamespaceError> & Error
  const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error')
  process.stderr.write(`nsjs: ${code}: ${oneLine(String(e?.message ?? err))}\n`)
  if (err instanceof NamespaceError && err.step === 'execve') return err.code === 'ENOENT' ? 127 : 126
  // Node's argument errors: a value the library refused before any syscall.
  if (/^ERR_INVALID_ARG_/.test(code)) return 2
  return 1
}

if (require.main === module) {
  // `nsjs ls | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  main(process.argv.slice(2)).then((status) => {
    process.exitCode = status
  })
}
