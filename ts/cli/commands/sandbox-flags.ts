// nsjs run's sandbox options, bubblewrap's where it has them (`--ro-bind /usr /usr --tmpfs /tmp
// --cap-drop ALL`), turned into spawn()'s `mounts`, `capabilities`, `rlimits` and `seccomp`.
import { existsSync, readFileSync } from 'node:fs'

import type { MountEntry, RlimitName, SpawnOptions } from '../../index'
import { type Options, PAIR_SEPARATOR, type Parsed, UsageError } from '../args'

/** The sandbox options, as parseArgs takes them (two-value ones joined by pairValues). */
export const SANDBOX_OPTIONS: Options = {
  bind: { type: 'string', multiple: true },
  'ro-bind': { type: 'string', multiple: true },
  'bind-try': { type: 'string', multiple: true },
  'ro-bind-try': { type: 'string', multiple: true },
  file: { type: 'string', multiple: true },
  tmpfs: { type: 'string', multiple: true },
  dev: { type: 'string', multiple: true },
  proc: { type: 'string', multiple: true },
  dir: { type: 'string', multiple: true },
  symlink: { type: 'string', multiple: true },
  perms: { type: 'string', multiple: true },
  size: { type: 'string', multiple: true },
  'cap-add': { type: 'string', multiple: true },
  'cap-drop': { type: 'string', multiple: true },
  seccomp: { type: 'string' },
  rlimit: { type: 'string', multiple: true },
  // unshare's --cgroup is run's new cgroup namespace: the directory to start in is --cgroup-dir.
  'cgroup-dir': { type: 'string' },
  init: { type: 'boolean' },
  'new-session': { type: 'boolean' },
  'die-with-parent': { type: 'boolean' },
}

/** The options taking two values, with their names for a usage error (bwrap's syntax). */
export const SANDBOX_PAIRS: Readonly<Record<string, string>> = {
  bind: 'SRC DEST',
  'ro-bind': 'SRC DEST',
  'bind-try': 'SRC DEST',
  'ro-bind-try': 'SRC DEST',
  file: 'FD DEST',
  symlink: 'SRC DEST',
}

/** setrlimit(2)'s resources, as spawn's `rlimits` names them (every one: the type checks it). */
const RLIMIT_NAMES = Object.keys({
  cpu: 0,
  fsize: 0,
  data: 0,
  stack: 0,
  core: 0,
  rss: 0,
  nproc: 0,
  nofile: 0,
  memlock: 0,
  as: 0,
  locks: 0,
  sigpending: 0,
  msgqueue: 0,
  nice: 0,
  rtprio: 0,
  rttime: 0,
} satisfies Record<RlimitName, 0>) as RlimitName[]

/** What the sandbox options ask of spawn(), and which namespaces they need. */
export type SandboxRequest = Pick<
  SpawnOptions,
  'mounts' | 'capabilities' | 'rlimits' | 'seccomp' | 'cgroup' | 'init' | 'detached' | 'dieWithParent'
>

function usage(message: string): UsageError {
  return new UsageError(message, 'run')
}

/** A limit: a count, or unlimited / infinity. */
function limit(v: string, arg: string): number {
  if (/^(unlimited|infinity)$/i.test(v)) return Number.POSITIVE_INFINITY
  if (!/^\d{1,15}$/.test(v)) throw usage(`--rlimit ${arg}: a limit is a number or unlimited, not '${v}'`)
  return Number(v)
}

/** `--rlimit NAME=N` or `NAME=SOFT:HARD`, as prlimit(1) writes a pair. */
function rlimit(arg: string, into: NonNullable<SandboxRequest['rlimits']>): void {
  const m = /^([a-z]+)=([^:]+)(?::(.+))?$/i.exec(arg)
  if (!m) throw usage(`--rlimit takes NAME=N or NAME=SOFT:HARD, not '${arg}'`)
  const name = m[1].toLowerCase().replace(/^rlimit_/, '') as RlimitName
  if (!RLIMIT_NAMES.includes(name))
    throw usage(`--rlimit: unknown resource '${m[1]}' (one of ${RLIMIT_NAMES.join(', ')})`)
  const soft = limit(m[2], arg)
  const hard = m[3] === undefined ? soft : limit(m[3], arg)
  if (soft > hard) throw usage(`--rlimit ${arg}: the soft limit is above the hard one`)
  into[name] = m[3] === undefined ? soft : { soft, hard }
}

/**
 * What `--seccomp FD` and `--file FD DEST` read: a descriptor number as bwrap takes it
 * (`--seccomp 10 10<filter.bpf`), or a FILE (`./10` for a file of that name).
 */
function readFdOrFile(arg: string): Buffer {
  return readFileSync(/^\d+$/.test(arg) ? Number(arg) : arg)
}

/**
 * The spawn options of the sandbox flags, read from the tokens in the order they were typed:
 * mounts are made in that order, `--perms` and `--size` apply to the next mount that takes them,
 * and `--cap-drop ALL` / `--cap-add CAP` are applied in turn as bwrap applies them.
 */
export function sandboxRequest(tokens: Parsed['tokens']): SandboxRequest {
  const mounts: MountEntry[] = []
  const rlimits: NonNullable<SandboxRequest['rlimits']> = {}
  let capabilities: string[] | undefined // undefined: all that the command has
  let mode: number | undefined
  let size: number | undefined
  const out: SandboxRequest = {}
  for (const t of tokens) {
    if (t.kind !== 'option' || !Object.hasOwn(SANDBOX_OPTIONS, t.name)) continue
    if (t.value === undefined) {
      if (t.name === 'init') out.init = true
      if (t.name === 'new-session') out.detached = true
      if (t.name === 'die-with-parent') out.dieWithParent = true
      continue
    }
    const v = t.value
    const [source, target] = v.split(PAIR_SEPARATOR)
    // As bwrap: --perms and --size modify the next option, which must be a mount taking them.
    const modifier = t.name === 'perms' || t.name === 'size'
    if (mode !== undefined && !modifier && !['tmpfs', 'dir', 'file'].includes(t.name))
      throw usage(`--perms must be followed by --tmpfs, --dir or --file, not --${t.name}`)
    if (size !== undefined && !modifier && t.name !== 'tmpfs')
      throw usage(`--size must be followed by --tmpfs, not --${t.name}`)
    switch (t.name) {
      case 'bind':
      case 'ro-bind':
        mounts.push({ type: 'bind', source, target, readonly: t.name === 'ro-bind' })
        break
      case 'bind-try':
      case 'ro-bind-try':
        // bwrap's -try forms leave out a SRC that does not exist.
        if (existsSync(source)) mounts.push({ type: 'bind', source, target, readonly: t.name === 'ro-bind-try' })
        break
      case 'file':
        mounts.push({ type: 'file', target, data: readFdOrFile(source), ...(mode === undefined ? {} : { mode }) })
        mode = undefined
        break
      case 'symlink':
        mounts.push({ type: 'symlink', linkTo: source, target })
        break
      case 'tmpfs':
        mounts.push({
          type: 'tmpfs',
          target: v,
          ...(mode === undefined ? {} : { mode }),
          ...(size === undefined ? {} : { size }),
        })
        ;[mode, size] = [undefined, undefined]
        break
      case 'dir':
        mounts.push({ type: 'dir', target: v, ...(mode === undefined ? {} : { mode }) })
        mode = undefined
        break
      case 'dev':
      case 'proc':
        mounts.push({ type: t.name, target: v })
        break
      case 'perms':
        if (!/^[0-7]{1,4}$/.test(v)) throw usage(`--perms takes an octal mode such as 0700, not '${v}'`)
        mode = Number.parseInt(v, 8)
        break
      case 'size':
        if (!/^[1-9]\d{0,15}$/.test(v)) throw usage(`--size takes a number of bytes, not '${v}'`)
        size = Number(v)
        break
      case 'cap-drop':
        if (v.toUpperCase() === 'ALL') capabilities = []
        else if (capabilities === undefined)
          throw usage(`--cap-drop ${v}: drop ALL, then --cap-add what the command keeps`)
        else capabilities = capabilities.filter((c) => canonical(c) !== canonical(v))
        break
      case 'cap-add':
        if (v.toUpperCase() === 'ALL') capabilities = undefined
        else if (capabilities !== undefined && !capabilities.some((c) => canonical(c) === canonical(v)))
          capabilities.push(v)
        break
      case 'rlimit':
        rlimit(v, rlimits)
        break
      case 'seccomp':
        out.seccomp = readFdOrFile(v)
        break
      case 'cgroup-dir':
        out.cgroup = v
        break
    }
  }
  if (mode !== undefined || size !== undefined)
    throw usage(`--${mode !== undefined ? 'perms' : 'size'} must be followed by the mount it is for`)
  if (mounts.length) out.mounts = mounts
  if (capabilities !== undefined) out.capabilities = capabilities
  if (Object.keys(rlimits).length) out.rlimits = rlimits
  return out
}

/** A capability's name as capabilities(7) writes it, for comparing what users type. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/^cap_/, '')
}
