import { EventEmitter } from 'node:events'
import { closeSync } from 'node:fs'
import { Socket } from 'node:net'
import { constants as osConstants } from 'node:os'
import { resolve as resolvePath } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { isMainThread } from 'node:worker_threads'

import { argError, fromNative, NamespaceError, namespaceError, native } from './errors'
import { chargeSyncSpawn, enqueue, handOverThrough, type Queued, settled, shouldHandOver } from './handover'
import { binding } from './loader'
import { Namespace } from './namespace'
import type { NativeChild, NativeSpawnLater, NativeSpawnRequest, NativeStdioPipes } from './native'
import type { NamespaceType } from './types'
import {
  describe,
  received,
  validateInteger,
  validateObject,
  validatePath,
  validatePid,
  validateTypes,
} from './validate'

/** One line of a uid_map or gid_map: ids `inside..inside+count` map to `outside..outside+count`. */
export interface IdMapEntry {
  inside: number
  outside: number
  count: number
}

/**
 * A uid/gid map for a new user namespace: 'root' maps root inside to the caller's effective id
 * (like `unshare --map-root-user`), 'current' maps the caller's id to itself
 * (`--map-current-user`), or explicit lines (more than your own id needs CAP_SETUID/CAP_SETGID).
 */
export type IdMap = 'root' | 'current' | IdMapEntry[]

/** What one of fds 0, 1, 2 of the child is connected to. */
export type StdioOption = 'pipe' | 'inherit' | 'ignore' | number | { fd: number } | null | undefined

/** Existing namespaces to enter: handles, or a process whose namespaces to enter (like nsenter -t). */
export type JoinOption = Namespace[] | { pid: number; types?: NamespaceType[] }

/** Options of {@link spawn} and {@link exec}. */
export interface SpawnOptions {
  /**
   * Enter existing namespaces first, like nsenter: handles, or `{ pid, types }` (all types the
   * target does not share with us when `types` is omitted). A user namespace is entered the way
   * nsenter does it: first when that gains privilege, last when it drops it; one the command is
   * in already (ours, as in `Namespace.openAll(pid)` of a process that shares it) is left out,
   * since the kernel refuses to enter it again (EINVAL).
   */
  join?: JoinOption
  /** New namespaces for the child, like unshare(1). */
  unshare?: NamespaceType[]
  /** uid_map of a new user namespace (implies unshare 'user'). */
  uidMap?: IdMap
  /** gid_map of a new user namespace (implies unshare 'user'). */
  gidMap?: IdMap
  /** /proc/<pid>/setgroups of a new user namespace. Default 'deny' with gidMap 'root'/'current' or when not root. */
  setgroups?: 'allow' | 'deny'
  /** Hostname in a new uts namespace (implies unshare 'uts'). */
  hostname?: string
  /** Mount a new /proc (implies unshare 'mnt'; pair it with 'pid'), like unshare --mount-proc. */
  mountProc?: boolean
  /** Mount propagation set recursively on / in a new mount namespace. Default 'private'. */
  propagation?: 'private' | 'slave' | 'shared' | 'unchanged'
  /** Clock offsets in seconds for a new time namespace (implies unshare 'time'). */
  timeOffsets?: { monotonic?: number; boottime?: number }
  /** New root directory for the child (chroot, or pivot_root with `pivotRoot: true`). */
  root?: string
  /** Enter `root` with pivot_root(2) in a new mount namespace instead of chroot(2). */
  pivotRoot?: boolean
  /** Working directory, resolved inside the new root. */
  cwd?: string
  /**
   * Environment. Default: process.env as it is when spawn() is called. Names must be what
   * setenv(3) takes (not empty, no '=' and no null byte); values are used as strings, and those
   * that are undefined are left out.
   */
  env?: Record<string, string | undefined>
  /**
   * uid and gid the command runs as (inside the user namespace, if any). When `join` enters a
   * user namespace (and no new one is made), the default is 0 and 0, as with nsenter: the
   * command is root there, with that namespace's capabilities. Setting either drops our
   * supplementary groups where the user namespace allows setgroups.
   */
  uid?: number
  gid?: number
  /** Signal the child gets when its parent dies (PR_SET_PDEATHSIG). `true` means SIGKILL. */
  dieWithParent?: boolean | NodeJS.Signals | number
  /** Start the child in a new session (setsid). */
  detached?: boolean
  /** Default 'pipe' for all three. A descriptor is an integer from 0 to 2147483647. */
  stdio?: 'pipe' | 'inherit' | 'ignore' | StdioOption[]
  /** Aborting kills the child with `killSignal` and rejects `exited` with an AbortError. */
  signal?: AbortSignal
  /**
   * Milliseconds after which the child is killed with `killSignal` and `exited` rejects: an
   * integer up to 2147483647 (setTimeout's limit; child_process would fire a longer one at once).
   */
  timeout?: number
  /** Default 'SIGTERM'. */
  killSignal?: NodeJS.Signals | number
  /** argv[0] (any string without a null byte). Default: the command. */
  argv0?: string
}

/** How a child ended: `code` when it exited, `signal` when a signal ended it. */
export interface ExitStatus {
  code: number | null
  signal: NodeJS.Signals | null
}

function signalNumber(sig: NodeJS.Signals | number, name: string): number {
  if (typeof sig === 'number') {
    if (Number.isInteger(sig) && sig >= 0 && sig <= 64) return sig
  } else if (typeof sig === 'string') {
    const n = (osConstants.signals as Record<string, number>)[sig]
    if (n !== undefined) return n
  }
  // As child_process: the same code for kill() and for the signal options.
  throw argError(
    TypeError,
    'ERR_UNKNOWN_SIGNAL',
    `Unknown signal: ${String(sig)} (the argument '${name}' must be a signal name or number)`,
  )
}

// By number; where two names share one (SIGABRT and SIGIOT), the first, as child_process reports.
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>()
for (const [name, n] of Object.entries(osConstants.signals))
  if (!SIGNAL_NAMES.has(n)) SIGNAL_NAMES.set(n, name as NodeJS.Signals)

function signalName(n: number): NodeJS.Signals | null {
  return SIGNAL_NAMES.get(n) ?? null
}

/** An id map as given, each entry's fields read once: [inside, outside, count] lines. */
type MapLines = Array<[number, number, number]>

function readIdMap(m: unknown, name: string): 'root' | 'current' | MapLines | undefined {
  if (m === undefined || m === 'root' || m === 'current') return m
  if (!Array.isArray(m) || m.length === 0) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be 'root', 'current' or a non-empty array of { inside, outside, count }. Received ${received(m)}`,
    )
  }
  return readArray(m, name, (e, i) => {
    const entry = e as Partial<IdMapEntry> | null | undefined
    const line = [entry?.inside, entry?.outside, entry?.count]
    if (!line.every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff) || line[2] === 0) {
      throw argError(
        RangeError,
        'ERR_INVALID_ARG_VALUE',
        `The argument '${name}[${i}]' must have integer inside, outside and count from 0 to 4294967295 (count > 0). Received ${received(e)}`,
      )
    }
    return line as [number, number, number]
  })
}

/** The lines a map resolves to for a caller whose own id is `own`, flattened for the native side. */
function idMapLines(m: 'root' | 'current' | MapLines | undefined, own: number): number[] | undefined {
  if (m === undefined) return undefined
  if (m === 'root') return [0, own, 1]
  if (m === 'current') return [own, own, 1]
  return m.flat()
}

function firstIdIfUnmapped(m: 'root' | 'current' | MapLines | undefined, own: number): number | undefined {
  if (!Array.isArray(m)) return undefined
  return m.some(([, outside, count]) => own >= outside && own < outside + count) ? undefined : m[0][0]
}

function validateId(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= 0xffffffff) {
    throw argError(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be an integer from 0 to 4294967294. Received ${received(v)}`,
    )
  }
  return v as number
}

function optString(v: unknown, name: string): string | undefined {
  return v === undefined ? undefined : validatePath(v, `options.${name}`)
}

/**
 * A string the kernel takes as a C string: any string (empty too) without a NUL byte, which
 * would cut it short.
 */
function validateCString(v: unknown, name: string): string {
  if (typeof v !== 'string') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type string. Received ${describe(v)}`,
    )
  }
  if (v.includes('\0')) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be a string without null bytes. Received ${received(v)}`,
    )
  }
  return v
}

/**
 * Copies an array, reading its length and each element exactly once and refusing holes (which
 * `every` and `forEach` skip, and which would reach the native side as undefined).
 */
function readArray<T>(a: unknown[], name: string, each: (v: unknown, i: number) => T): T[] {
  const n = a.length
  const out: T[] = []
  for (let i = 0; i < n; i++) {
    if (!(i in a)) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `The argument '${name}' must be an array without holes. Received an empty slot at index ${i}`,
      )
    }
    out.push(each(a[i], i))
  }
  return out
}

function readArgs(args: unknown): string[] {
  if (args === undefined) return []
  if (!Array.isArray(args)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "args" argument must be an array of strings. Received ${describe(args)}`,
    )
  }
  return readArray(args, 'args', (a, i) => validateCString(a, `args[${i}]`))
}

/**
 * The environment as "K=V" strings. A name must be one setenv(3) would take (not empty, no '='):
 * `{ 'A=B': 'x' }` would otherwise reach the command as A with the value 'B=x'.
 */
function readEnv(env: unknown): string[] | undefined {
  if (env === undefined) return undefined
  if (env === null || typeof env !== 'object') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "options.env" argument must be of type object. Received ${describe(env)}`,
    )
  }
  const list: string[] = []
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue
    if (k === '' || k.includes('=') || k.includes('\0')) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `The argument 'options.env' must have names that are not empty and contain neither '=' nor null bytes. Received ${received(k)}`,
      )
    }
    // As child_process: a value is used as its string.
    const value = `${v as string}`
    if (value.includes('\0')) {
      throw argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `The argument 'options.env[${received(k)}]' must be a string without null bytes. Received ${received(value)}`,
      )
    }
    list.push(`${k}=${value}`)
  }
  return list
}

/** The kernel's HOST_NAME_MAX: sethostname(2) refuses longer names with EINVAL. */
const HOSTNAME_MAX_BYTES = 64

function validateHostname(v: unknown): string | undefined {
  const name = optString(v, 'hostname')
  if (name !== undefined && Buffer.byteLength(name) > HOSTNAME_MAX_BYTES) {
    throw argError(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument 'options.hostname' must be at most ${HOSTNAME_MAX_BYTES} bytes long. Received ${received(name)}`,
    )
  }
  return name
}

// What the native side takes for each of fds 0-2 besides a descriptor of ours.
const INHERIT = -1
const IGNORE = -2
const PIPE = -3

/** The native side takes descriptors as int32: a larger number would wrap to another fd. */
const FD_MAX = 0x7fffffff

function stdioCode(s: unknown, i: number): number {
  if (s === 'pipe' || s === null || s === undefined) return PIPE
  if (s === 'inherit') return INHERIT
  if (s === 'ignore') return IGNORE
  const fd = typeof s === 'number' ? s : typeof s === 'object' ? (s as { fd?: unknown }).fd : undefined
  if (typeof fd === 'number') return validateInteger(fd, `options.stdio[${i}]`, 0, FD_MAX)
  throw argError(
    TypeError,
    'ERR_INVALID_ARG_VALUE',
    `The argument 'options.stdio[${i}]' must be 'pipe', 'inherit', 'ignore', a file descriptor or an object with an fd. Received ${received(s)}`,
  )
}

/** setTimeout's limit: a longer delay fires at once (with a TimeoutOverflowWarning). */
const TIMEOUT_MAX = 0x7fffffff

interface Prepared {
  request: NativeSpawnRequest
  /** The arguments as read (a copy: the caller's array is read once). */
  args: string[]
  /** Handles opened here (join by pid) that must be closed after the spawn. */
  opened: Namespace[]
  /** Handles whose descriptors the request uses; they must stay open during the call. */
  joined: Namespace[]
  stdio: number[]
  signal?: AbortSignal
  timeout?: number
  killSignal: number
  /**
   * Whether the spawner thread may start this child (ts/handover.ts): not when it names fds of
   * ours for stdio (the caller may close them once spawn() returns), nor when a new user
   * namespace comes with joins (those joins happen on the cloning thread itself).
   */
  mayHandOver: boolean
}

/** `join` as given: handles, or the target to open them from (opened only after validation). */
type JoinRead = { handles: Namespace[] } | { pid: number; types: NamespaceType[] | undefined }

function readJoin(join: unknown): JoinRead {
  if (join === undefined) return { handles: [] }
  if (Array.isArray(join)) {
    return {
      handles: readArray(join, 'options.join', (h, i) => {
        if (!(h instanceof Namespace))
          throw argError(
            TypeError,
            'ERR_INVALID_ARG_TYPE',
            `The "options.join[${i}]" argument must be an instance of Namespace. Received ${describe(h)}`,
          )
        return h
      }),
    }
  }
  const o = validateObject(join, 'options.join')
  const pid = validatePid(o.pid, 'options.join.pid')
  const types = o.types === undefined ? undefined : validateTypes(o.types, 'options.join.types')
  return { pid, types }
}

function resolveJoin(join: JoinRead): { handles: Namespace[]; opened: Namespace[] } {
  if ('handles' in join) return { handles: join.handles, opened: [] }
  // One pidfd for all of them (they are all the target's, even if its pid is reused meanwhile),
  // and nsenter's rules, in one native call: a user namespace we already share is left out
  // (setns to one's own is EINVAL), and without types every namespace we share (--all).
  const opened = native(() => binding().openPidJoins(join.pid, join.types)).map((n) => Namespace.wrap(n))
  return { handles: opened, opened }
}

/** The options spawn() reads, in the order it reads them. */
const SPAWN_KEYS = [
  'join',
  'unshare',
  'uidMap',
  'gidMap',
  'setgroups',
  'hostname',
  'mountProc',
  'propagation',
  'timeOffsets',
  'root',
  'pivotRoot',
  'cwd',
  'env',
  'uid',
  'gid',
  'dieWithParent',
  'detached',
  'stdio',
  'signal',
  'timeout',
  'killSignal',
  'argv0',
] as const satisfies ReadonlyArray<keyof SpawnOptions>

/** The options exec() reads: spawn's but stdio, and its own. */
const EXEC_KEYS = [
  ...SPAWN_KEYS.filter((k): k is Exclude<typeof k, 'stdio'> => k !== 'stdio'),
  'encoding',
  'input',
  'maxBuffer',
  'stderr',
] as const satisfies ReadonlyArray<keyof ExecOptions>

/**
 * The options `keys` names, each read exactly once, into a plain object that everything after
 * works on: a getter that answers differently when read again can then neither slip a value
 * past validation nor make spawn() throw after its child has started (leaving no handle to it).
 */
function readOptions<K extends string>(options: unknown, keys: readonly K[]): { [P in K]?: unknown } {
  const o = validateObject(options, 'options')
  const out: { [P in K]?: unknown } = {}
  for (const k of keys) {
    const v = o[k]
    if (v !== undefined) out[k] = v
  }
  return out
}

function prepare(file: unknown, args: unknown, options: unknown): Prepared {
  // Everything is read and checked before the first syscall; join handles are opened last.
  validatePath(file, 'file')
  const argv = readArgs(args)
  const o = readOptions(options, SPAWN_KEYS)
  const join = readJoin(o.join)
  const unshare = o.unshare === undefined ? [] : validateTypes(o.unshare, 'options.unshare', true)
  const uidMapRead = readIdMap(o.uidMap, 'options.uidMap')
  const gidMapRead = readIdMap(o.gidMap, 'options.gidMap')
  if (o.setgroups !== undefined && o.setgroups !== 'allow' && o.setgroups !== 'deny') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument 'options.setgroups' must be 'allow' or 'deny'. Received ${received(o.setgroups)}`,
    )
  }
  const hostname = validateHostname(o.hostname)
  const propagation = o.propagation ?? 'private'
  if (typeof propagation !== 'string' || !['private', 'slave', 'shared', 'unchanged'].includes(propagation)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument 'options.propagation' must be 'private', 'slave', 'shared' or 'unchanged'. Received ${received(propagation)}`,
    )
  }
  let timeOffsets: number[] | undefined
  if (o.timeOffsets !== undefined) {
    const t = validateObject(o.timeOffsets, 'options.timeOffsets')
    timeOffsets = [t.monotonic ?? 0, t.boottime ?? 0].map((v, i) => {
      if (!Number.isInteger(v))
        throw argError(
          TypeError,
          'ERR_INVALID_ARG_VALUE',
          `The argument 'options.timeOffsets.${i ? 'boottime' : 'monotonic'}' must be an integer number of seconds. Received ${received(v)}`,
        )
      return v as number
    })
  }
  const root = optString(o.root, 'root')
  const cwd = optString(o.cwd, 'cwd')
  // Without an env option the main thread's process.env is the real environment (Node writes
  // changes through to it), so the native side takes it as it is instead of a rebuilt list. A
  // worker's process.env is a copy, so there the list is built.
  const envList = readEnv(o.env ?? (isMainThread ? undefined : process.env))
  const uidOpt = validateId(o.uid, 'options.uid')
  const gidOpt = validateId(o.gid, 'options.gid')
  let dieWithParent: number | undefined
  if (o.dieWithParent !== undefined && o.dieWithParent !== false) {
    dieWithParent =
      o.dieWithParent === true
        ? osConstants.signals.SIGKILL
        : signalNumber(o.dieWithParent as NodeJS.Signals, 'options.dieWithParent')
  }
  const stdioOpt = o.stdio ?? 'pipe'
  if (typeof stdioOpt !== 'string' && !Array.isArray(stdioOpt)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "options.stdio" argument must be of type string or an array. Received ${describe(stdioOpt)}`,
    )
  }
  const stdio = [0, 1, 2].map((i) => stdioCode(typeof stdioOpt === 'string' ? stdioOpt : stdioOpt[i], i))
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "options.signal" argument must be an instance of AbortSignal. Received ${describe(o.signal)}`,
    )
  }
  const timeout = o.timeout === undefined ? undefined : validateInteger(o.timeout, 'options.timeout', 0, TIMEOUT_MAX)
  const killSignal = signalNumber((o.killSignal ?? 'SIGTERM') as NodeJS.Signals, 'options.killSignal')
  const argv0 = o.argv0 === undefined ? (file as string) : validateCString(o.argv0, 'options.argv0')

  // Only id options need our ids (two native calls per spawn otherwise).
  const ids = uidMapRead !== undefined || gidMapRead !== undefined
  const euid = ids ? (process.geteuid?.() ?? 0) : 0
  const egid = ids ? (process.getegid?.() ?? 0) : 0
  const uidMap = idMapLines(uidMapRead, euid)
  const gidMap = idMapLines(gidMapRead, egid)
  const setgroups =
    (o.setgroups as 'allow' | 'deny' | undefined) ??
    (gidMap && (typeof gidMapRead === 'string' || euid !== 0) ? 'deny' : undefined)
  // With an explicit map that leaves out our own id, the child's id would be unmapped (shown as
  // 65534, the overflow id) and powerless; run it as the first mapped id instead, as container
  // runtimes run as root inside a 0:100000:65536 map.
  const uid = uidOpt ?? firstIdIfUnmapped(uidMapRead, euid)
  const gid = gidOpt ?? firstIdIfUnmapped(gidMapRead, egid)
  // A bare command whose environment has no PATH is looked up in ours, read here on the calling
  // thread: native code must not read the process environment, which Node's main thread writes
  // (process.env) with no lock another thread could take. Without `env` on the main thread the
  // native side takes that environment, PATH included, as it is.
  const path =
    envList !== undefined && !(file as string).includes('/') && !envList.some((e) => e.startsWith('PATH='))
      ? process.env.PATH
      : undefined

  const { handles, opened } = resolveJoin(join)
  const joinTypes = handles.map((h) => h.type)
  // As nsenter does (without --preserve-credentials): a command entering a user namespace runs
  // as root there. Keeping our ids would leave it unmapped (uid 65534 inside) and without the
  // capabilities the join was for, since execve grants them only to uid 0 of the namespace. The
  // native plan applies it only if that join really happens: one of our own user namespace is
  // left out (setns to it is EINVAL), and the command then keeps our ids, as with nsenter.
  const asRootInJoinedUser =
    joinTypes.includes('user') && !unshare.includes('user') && uidMap === undefined && gidMap === undefined
  return {
    request: {
      file: file as string,
      argv: [argv0, ...argv],
      env: envList,
      path,
      joinFds: handles.map((h) => h.fd),
      joinTypes,
      unshare,
      uidMap,
      gidMap,
      setgroups,
      hostname,
      mountProc: o.mountProc === true,
      propagation,
      timeOffsets,
      root,
      pivotRoot: o.pivotRoot === true,
      cwd,
      uid,
      gid,
      rootInJoinedUser: asRootInJoinedUser,
      dieWithParent,
      newSession: o.detached === true,
      stdio,
    },
    args: argv,
    opened,
    joined: handles,
    stdio,
    mayHandOver: stdio.every((c) => c < 0) && !((unshare.includes('user') || uidMap || gidMap) && handles.length > 0),
    signal: o.signal as AbortSignal | undefined,
    timeout,
    killSignal,
  }
}

// Children that are running and referenced keep the event loop alive through one timer, as
// child_process's handles do; the native exit notification itself does not hold the loop.
let liveRefs = 0
let keepAlive: NodeJS.Timeout | undefined
function holdLoop(delta: 1 | -1): void {
  liveRefs += delta
  if (liveRefs > 0 && !keepAlive) keepAlive = setInterval(() => {}, 1 << 30)
  if (liveRefs === 0 && keepAlive) {
    clearInterval(keepAlive)
    keepAlive = undefined
  }
}

/** A spawn queued for, or handed to, the spawner thread (ts/handover.ts). */
interface Later extends Queued {
  request: NativeSpawnRequest
  pipes: NativeStdioPipes | null
  /** Handles the request's join descriptors belong to, closed once the child has started. */
  held: Namespace[]
  /** The cwd when spawn() was called, for a child that inherits it. */
  cwd: string | undefined
  /** A signal kill() was asked for before the child started. */
  signal?: number
  sent?: NativeSpawnLater
}

function currentCwd(): string | undefined {
  try {
    return process.cwd()
  } catch {
    return undefined
  }
}

/**
 * Gives a queued spawn the cwd of its spawn() call (`cwd` undefined: it had none, or a joined
 * mount namespace decides): a relative `cwd` or `root` is resolved against it, and an inherited
 * cwd becomes that path, whatever the process's cwd is by the time the spawner thread clones.
 */
function pinCwd(request: NativeSpawnRequest, cwd: string | undefined): void {
  if (cwd === undefined) return
  if (request.root !== undefined) {
    request.root = resolvePath(cwd, request.root)
    return
  }
  request.cwd = resolvePath(cwd, request.cwd ?? '.')
}

/**
 * How exec learns that `signal` or `timeout` killed its child: it then stops waiting for output
 * that the child's own children may keep open, as execFile does.
 */
const killedByOption = new WeakMap<NsChildProcess, () => void>()

function abortError(reason: unknown): Error {
  const e = new Error('The operation was aborted', { cause: reason }) as Error & { code: string }
  e.name = 'AbortError'
  e.code = 'ABORT_ERR'
  return e
}

/** exec's way to {@link NsChildProcess}'s private #whenStdio. */
let whenStdio: (child: NsChildProcess, cb: () => void) => void

// Sockets of pipes nobody has touched yet are made from setImmediate, at most this long per loop
// turn, in the order of the spawns.
const WRAP_BUDGET_MS = 0.5
const toWrap: Array<() => void> = []
let wrapped = 0

function wrapSoon(wrap: () => void): void {
  if (toWrap.push(wrap) === 1) setImmediate(wrapSome)
}

function wrapSome(): void {
  const end = performance.now() + WRAP_BUDGET_MS
  try {
    while (wrapped < toWrap.length && performance.now() < end) toWrap[wrapped++]()
  } finally {
    // Whatever one wrap threw, the others still get theirs.
    if (wrapped < toWrap.length) setImmediate(wrapSome)
    else {
      toWrap.length = 0
      wrapped = 0
    }
  }
}

/**
 * A process started by {@link spawn}. It behaves like Node's ChildProcess where users expect
 * it (events 'spawn', 'exit', 'close', 'error'; `pid`, `exitCode`, `signalCode`, `killed`,
 * `kill()`, stdio streams) and adds `exited`, a Promise of how it ended.
 */
export class NsChildProcess extends EventEmitter {
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  /** Whether a `kill()` succeeded (or was queued for a child not started yet), as in child_process. */
  killed = false
  /** The file and arguments, as given. */
  readonly spawnfile: string
  readonly spawnargs: string[]

  #pid: number | undefined
  #native: NativeChild | undefined
  /** Set while the child is handed to the spawner thread and not started yet. */
  #later: Later | undefined
  #handedOver = false
  #status: { ok: ExitStatus } | { err: unknown } | undefined
  #waiters: Array<[(s: ExitStatus) => void, (e: unknown) => void]> = []
  #exitedPromise: Promise<ExitStatus> | undefined
  #failure: unknown
  #referenced = true
  #running = false
  #openStreams = 0
  /** The parent's ends of the stdio pipes; -1 where there is none. */
  #fds: number[] = [-1, -1, -1]
  /** The Socket on each, made on first use or by {@link wrapSoon}; undefined: not made yet. */
  #streams: Array<Socket | null | undefined> = [null, null, null]
  #spawnEmitted = false
  /** Run once every stdio Socket exists (exec's collectors). */
  #onStdio: Array<() => void> = []
  /** The stdio of a queued child whose pipes are not open yet (see #openPipes). */
  #pipeCodes: number[] | undefined
  #pipeError: unknown
  #cleanup: Array<() => void> = []
  /** Run right after 'spawn' is emitted: the held reads of a handed-over child's output. */
  #afterSpawn: Array<() => void> = []

  /** @internal */
  constructor(file: string, prepared: Prepared, later: boolean) {
    super()
    this.spawnfile = file
    this.spawnargs = [file, ...prepared.args]
    if (prepared.signal?.aborted) {
      // Not started at all: killing it right after the start would still let it run a little.
      for (const h of prepared.opened) h.close()
      this.#notStarted(prepared, abortError(prepared.signal.reason))
    } else if (later) this.#startLater(prepared)
    else this.#startNow(prepared)
  }

  /**
   * The child's pid; undefined when it could not be started. A spawn handed to the spawner
   * thread (see {@link spawn}) is waited for here, so reading `pid` always gives the real one.
   */
  get pid(): number | undefined {
    if (this.#later) this.#waitForStart()
    return this.#pid
  }

  #startNow(prepared: Prepared): void {
    let child: NativeChild
    const t0 = performance.now()
    try {
      child = native(() => binding().spawnChild(prepared.request, ([code, signal]) => this.#onExit(code, signal)))
    } catch (err) {
      this.#notStarted(prepared, err)
      return
    } finally {
      chargeSyncSpawn(performance.now() - t0)
      for (const h of prepared.opened) h.close()
    }
    this.#attachStdio(child.stdioFds)
    this.#running = true
    holdLoop(1)
    this.#started(child)
    this.#armAbort(prepared)
  }

  /** A child that never ran: its pipe streams exist and are over, as in child_process. */
  #notStarted(prepared: Prepared, err: unknown): void {
    this.#streams = prepared.stdio.map((c) => (c === PIPE ? undefined : null))
    this.#endStreams()
    this.#fail(err)
  }

  #startLater(prepared: Prepared): void {
    this.#handedOver = true
    const { request } = prepared
    // Whatever the caller does once spawn() returns must not change the child: its join handles
    // may be closed (so hold duplicates), its cwd changed (so remember it; see #handOver).
    const held: Namespace[] = []
    try {
      if (prepared.joined.length > 0)
        request.joinFds = prepared.joined.map((h) => {
          if (prepared.opened.includes(h)) return h.fd
          const dup = Namespace.fromFd(h.fd, h.type)
          held.push(dup)
          return dup.fd
        })
    } catch (err) {
      for (const h of [...held, ...prepared.opened]) h.close()
      this.#fail(err)
      return
    }
    if (prepared.stdio.includes(PIPE)) {
      // Opened at the hand-over, or when a stream is asked for first: not in the burst itself.
      this.#pipeCodes = prepared.stdio
      this.#streams = prepared.stdio.map((c) => (c === PIPE ? undefined : null))
      this.#openStreams = prepared.stdio.filter((c, i) => i !== 0 && c === PIPE).length
    }
    this.#running = true
    // Held until the child has started, whatever unref() says: a spawn() that returned is a
    // child that runs, as with child_process (and the process's 'exit' waits for it too).
    holdLoop(1)
    this.#later = {
      request,
      pipes: null,
      held: [...held, ...prepared.opened],
      // Not with a joined mount namespace: setns puts the child at that namespace's root, and a
      // path of ours would mean something else there.
      cwd: request.joinTypes.includes('mnt') ? undefined : currentCwd(),
      handOver: () => this.#handOver(),
      finish: () => {
        if (this.#later) this.#waitForStart()
      },
    }
    // The environment of now, for a child that inherits it: what process.env is at the call, as
    // for a child started at once (released when handed over, which every queued spawn is).
    if (request.env === undefined) request.envGeneration = binding().holdEnvironment()
    this.#armAbort(prepared)
    enqueue(this.#later)
  }

  #handOver(): void {
    const l = this.#later as Later
    pinCwd(l.request, l.cwd)
    if (this.#pipeCodes) this.#openPipes()
    if (this.#pipeError !== undefined) {
      this.#onReady(this.#pipeError)
      return
    }
    try {
      l.sent = native(() =>
        binding().spawnChildLater(
          l.request,
          l.pipes,
          (outcome) => this.#onReady(outcome),
          ([code, signal]) => this.#onExit(code, signal),
        ),
      )
    } catch (err) {
      this.#onReady(err)
    }
  }

  /** The spawner thread's outcome; null when #waitForStart took it first. */
  #onReady(outcome: NativeChild | string | unknown): void {
    const l = this.#later
    if (outcome === null || !l) return
    this.#later = undefined
    settled(l)
    for (const h of l.held) h.close()
    outcome = fromNative(outcome)
    if (outcome instanceof Error) {
      // The streams of a child that never ran end now.
      this.#endStreams()
      for (const c of this.#cleanup.splice(0)) c()
      this.#running = false
      holdLoop(-1)
      this.#fail(outcome)
      return
    }
    // From the hold of a queued child to that of a running one, which unref() may have dropped.
    if (!this.#referenced) holdLoop(-1)
    this.#started(outcome as NativeChild)
    if (l.signal !== undefined) this.#native?.kill(l.signal)
  }

  #waitForStart(): void {
    const l = this.#later as Later
    if (!l.sent) handOverThrough(l)
    // Handing over failed: #onReady has already run.
    if (!l.sent) return
    let outcome: NativeChild | unknown
    try {
      outcome = native(() => (l.sent as NativeSpawnLater).wait())
    } catch (err) {
      outcome = err
    }
    this.#onReady(outcome)
  }

  #started(child: NativeChild): void {
    this.#native = child
    this.#pid = child.pid
    process.nextTick(() => {
      this.#spawnEmitted = true
      this.emit('spawn')
      // Output of a handed-over child is read only now, so that 'spawn' comes first.
      for (const go of this.#afterSpawn.splice(0)) go()
    })
  }

  /**
   * Defers the socket's first read (Readable's `_read`, which starts reading the pipe) until the
   * child has started, however the caller consumes the stream meanwhile.
   */
  #holdReads(s: Socket): void {
    const read = (s as unknown as { _read: (n: number) => void })._read
    let wanted: number | undefined
    ;(s as unknown as { _read: (n: number) => void })._read = (n: number) => {
      wanted = n
    }
    this.#afterSpawn.push(() => {
      ;(s as unknown as { _read: (n: number) => void })._read = read
      if (wanted !== undefined) read.call(s, wanted)
    })
  }

  /**
   * Takes the parent's pipe ends. Their Sockets (about 20 us each, most of a spawn() call with
   * pipes) are made when first used, or soon after in the background (see wrapSoon), so that a
   * burst of spawns does not hold the loop for them; always before the exit is handled.
   */
  #attachStdio(fds: number[]): void {
    this.#fds = fds.slice(0, 3)
    this.#streams = this.#fds.map((fd) => (fd < 0 ? null : undefined))
    // As in child_process, 'close' waits for the output streams (wrapped yet or not).
    this.#openStreams = this.#fds.filter((fd, i) => i !== 0 && fd >= 0).length
    if (!this.#streams.includes(undefined)) return
    // A worker may end before its next turn, and with it any wrap it had planned: there the
    // Sockets are made now (workers never hand over, so nothing is gained by waiting).
    if (isMainThread) wrapSoon(() => this.#wrapAll())
    else this.#wrapAll()
  }

  /** Opens the pipes of a queued child, once: at its hand-over, or when a stream is asked for. */
  #openPipes(): void {
    const codes = this.#pipeCodes as number[]
    this.#pipeCodes = undefined
    try {
      const pipes = native(() => binding().openStdioPipes(codes))
      ;(this.#later as Later).pipes = pipes
      this.#attachStdio(pipes.parentFds)
    } catch (err) {
      // The spawn fails with `err` at its hand-over; its streams exist, and are over.
      this.#pipeError = err
      this.#endStreams()
    }
  }

  /**
   * For a child that will not run: every stream is destroyed, and a pipe that has none yet (or
   * was never opened) gets one that is destroyed already, so that `stdout` and the others stay
   * the same non-null objects a caller may hold, as in child_process.
   */
  #endStreams(): void {
    this.#pipeCodes = undefined
    this.#streams = this.#streams.map((s, i) => {
      if (s !== undefined) {
        s?.destroy()
        return s
      }
      if (this.#fds[i] >= 0) closeSync(this.#fds[i])
      const over = new Socket()
      over.destroy()
      return over
    })
    this.#fds = [-1, -1, -1]
  }

  #wrapAll(): void {
    for (let i = 0; i < 3; i++) this.#stream(i)
  }

  #stream(i: number): Socket | null {
    if (this.#streams[i] === undefined && this.#pipeCodes) this.#openPipes()
    const made = this.#streams[i]
    if (made !== undefined) return made
    // A handed-over child's output is read only once 'spawn' has been emitted.
    const hold = this.#handedOver && !this.#spawnEmitted && i !== 0
    const s = new Socket({
      fd: this.#fds[i],
      readable: i !== 0,
      writable: i === 0,
      manualStart: hold,
    } as ConstructorParameters<typeof Socket>[0])
    this.#streams[i] = s
    if (hold) this.#holdReads(s)
    if (i === 0) {
      // A reader that stops early must not crash the parent with EPIPE on stdin.
      s.on('error', () => {})
    } else {
      s.once('close', () => {
        this.#openStreams--
        this.#maybeClose()
      })
    }
    if (!this.#referenced) s.unref()
    if (!this.#streams.includes(undefined)) for (const cb of this.#onStdio.splice(0)) cb()
    return s
  }

  /** Calls `cb` once every stdio stream exists: now, or when the last one is made. */
  #whenStdio(cb: () => void): void {
    if (this.#streams.includes(undefined)) this.#onStdio.push(cb)
    else cb()
  }

  static {
    whenStdio = (child, cb) => child.#whenStdio(cb)
  }

  /** The child's stdin, when it is a pipe. */
  get stdin(): Writable | null {
    return this.#stream(0)
  }

  /** The child's stdout, when it is a pipe. */
  get stdout(): Readable | null {
    return this.#stream(1)
  }

  /** The child's stderr, when it is a pipe. */
  get stderr(): Readable | null {
    return this.#stream(2)
  }

  /** `[stdin, stdout, stderr]`, as in child_process. */
  get stdio(): [Writable | null, Readable | null, Readable | null] {
    return [this.stdin, this.stdout, this.stderr]
  }

  #armAbort(p: Prepared): void {
    if (p.signal) {
      const abort = (): Error => {
        const err = abortError(p.signal?.reason)
        this.#failure ??= err
        this.kill(p.killSignal)
        killedByOption.get(this)?.()
        return err
      }
      // (An already aborted signal never gets here: such a child is not started.)
      const onAbort = (): void => this.#emitError(abort())
      p.signal.addEventListener('abort', onAbort, { once: true })
      this.#cleanup.push(() => p.signal?.removeEventListener('abort', onAbort))
    }
    if (p.timeout) {
      const timer = setTimeout(() => {
        const err = new Error(`spawn ${this.spawnfile} timed out after ${p.timeout}ms`) as Error & { code: string }
        err.code = 'ETIMEDOUT'
        this.#failure ??= err
        this.kill(p.killSignal)
        killedByOption.get(this)?.()
      }, p.timeout)
      timer.unref()
      this.#cleanup.push(() => clearTimeout(timer))
    }
  }

  /**
   * 'error' as child_process emits it, except when nobody listens for it and `exited` has been
   * asked for: then the rejection of `exited` reports it, instead of the EventEmitter rule
   * turning an awaited failure into an uncaught exception.
   */
  #emitError(err: unknown): void {
    if (this.#exitedPromise === undefined || this.listenerCount('error') > 0) this.emit('error', err)
  }

  /**
   * `exited` rejects first; 'error' and 'close' follow once the promise reactions have run, so
   * that `await child.exited` followed by `once(child, 'close')` sees the event whether the failure
   * came from spawn() itself or later, from the spawner thread (a macrotask, after which
   * process.nextTick callbacks would run before those reactions).
   */
  #fail(err: unknown): void {
    this.#settle({ err })
    const emit = (): void => {
      this.#emitError(err)
      this.emit('close', (err as { errno?: number }).errno ?? -1, null)
    }
    if (this.#handedOver) setImmediate(emit)
    else process.nextTick(emit)
  }

  #onExit(code: number, signal: number): void {
    this.exitCode = signal ? null : code
    this.signalCode = signal ? signalName(signal) : null
    for (const c of this.#cleanup.splice(0)) c()
    this.#native?.release()
    this.#wrapAll()
    this.stdin?.destroy()
    // As child_process does: output nobody reads is drained, so that 'close' still comes.
    for (const s of [this.stdout, this.stderr]) {
      if (s?.readable && s.readableFlowing === null) s.resume()
    }
    if (this.#running) {
      this.#running = false
      if (this.#referenced) holdLoop(-1)
    }
    const status = { code: this.exitCode, signal: this.signalCode }
    // A kill by `signal` or `timeout` rejects; the error keeps its own code and gains how the
    // child ended.
    this.#settle(
      this.#failure
        ? { err: Object.assign(this.#failure as object, { exitCode: status.code, signal: status.signal }) }
        : { ok: status },
    )
    this.emit('exit', this.exitCode, this.signalCode)
    this.#maybeClose()
  }

  #maybeClose(): void {
    if (this.#running || this.#openStreams > 0 || !this.#status || this.#native === undefined) return
    this.#native = undefined
    this.emit('close', this.exitCode, this.signalCode)
  }

  #settle(s: { ok: ExitStatus } | { err: unknown }): void {
    if (this.#status) return
    this.#status = s
    for (const [ok, fail] of this.#waiters.splice(0)) 'ok' in s ? ok(s.ok) : fail(s.err)
  }

  /**
   * Resolves with `{ code, signal }` when the child has ended (a non-zero code is not an error);
   * rejects when it could not be started (the NamespaceError of the failed step), or was killed
   * by `signal` (an AbortError) or `timeout` (code 'ETIMEDOUT'). Once `exited` has been asked
   * for, a failure with no 'error' listener is reported here alone, not thrown as an unhandled
   * 'error' event.
   */
  get exited(): Promise<ExitStatus> {
    this.#exitedPromise ??= new Promise((resolve, reject) => {
      const s = this.#status
      if (s) 'ok' in s ? resolve(s.ok) : reject(s.err)
      else this.#waiters.push([resolve, reject])
    })
    return this.#exitedPromise
  }

  /**
   * Sends a signal (default SIGTERM) through the child's pidfd, so a reused pid can never be hit.
   * Returns false when the child has already exited. For a child handed to the spawner thread and
   * not started yet, the signal (the last one asked for) is sent as soon as it starts.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const n = signalNumber(signal, 'signal')
    if (this.#later) {
      // Delivered as soon as the spawner thread has started the child.
      if (n !== 0) this.#later.signal = n
      this.killed = true
      return true
    }
    if (!this.#native || !this.#running) return false
    const sent = native(() => (this.#native as NativeChild).kill(n))
    // As child_process: any successful kill(), signal 0 included.
    if (sent) this.killed = true
    return sent
  }

  /**
   * Handles on the child's namespaces, keyed by type: one for every type this kernel has (a
   * kernel built without one, such as time, has no key for it), all opened now through the
   * child's pidfd, so they are this child's even if its pid has been reused by another process.
   * Close them when done (or let them be collected).
   *
   * Only while the child runs: nothing is captured at the start, so once it has exited this
   * throws a NamespaceError with code 'ESRCH', also before 'exit' is emitted (a process that
   * has ended has no namespaces left). Open what you need while it runs; the handles then keep
   * those namespaces alive after it exits.
   */
  namespaces(): Partial<Record<NamespaceType, Namespace>> {
    // A child handed to the spawner thread is waited for, as `pid` does.
    const pid = this.pid
    const child = this.#native
    if (pid === undefined || child === undefined || !this.#running) {
      throw namespaceError({ code: 'ESRCH', errno: osConstants.errno.ESRCH, syscall: 'ioctl', pid })
    }
    const handles = native(() => child.namespaces()).map((n) => Namespace.wrap(n))
    return Object.fromEntries(handles.map((h) => [h.type, h])) as Partial<Record<NamespaceType, Namespace>>
  }

  /**
   * For `using child = spawn(...)`: when the scope ends, a child that was not killed yet gets
   * SIGTERM through its pidfd, as child_process's `[Symbol.dispose]` does (Node 20+); one that
   * has ended is left alone. It does not wait for the exit (`await child.exited` does), and, as
   * with `kill()`, the first process of a new pid namespace ignores SIGTERM unless it handles it.
   *
   * @example
   * {
   *   using server = spawn('python3', ['-m', 'http.server'], { join: [net] })
   *   await probe()
   * } // server is sent SIGTERM here
   */
  [Symbol.dispose](): void {
    if (!this.killed) this.kill()
  }

  /** Lets the event loop exit while the child is still running. */
  unref(): void {
    if (this.#referenced && this.#running && !this.#later) holdLoop(-1)
    this.#referenced = false
    for (const s of this.#streams) s?.unref()
  }

  /** Undoes `unref()`. */
  ref(): void {
    if (!this.#referenced && this.#running && !this.#later) holdLoop(1)
    this.#referenced = true
    for (const s of this.#streams) s?.ref()
  }
}

/**
 * Starts `file` with `args` (an argv array: nothing goes through a shell) inside existing
 * namespaces (`join`, like nsenter) and/or new ones (`unshare`, like unshare(1)), on a native
 * clone() with its own child stack.
 *
 * Many spawns in one loop turn do not hold the event loop: once the turn's spawns have taken
 * 0.25 ms, the rest are handed to a native spawner thread (README "Spawning" lists when this
 * never happens). Their `pid` is set (and 'spawn' emitted) when they start; reading `pid` earlier
 * waits for the child to start. Their cwd, environment and join handles are those of the call.
 *
 * Argument errors throw at once, before anything is opened or started: TypeError or RangeError
 * with Node's codes (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE). `args` and
 * every option are read exactly once. A failure of any step before the command runs (setns, uid_map,
 * sethostname, mount /proc, chdir, execve, ...) is emitted as an 'error' event with a
 * NamespaceError naming the step, and `exited` rejects with it.
 *
 * @example
 * const box = spawn('sh', ['-c', 'hostname; echo $$'], { unshare: ['uts', 'pid'], hostname: 'box' })
 * const { code } = await box.exited
 */
export function spawn(file: string, args?: string[], options?: SpawnOptions): NsChildProcess {
  const prepared = prepare(file, args, options)
  return new NsChildProcess(file, prepared, prepared.mayHandOver && shouldHandOver())
}

/** Options of {@link exec}: those of spawn, plus how output is collected. */
export interface ExecOptions extends Omit<SpawnOptions, 'stdio'> {
  /**
   * 'utf8' (default) or any other encoding `Buffer.isEncoding` accepts gives strings; 'buffer'
   * gives Buffers. Anything else rejects with ERR_INVALID_ARG_VALUE before the command starts.
   */
  encoding?: BufferEncoding | 'buffer'
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Uint8Array
  /**
   * Largest stdout or stderr kept, in bytes; more kills the child (SIGKILL) and rejects with a
   * RangeError, code 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', holding what fitted. Default 16 MiB.
   */
  maxBuffer?: number
  /** What fd 2 is; default 'pipe' (collected into `stderr`). */
  stderr?: 'pipe' | 'inherit' | 'ignore'
}

export interface ExecResult<T = string> {
  stdout: T
  stderr: T
  code: number | null
  signal: NodeJS.Signals | null
}

/** The error `exec` rejects with when the command ran but did not exit 0. */
export interface ExecError<T = string> extends Error, ExecResult<T> {
  cmd: string
  killed: boolean
}

/**
 * Runs a command to completion in namespaces, like util.promisify(child_process.execFile):
 * resolves with `{ stdout, stderr, code, signal }`, and rejects with an error carrying the same
 * fields when the exit is not 0 (or with the NamespaceError of a failed step). As with execFile,
 * a `timeout` rejects with that error and `killed: true`, an aborted `signal` with an AbortError,
 * and both settle once the command has exited, without waiting for output that its own
 * children keep open.
 *
 * @example
 * const { stdout } = await exec('hostname', [], { unshare: ['uts'], hostname: 'x' })
 */
export function exec(
  file: string,
  args: string[] | undefined,
  options: ExecOptions & { encoding: 'buffer' },
): Promise<ExecResult<Buffer>>
export function exec(file: string, args?: string[], options?: ExecOptions): Promise<ExecResult<string>>
export function exec(file: string, args?: string[], options: ExecOptions = {}): Promise<ExecResult<string | Buffer>> {
  const o = readOptions(options, EXEC_KEYS)
  if (o.maxBuffer !== undefined && typeof o.maxBuffer !== 'number') {
    return Promise.reject(
      argError(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        `The "options.maxBuffer" argument must be of type number. Received ${describe(o.maxBuffer)}`,
      ),
    )
  }
  if (o.maxBuffer !== undefined && !((o.maxBuffer as number) >= 0)) {
    return Promise.reject(
      argError(
        RangeError,
        'ERR_OUT_OF_RANGE',
        `The value of "options.maxBuffer" is out of range. It must be >= 0. Received ${String(o.maxBuffer)}`,
      ),
    )
  }
  if (o.input !== undefined && typeof o.input !== 'string' && !ArrayBuffer.isView(o.input)) {
    return Promise.reject(
      argError(
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        `The "options.input" argument must be of type string or an instance of Buffer, TypedArray or DataView. Received ${describe(o.input)}`,
      ),
    )
  }
  // Checked before the child starts: an unknown encoding used to throw from the 'close' listener,
  // uncaught, leaving the promise unsettled.
  if (
    o.encoding !== undefined &&
    o.encoding !== 'buffer' &&
    (typeof o.encoding !== 'string' || !Buffer.isEncoding(o.encoding))
  ) {
    return Promise.reject(
      argError(
        TypeError,
        'ERR_INVALID_ARG_VALUE',
        `The argument 'options.encoding' is invalid encoding. Received ${received(o.encoding)}`,
      ),
    )
  }
  const maxBuffer = (o.maxBuffer as number | undefined) ?? 16 * 1024 * 1024
  const encoding = (o.encoding as BufferEncoding | 'buffer' | undefined) ?? 'utf8'
  const { input, maxBuffer: _m, encoding: _e, stderr: errMode, ...spawnOpts } = o
  let child: NsChildProcess
  try {
    child = spawn(file, args, {
      ...spawnOpts,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', (errMode as StdioOption) ?? 'pipe'],
    } as SpawnOptions)
  } catch (err) {
    return Promise.reject(err)
  }
  const timeout = o.timeout as number | undefined
  const cmd = child.spawnargs.join(' ')
  // As execFile: once the child is killed for a reason of ours, output that its own children may
  // keep open is no longer waited for, so the promise settles when the child has exited.
  let cutShort = false
  const stopReading = (): void => {
    cutShort = true
    child.stdout?.destroy()
    child.stderr?.destroy()
  }
  killedByOption.set(child, stopReading)
  // execFile's timer runs until 'close': once the child has exited, it ends the wait for output
  // that the child's own children keep open.
  const lateTimer = timeout ? setTimeout(stopReading, timeout) : undefined
  lateTimer?.unref()
  const out: Buffer[] = []
  const err: Buffer[] = []
  let overflow: Error | undefined
  const collect = (into: Buffer[], s: Readable | null, name: string): void => {
    let size = 0
    s?.on('data', (d: Buffer) => {
      if (overflow) return
      const room = maxBuffer - size
      size += d.length
      if (d.length <= room) return into.push(d)
      // Like execFile: keep what fits, report which stream overflowed, and stop the child.
      into.push(d.subarray(0, room))
      overflow = Object.assign(new RangeError(`${name} maxBuffer length exceeded`), {
        code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
      })
      stopReading()
      child.kill('SIGKILL')
    })
  }
  // Once the pipes have their Sockets, not before: a burst of exec() calls does not make them.
  whenStdio(child, () => {
    collect(out, child.stdout, 'stdout')
    collect(err, child.stderr, 'stderr')
    if (input !== undefined) child.stdin?.end(input as string | Uint8Array)
  })
  // Output cut short may end inside a character: that tail is dropped rather than shown as U+FFFD.
  const text = (b: Buffer[]): string | Buffer =>
    encoding === 'buffer'
      ? Buffer.concat(b)
      : cutShort
        ? new StringDecoder(encoding).write(Buffer.concat(b))
        : Buffer.concat(b).toString(encoding)
  return new Promise((resolve, reject) => {
    child.on('error', () => {}) // reported through exited/close below
    child.exited.catch(() => {})
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(lateTimer)
      const result = { stdout: text(out), stderr: text(err), code, signal }
      // Fields execFile's errors carry; `code` stays the error's own where it has one.
      const failedWith = (e: object): void => {
        const { code: exitCode, ...rest } = result
        reject(Object.assign(e, rest, { exitCode, cmd, killed: child.killed }))
      }
      const commandFailed = (): Error =>
        new Error(`Command failed: ${cmd}${signal ? ` (${signal})` : ` (exit code ${code})`}\n${result.stderr}`)
      child.exited.then(
        () => {
          if (overflow) return failedWith(overflow)
          if (code === 0) return resolve(result)
          reject(Object.assign(commandFailed(), result, { cmd, killed: child.killed }))
        },
        (failure: unknown) => {
          if (failure instanceof NamespaceError) return reject(failure)
          if (overflow) return failedWith(overflow)
          // A timeout (when it came before any abort: `exited` keeps the first) is reported as
          // execFile reports it: a failed command that was killed.
          if ((failure as { code?: unknown }).code === 'ETIMEDOUT')
            return reject(Object.assign(commandFailed(), result, { cmd, killed: true }))
          failedWith(failure as object)
        },
      )
    })
  })
}
