// The checks only spawn's options need, each reading a value once and returning what the native
// request takes. The shared helpers and the wording are ts/validate.ts's.
import { lazyOs } from '../builtins'
import { native } from '../errors'
import { binding } from '../loader'
import { Namespace } from '../namespace'
import type { IdMapLine, TimeOffsets } from '../native'
import type { NamespaceType } from '../types'
import {
  FD_MAX,
  invalidArgType,
  invalidArgValue,
  received,
  unknownSignal,
  validateBoolean,
  validateCString,
  validateInteger,
  validateObject,
  validateOneOf,
  validatePath,
  validatePid,
  validateTypes,
} from '../validate'
import type { StdioSlot } from './stdio'

// By number; where two names share one (SIGABRT and SIGIOT), the first, as child_process reports.
// Made by the first signal asked for, not at import.
let signalNames: Map<number, NodeJS.Signals> | undefined

/** A signal's name, as child_process reports it in `signalCode`. */
export function signalName(n: number): NodeJS.Signals | undefined {
  if (signalNames === undefined) {
    signalNames = new Map()
    for (const [name, k] of Object.entries(lazyOs().constants.signals))
      if (!signalNames.has(k)) signalNames.set(k, name as NodeJS.Signals)
  }
  return signalNames.get(n)
}

/** The error `signal` rejects with once aborted, as Node's own AbortError (code ABORT_ERR). */
export function abortError(reason: unknown): Error {
  const e = new Error('The operation was aborted', { cause: reason }) as Error & { code: string }
  e.name = 'AbortError'
  e.code = 'ABORT_ERR'
  return e
}

/** A signal as a number: a name from os.constants.signals, or a number from 0 to 64. */
export function signalNumber(sig: unknown): number {
  if (typeof sig === 'number') {
    if (Number.isInteger(sig) && sig >= 0 && sig <= 64) return sig
  } else if (typeof sig === 'string') {
    const n = (lazyOs().constants.signals as Record<string, number>)[sig]
    if (n !== undefined) return n
  }
  // As child_process: the same code for kill() and for the signal options.
  throw unknownSignal(sig)
}

/**
 * Copies an array, reading its length and each element exactly once and refusing holes (which
 * `every` and `forEach` skip, and which would reach the native side as undefined).
 */
function readArray<T>(a: unknown[], name: string, each: (v: unknown, i: number) => T): T[] {
  const n = a.length
  const out: T[] = []
  for (let i = 0; i < n; i++) {
    if (!(i in a)) throw invalidArgValue(name, a, `must be an array without holes (index ${i} is empty)`)
    out.push(each(a[i], i))
  }
  return out
}

export function readArgs(args: unknown): string[] {
  if (args === undefined) return []
  if (!Array.isArray(args)) throw invalidArgType('args', 'an instance of Array', args)
  return readArray(args, 'args', (a, i) => validateCString(a, `args[${i}]`))
}

/** An id map as given: 'root', 'current', or its lines, each entry's fields read once. */
export function readIdMap(m: unknown, name: string): 'root' | 'current' | IdMapLine[] | undefined {
  if (m === undefined || m === 'root' || m === 'current') return m
  if (!Array.isArray(m) || m.length === 0) {
    throw invalidArgValue(name, m, "must be 'root', 'current' or a non-empty array of { inside, outside, count }")
  }
  return readArray(m, name, (e, i) => {
    const entry = e as { inside?: unknown; outside?: unknown; count?: unknown } | null | undefined
    const line = [entry?.inside, entry?.outside, entry?.count]
    if (!line.every((v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff) || line[2] === 0) {
      throw invalidArgValue(
        `${name}[${i}]`,
        e,
        'must have integer inside, outside and count from 0 to 4294967295 (count > 0)',
        RangeError,
      )
    }
    const [inside, outside, count] = line as [number, number, number]
    return { inside, outside, count }
  })
}

/** A uid or gid: an integer from 0 to 4294967294 ((uid_t)-1 means "unchanged" to the kernel). */
export function validateId(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= 0xffffffff) {
    throw invalidArgValue(name, v, 'must be an integer from 0 to 4294967294', RangeError)
  }
  return v as number
}

export function optionalPath(v: unknown, name: string): string | undefined {
  return v === undefined ? undefined : validatePath(v, name)
}

/**
 * The environment as "K=V" strings. A name must be one setenv(3) would take (not empty, no '='):
 * `{ 'A=B': 'x' }` would otherwise reach the command as A with the value 'B=x'.
 */
export function readEnv(env: unknown): string[] | undefined {
  if (env === undefined) return undefined
  if (env === null || typeof env !== 'object') throw invalidArgType('options.env', 'of type object', env)
  const list: string[] = []
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue
    if (k === '' || k.includes('=') || k.includes('\0')) {
      throw invalidArgValue(
        'options.env',
        k,
        "must have names that are not empty and contain neither '=' nor null bytes",
      )
    }
    // As child_process: a value is used as its string.
    const value = `${v as string}`
    if (value.includes('\0'))
      throw invalidArgValue(`options.env[${received(k)}]`, value, 'must be a string without null bytes')
    list.push(`${k}=${value}`)
  }
  return list
}

/** The kernel's HOST_NAME_MAX: sethostname(2) refuses longer names with EINVAL. */
const HOSTNAME_MAX_BYTES = 64

export function validateHostname(v: unknown): string | undefined {
  const name = optionalPath(v, 'options.hostname')
  if (name !== undefined && Buffer.byteLength(name) > HOSTNAME_MAX_BYTES) {
    throw invalidArgValue('options.hostname', name, `must be at most ${HOSTNAME_MAX_BYTES} bytes long`, RangeError)
  }
  return name
}

/** Seconds, each an integer (0 when left out). */
export function readTimeOffsets(v: unknown): TimeOffsets | undefined {
  if (v === undefined) return undefined
  const t = validateObject(v, 'options.timeOffsets')
  const seconds = (clock: keyof TimeOffsets): number => {
    const s = t[clock] ?? 0
    if (!Number.isInteger(s))
      throw invalidArgValue(`options.timeOffsets.${clock}`, s, 'must be an integer number of seconds')
    return s as number
  }
  return { monotonic: seconds('monotonic'), boottime: seconds('boottime') }
}

/**
 * Each of fds 0, 1, 2 as the native side takes it: 'inherit', 'ignore', 'pipe' or a descriptor
 * ('ignore' stands in for an 'ipc' entry until spawn() has opened the channel).
 */
export function readStdio(stdio: unknown): StdioSlot[] {
  if (typeof stdio !== 'string' && !Array.isArray(stdio)) {
    throw invalidArgType('options.stdio', 'of type string or an instance of Array', stdio)
  }
  if (typeof stdio === 'string') {
    // The same slot three times (an error names index 0, the first it would meet).
    const s = stdioSlot(stdio === 'ipc' ? undefined : stdio, 0, stdio)
    return [s, s, s]
  }
  return [arraySlot(stdio, 0), arraySlot(stdio, 1), arraySlot(stdio, 2)]
}

function arraySlot(stdio: unknown[], i: number): StdioSlot {
  const s = stdio[i]
  return s === 'ipc' ? 'ignore' : stdioSlot(s, i, s)
}

/** The most entries past the third (the child's fds 3 to 63). */
const MAX_EXTRA_FDS = 61

/** In `readExtraFds`'s answer: a 'pipe' slot, for spawn() to give a socket pair. */
export const EXTRA_PIPE = -2

/**
 * The entries of `stdio` past the third, as the descriptors the child gets there: ours for a
 * number or `{ fd }`, our own of that number for 'inherit', -1 (left closed) for 'ignore', null
 * or undefined, EXTRA_PIPE for 'pipe', -1 for 'ipc' until spawn() has opened the channel.
 */
export function readExtraFds(stdio: unknown): number[] | undefined {
  if (!Array.isArray(stdio) || stdio.length <= 3) return undefined
  if (stdio.length > 3 + MAX_EXTRA_FDS) {
    throw invalidArgValue('options.stdio', stdio, `must have at most ${3 + MAX_EXTRA_FDS} entries`, RangeError)
  }
  return Array.from(stdio.slice(3), (s: unknown, j) => {
    const i = j + 3
    if (s === null || s === undefined || s === 'ignore' || s === 'ipc') return -1
    if (s === 'inherit') return i
    if (s === 'pipe') return EXTRA_PIPE
    const fd = typeof s === 'number' ? s : typeof s === 'object' ? (s as { fd?: unknown }).fd : undefined
    if (typeof fd === 'number') return validateInteger(fd, `options.stdio[${i}]`, 0, FD_MAX)
    throw invalidArgValue(`options.stdio[${i}]`, s, STDIO_VALUES)
  })
}

const STDIO_VALUES = "must be 'pipe', 'inherit', 'ignore', 'ipc', a file descriptor or an object with an fd"

function stdioSlot(s: unknown, i: number, given: unknown): StdioSlot {
  if (s === 'pipe' || s === null || s === undefined) {
    if (given === 'ipc')
      throw invalidArgValue('options.stdio', given, "must be 'pipe', 'inherit', 'ignore' or an Array")
    return 'pipe'
  }
  if (s === 'inherit' || s === 'ignore') return s
  const fd = typeof s === 'number' ? s : typeof s === 'object' ? (s as { fd?: unknown }).fd : undefined
  if (typeof fd === 'number') return validateInteger(fd, `options.stdio[${i}]`, 0, FD_MAX)
  throw invalidArgValue(`options.stdio[${i}]`, s, STDIO_VALUES)
}

/** How messages are encoded on an IPC channel, as child_process's `serialization` option names it. */
export type Serialization = 'json' | 'advanced'

/** The 'ipc' entry of `stdio`: the child's descriptor number for it and how messages are encoded. */
export interface IpcRead {
  /** The child's descriptor number of the channel (its index in `stdio`). */
  fd: number
  serialization: Serialization
}

/**
 * Where `stdio` has its 'ipc' entry, at most one (ERR_IPC_ONE_PIPE, as child_process), and the
 * `serialization` of that channel (read, and checked, with or without one).
 */
export function readIpc(stdio: unknown, serialization: unknown): IpcRead | undefined {
  const mode =
    serialization === undefined ? 'json' : validateOneOf(serialization, 'options.serialization', SERIALIZATIONS)
  if (!Array.isArray(stdio)) return undefined
  const at = stdio.indexOf('ipc')
  if (at < 0) return undefined
  if (stdio.indexOf('ipc', at + 1) >= 0) {
    const err = new Error('Child process can have only one IPC pipe') as Error & { code: string }
    err.code = 'ERR_IPC_ONE_PIPE'
    throw err
  }
  if (IPC_UNAVAILABLE) {
    const err = new Error(
      `The feature stdio 'ipc' is unavailable on ${IPC_UNAVAILABLE}: its node:net cannot take a socket nsjs opened`,
    ) as Error & { code: string }
    err.code = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM'
    throw err
  }
  return { fd: at, serialization: mode }
}

// Bun's net.Socket closes a Unix socket descriptor it is given, and Deno's node:fs cannot close
// one it did not open: the parent's side of a channel is Node's alone.
const IPC_UNAVAILABLE = process.versions.bun ? 'Bun' : process.versions.deno ? 'Deno' : undefined

const SERIALIZATIONS = ['json', 'advanced'] as const satisfies readonly Serialization[]

/**
 * The child's environment with the channel's variables, as child_process sets them: ours (or
 * `env`) without any NODE_CHANNEL_ entries of its own, then NODE_CHANNEL_FD and
 * NODE_CHANNEL_SERIALIZATION_MODE (`env` as it is without a channel).
 */
export function withChannelEnv(env: string[] | undefined, ipc: IpcRead | undefined): string[] | undefined {
  if (!ipc) return env
  const base = (env ?? readEnv(process.env) ?? []).filter(
    (e) => !e.startsWith('NODE_CHANNEL_FD=') && !e.startsWith('NODE_CHANNEL_SERIALIZATION_MODE='),
  )
  return [...base, `NODE_CHANNEL_FD=${ipc.fd}`, `NODE_CHANNEL_SERIALIZATION_MODE=${ipc.serialization}`]
}

/** `join` as given: handles, or the target to open them from (opened only after validation). */
export type JoinRead =
  | { handles: Namespace[] }
  | { pid: number; types: NamespaceType[] | undefined; root: boolean; cwd: boolean }

/** No handles: shared, so frozen. */
const NO_HANDLES = Object.freeze([]) as unknown as Namespace[]
/** No `join`: shared by every spawn without one, so frozen. */
const NO_JOIN: JoinRead = Object.freeze({ handles: NO_HANDLES })
/** No root or cwd descriptors (`openJoin`'s `dirs`): shared, so frozen. */
const NO_DIRS = Object.freeze([-1, -1]) as unknown as [number, number]
/** What `openJoin` gives for no handles: shared, so frozen. */
const NOTHING_OPENED: ReturnType<typeof openJoin> = Object.freeze({
  handles: NO_HANDLES,
  opened: NO_HANDLES,
  dirs: NO_DIRS,
})

export function readJoin(join: unknown): JoinRead {
  if (join === undefined) return NO_JOIN
  if (Array.isArray(join)) {
    return {
      handles: readArray(join, 'options.join', (h, i) => {
        if (!(h instanceof Namespace)) throw invalidArgType(`options.join[${i}]`, 'an instance of Namespace', h)
        return h
      }),
    }
  }
  const o = validateObject(join, 'options.join')
  const pid = validatePid(o.pid, 'options.join.pid')
  const types = o.types === undefined ? undefined : validateTypes(o.types, 'options.join.types')
  const root = validateBoolean(o.root, 'options.join.root')
  const cwd = validateBoolean(o.cwd, 'options.join.cwd')
  return { pid, types, root, cwd }
}

/**
 * The handles to enter, those of them opened here (closed once the child has started), and with
 * `root`/`cwd` descriptors of the target's root and cwd (-1 when not asked for; also closed then).
 */
export function openJoin(join: JoinRead): { handles: Namespace[]; opened: Namespace[]; dirs: [number, number] } {
  if ('handles' in join) {
    // None opened here: the same (frozen) arrays as without a join, so that code reading them
    // sees one kind of array whether a spawn joins or not.
    return join.handles.length === 0 ? NOTHING_OPENED : { handles: join.handles, opened: NO_HANDLES, dirs: NO_DIRS }
  }
  // One pidfd for all of them (they are all the target's, even if its pid is reused meanwhile),
  // and nsenter's rules, in one native call: a user namespace we already share is left out
  // (setns to one's own is EINVAL), and without types every namespace we share (--all).
  const opened = native(() => binding().openPidJoins(join.pid, join.types)).map((n) => Namespace.wrap(n))
  if (!join.root && !join.cwd) return { handles: opened, opened, dirs: NO_DIRS }
  try {
    const [root, cwd] = native(() => binding().openJoinDirs(join.pid, join.root, join.cwd))
    return { handles: opened, opened, dirs: [root, cwd] }
  } catch (err) {
    for (const h of opened) h.close()
    throw err
  }
}

/**
 * The options `keys` names, each read exactly once, into a plain object that everything after
 * works on: a getter that answers differently when read again can then neither slip a value
 * past validation nor make spawn() throw after its child has started (leaving no handle to it).
 */
export function readOptions<K extends string>(options: unknown, keys: readonly K[]): { [P in K]?: unknown } {
  const o = validateObject(options, 'options')
  const out: { [P in K]?: unknown } = {}
  for (const k of keys) {
    const v = o[k]
    if (v !== undefined) out[k] = v
  }
  return out
}
