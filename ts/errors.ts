import { getSystemErrorName } from 'node:util'

import { lazyOs } from './builtins'

import type { NsType, RuleCode, Step } from './native'
import type { NamespaceType } from './types'

/**
 * The errno names nsjs's calls fail with in practice: missing privilege, a process gone, a bad
 * path or argument, a busy mount, limits. Any other errno name can still occur (`string`).
 */
export type SystemErrorCode =
  | 'EPERM'
  | 'EACCES'
  | 'ESRCH'
  | 'ENOENT'
  | 'EINVAL'
  | 'EBUSY'
  | 'EEXIST'
  | 'ELOOP'
  | 'ENOTDIR'
  | 'EMFILE'
  | 'ENOSPC'
  | 'ENOMEM'
  | 'EAGAIN'
  | 'EUSERS'
  | 'ENOSYS'
  | 'ETIMEDOUT'

/**
 * A {@link NamespaceError}'s `code`: a rule of nsjs (`ERR_NS_*`, see the README's error table), an
 * errno name, or another errno name (`string & {}` keeps editors completing the named ones).
 */
export type NamespaceErrorCode = RuleCode | SystemErrorCode | (string & {})

/** The fields of a {@link NamespaceError}: what the native layer reports, the errno named. */
export interface NamespaceErrorFields {
  /** errno name ('EPERM') or `ERR_NS_*` code. */
  code: NamespaceErrorCode
  /** errno (sign is normalised to negative), or 0 for `ERR_NS_*` codes. */
  errno: number
  /** The system call that failed (`'setns'`), or the operation a rule refused. */
  syscall: string
  /** The namespace type involved, when one is. */
  nsType?: NamespaceType
  /** For ERR_NS_TYPE_MISMATCH: the type that was asked for. */
  expected?: NamespaceType
  /** The file involved (`persist`, `fromPath`, `unpersist`), when one is. */
  path?: string
  /** The process involved (`open`, `join: { pid }`), when one is. */
  pid?: number
  /** For ERR_NS_THREAD_ID: the process the thread `pid` belongs to. */
  tgid?: number
  /** The spawn step that failed ('setns', 'uid_map', 'execve', ...). */
  step?: string
  /** For step 'mount': the index of the entry of `mounts` that failed (`path` is its target). */
  mountIndex?: number
}

/**
 * The one error class of nsjs, shaped like Node's system errors: `code` is an errno name such
 * as 'EPERM' or an `ERR_NS_*` code for a rule the library enforces, `errno` is negative as in
 * Node, and `nsType`, `path`, `pid`, `step` say what was being done.
 *
 * @example
 * try {
 *   Namespace.open(1, 'net')
 * } catch (e) {
 *   if (e instanceof NamespaceError && e.code === 'EPERM') console.error(e.message)
 * }
 */
export class NamespaceError extends Error {
  /** The errno name (`'EPERM'`) or the `ERR_NS_*` rule that failed. */
  readonly code: NamespaceErrorCode
  /** The errno, negative as in Node's system errors; 0 for an `ERR_NS_*` rule. */
  readonly errno: number
  /** The system call that failed (`'setns'`), or the operation a rule refused. */
  readonly syscall: string
  /** The namespace type involved, when one is. */
  readonly nsType?: NamespaceType
  /** The file involved (`persist`, `fromPath`, `unpersist`), when one is. */
  readonly path?: string
  /** The process involved (`open`, `join: { pid }`), when one is. */
  readonly pid?: number
  /** For ERR_NS_THREAD_ID: the process (thread group) that the thread `pid` belongs to. */
  readonly tgid?: number
  /** The spawn step that failed ('setns', 'uid_map', 'execve', 'mount', ...). */
  readonly step?: string
  /** For step 'mount': the index of the entry of `mounts` that failed; `path` is its target. */
  readonly mountIndex?: number

  constructor(message: string, fields: NamespaceErrorFields) {
    super(message)
    this.name = 'NamespaceError'
    this.code = fields.code
    this.errno = fields.errno === 0 ? 0 : -Math.abs(fields.errno)
    this.syscall = fields.syscall
    for (const k of ['nsType', 'path', 'pid', 'tgid', 'step', 'mountIndex'] as const) {
      if (fields[k] !== undefined) Object.defineProperty(this, k, { value: fields[k], enumerable: true })
    }
  }
}

const CONFIG: Record<NamespaceType, string> = {
  cgroup: 'CONFIG_CGROUPS',
  ipc: 'CONFIG_IPC_NS',
  mnt: 'CONFIG_NAMESPACES',
  net: 'CONFIG_NET_NS',
  pid: 'CONFIG_PID_NS',
  time: 'CONFIG_TIME_NS',
  user: 'CONFIG_USER_NS',
  uts: 'CONFIG_UTS_NS',
}

/** A message from the facts, `t` the type's name ('namespace' when none) and `where` the path or pid. */
type Explain = (r: NamespaceErrorFields, t: string, where: string) => string | undefined

/** The library's own rules (every one: the type says so), and ESRCH: explained by code alone, before any step hint. */
const RULES: Record<RuleCode | 'ESRCH', Explain> = {
  ERR_NS_CLOSED: () => 'the namespace handle is closed',
  ERR_NS_NOT_NAMESPACE: (r) => `${r.path ?? 'the file'} is not a namespace file (it is not on nsfs)`,
  ERR_NS_TYPE_MISMATCH: (r) => `${r.path ?? 'the namespace'} is a ${r.nsType} namespace, not a ${r.expected} namespace`,
  ERR_NS_UNSUPPORTED: (_, t) =>
    `this kernel has no ${t} namespaces (built without ${CONFIG[t as NamespaceType] ?? 'namespace support'})`,
  ERR_NS_MULTITHREADED: (r, t) => {
    if (t === 'pid') {
      return `a thread whose new children would go to another pid namespace can no longer start threads (the kernel refuses), which Node needs at any time; use spawn({ join }) or spawn({ unshare: ['pid'] })`
    }
    return r.syscall === 'unshare'
      ? `a multithreaded process cannot create a ${t} namespace for itself; use Namespace.create('${t}') or spawn({ unshare: ['${t}'] })`
      : `a multithreaded process cannot join a ${t} namespace (every Node process is multithreaded); use spawn({ join })`
  },
  ERR_NS_SHARED_MOUNT: (r) =>
    `a mnt namespace file cannot be mounted in ${r.path ?? 'a directory'}: its mount is shared, and the kernel refuses a mount namespace file where the mount would propagate (it could make a loop). Persist it in a directory that is not a mount point (nsjs then makes it a private mount of its own), or on a private mount, as util-linux unshare --mount=FILE requires (mount --bind DIR DIR; mount --make-private DIR)`,
  ERR_NS_THREAD_ID: (r) =>
    `${r.pid} is the id of a thread of process ${r.tgid}, not of a process: namespaces are opened through a process, so use its process id ${r.tgid} (the Tgid in /proc/${r.pid}/status). A thread that entered other namespaces itself is reached only through /proc/${r.tgid}/task/${r.pid}/ns/<type> with Namespace.fromPath()`,
  ERR_NS_NO_WAY_BACK: (_, t) =>
    `the thread did not enter that ${t} namespace: it could not come back to its own, which is owned by a user namespace above the process's (a process started in a user namespace of its own, as by unshare -U, may enter the namespaces it creates but not return to the ones it started in), or CAP_SYS_ADMIN is missing from its effective set; spawn({ join }) a child there instead, or join() it for good`,
  ESRCH: (r) =>
    r.pid === undefined
      ? 'the process is not running (it never started, or has exited)'
      : `no process with pid ${r.pid} exists (it may have exited)`,
}

const createNeeds: Explain = (_, t) =>
  `creating a ${t} namespace needs CAP_SYS_ADMIN in the caller's user namespace; unprivileged users can spawn({ unshare: ['user', '${t}'], uidMap: 'current' })`

const openNeeds: Explain = (r, _, where) => {
  if (r.pid !== undefined || /^\/proc\/\d+\//.test(r.path ?? '')) {
    return `opening another process's namespace needs ptrace read access to it (the same uid, or CAP_SYS_PTRACE)${where}`
  }
  return `${r.syscall}: permission denied${where} (a file to create needs write access to its directory)`
}

/** EPERM and EACCES outside spawn, by system call: which capability or access was missing. */
const PERMISSION: Record<string, Explain> = {
  setns: (_, t) =>
    t === 'user'
      ? `joining a user namespace needs CAP_SYS_ADMIN in that user namespace`
      : `joining a ${t} namespace needs CAP_SYS_ADMIN both in the user namespace that owns it and in the caller's own user namespace`,
  unshare: createNeeds,
  clone: createNeeds,
  mount: (_, __, where) =>
    `bind-mounting a namespace file needs CAP_SYS_ADMIN in the user namespace that owns the caller's mount namespace${where}`,
  umount2: (_, __, where) =>
    `unmounting a persisted namespace needs CAP_SYS_ADMIN in the user namespace that owns the caller's mount namespace${where}`,
  // An ioctl on a pidfd is how another process's namespace is opened.
  ioctl: (r, t, where) =>
    r.pid === undefined
      ? `the ${t} namespace's parent is outside the caller's own ${t} namespace, which the kernel does not reveal`
      : openNeeds(r, t, where),
  open: openNeeds,
  openat: openNeeds,
  pidfd_open: openNeeds,
}

const tooManyFiles: Explain = (r, _, where) => {
  const full =
    r.code === 'EMFILE'
      ? 'this process has no descriptor left (RLIMIT_NOFILE)'
      : 'the system has no open file left (fs.file-max)'
  return `${r.syscall}: too many open files${where}: ${full}. Every open Namespace handle holds a descriptor until close(); one dropped without close() keeps it until it has been garbage-collected and the event loop has turned, so code that drops handles without returning to the event loop runs out: close() them (or declare them with \`using\`)`
}

/** Other errnos outside spawn, where the cause is known; undefined: the plain fallback. */
const ERRNOS: Record<string, Explain> = {
  ELOOP: (r, _, where) => {
    if (r.syscall === 'openat') {
      return `${r.path ?? 'the path'} is a symbolic link: nsjs does not follow a symlink in the last component of a path it mounts on, unmounts or removes (the directory's owner could point it elsewhere); name the real path`
    }
    if (r.nsType === 'mnt') {
      return `the kernel refused to mount this mount namespace file${where}: a mount namespace can only be persisted from a mount namespace older than it (the kernel compares namespace ids, which Linux 6.x allocates per CPU, so a namespace made elsewhere may not qualify); persist one made by Namespace.create('mnt') or spawn({ unshare: ['mnt'] }) from this process`
    }
  },
  EAGAIN: (r) =>
    r.syscall === 'flock'
      ? `another process kept ${r.path ?? 'the directory'} locked for persisting or unpersisting for over 2 s; try again`
      : undefined,
  EINVAL: (r, t) => {
    if ((r.syscall === 'open' || r.syscall === 'openat') && r.path !== undefined) {
      return `${r.path} does not name a file in a directory (an absolute path that does not end in /, . or ..)`
    }
    if (r.syscall === 'ioctl') {
      return `the kernel has no such relation for a ${t} namespace (parent() is for pid and user namespaces)`
    }
  },
  EMFILE: tooManyFiles,
  ENFILE: tooManyFiles,
  ENOENT: (r, _, where) => `${r.syscall}: no such file or directory${where}`,
  EEXIST: (r) => `${r.syscall}: ${r.path ?? 'the path'} already exists`,
}

/** A table's entry for `key`, never one of Object.prototype's ('toString' is no errno). */
function entry(table: Record<string, Explain>, key: string): Explain | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined
}

/** Why the kernel said no, in words that name the rule and what to do instead. */
function explain(r: NamespaceErrorFields): string {
  const t = r.nsType ?? 'namespace'
  const where = r.path ? ` (${r.path})` : r.pid !== undefined ? ` (pid ${r.pid})` : ''
  const rule = entry(RULES, r.code)?.(r, t, where)
  if (rule !== undefined) return rule
  if (r.step) return stepMessage(r)
  const denied = r.code === 'EPERM' || r.code === 'EACCES' ? entry(PERMISSION, r.syscall)?.(r, t, where) : undefined
  return denied ?? entry(ERRNOS, r.code)?.(r, t, where) ?? `${r.syscall} failed with ${r.code}${where}`
}

const NOT_MAPPED =
  "the id is not mapped in the command's user namespace (one entered with join is used as root, uid and gid 0, unless uid/gid or preserveCredentials are given)"

/**
 * Why a spawn step failed, keyed by step and then errno, or errno and namespace type
 * ('EINVAL:user'), '*' for any: a hint only where the cause is known, so an EINVAL is never
 * explained with the rule of an EPERM.
 */
const STEP_HINTS: Partial<Record<Step, Record<string, string>>> = {
  uid_map: {
    EPERM:
      "a uid_map that maps more than your own uid needs CAP_SETUID in the parent user namespace; use uidMap: 'root' or 'current'",
    EINVAL: 'the kernel refused the map: ranges must not overlap inside or outside, and at most 340 lines',
  },
  gid_map: {
    EPERM:
      "a gid_map that maps more than your own gid needs CAP_SETGID in the parent user namespace (and setgroups: 'deny' otherwise)",
    EINVAL: 'the kernel refused the map: ranges must not overlap inside or outside, and at most 340 lines',
  },
  setns: {
    EPERM: 'joining needs CAP_SYS_ADMIN in the user namespace that owns the target; join its user namespace too',
    'EINVAL:user':
      "the kernel refuses to enter a user namespace the process is already in; nsjs leaves out the caller's own (as nsenter does), which it finds through /proc/thread-self/ns/user, so not without /proc",
    'EINVAL:pid':
      'a pid namespace can only be entered from its parent or an ancestor, never from a sibling or a descendant',
    EINVAL: 'the kernel refused to enter that namespace from where the command was at that step',
  },
  unshare: {
    EPERM: "creating namespaces needs CAP_SYS_ADMIN; add 'user' to unshare to get it inside a new user namespace",
  },
  sethostname: { EPERM: "setting the hostname needs CAP_SYS_ADMIN over the uts namespace; add 'user' to unshare" },
  cgroup: {
    ENOENT: 'there is no cgroup.procs there: name a cgroup v2 directory that exists',
    EACCES: "the caller may not write that cgroup.procs (cgroup v2 delegation: also the common ancestor's)",
    EBUSY: 'that cgroup has controllers enabled for children: processes may only join a leaf',
    ENOTDIR: 'that is not a directory: name a cgroup v2 directory',
    EBADF:
      'that directory is not a cgroup v2 one (another file system, or a cgroup v1 hierarchy): name one below the cgroup2 mount',
  },
  capabilities: {
    EPERM: "dropping capabilities needs CAP_SETPCAP; unprivileged, add 'user' to unshare",
  },
  rlimits: { EPERM: 'raising a hard limit needs CAP_SYS_RESOURCE (in the initial user namespace)' },
  seccomp: {
    EACCES: 'a seccomp filter needs noNewPrivs (the default with seccomp) or CAP_SYS_ADMIN',
    EINVAL:
      'the policy was refused by the compiler (its words in parentheses) or the program by the kernel (an invalid instruction, jump or return)',
  },
  mount: {
    EPERM:
      "mounting needs CAP_SYS_ADMIN over a new mnt namespace (add 'user' to unshare); a proc entry also needs a new pid namespace",
    ENOENT:
      'the source, or a directory on the way to the target, does not exist (a symbolic link on the way is followed inside the sandbox)',
    EEXIST: 'something else is already at the target (a symlink entry finds a different link or file there)',
  },
  'mount /proc': {
    EPERM:
      "mounting /proc needs CAP_SYS_ADMIN over a new mnt namespace and a new pid namespace (unshare: ['pid', 'mnt'])",
    ENOENT: 'there is no /proc directory to mount on (in the new root, if one was given)',
    ENOTDIR: 'proc in the new root must be a directory (a symbolic link there is not followed)',
  },
  clone: {
    EPERM: "creating namespaces needs CAP_SYS_ADMIN; add 'user' to unshare to get it inside a new user namespace",
    ENOMEM: 'a pid namespace whose first process (its init) has exited admits no new processes',
  },
  setgid: { EINVAL: NOT_MAPPED },
  setuid: { EINVAL: NOT_MAPPED },
  chdir: { ENOENT: 'no such directory (inside the new root, if one was given)' },
  execve: { ENOENT: 'the command was not found', '*': 'the command could not be executed' },
}

function stepMessage(r: NamespaceErrorFields): string {
  const hints = STEP_HINTS[r.step as Step]
  // 'CODE:type' first: one errno means different things for different namespace types.
  const hint =
    (r.nsType ? hints?.[`${r.code}:${r.nsType}`] : undefined) ??
    hints?.[r.code] ??
    hints?.['*'] ??
    (r.code === 'EACCES' ? hints?.EPERM : undefined)
  const what = r.nsType
    ? ` (${r.nsType})`
    : r.mountIndex !== undefined
      ? ` (mounts[${r.mountIndex}] ${r.path})`
      : r.path
        ? ` (${r.path})`
        : ''
  return `spawn failed at step '${r.step}'${what} with ${r.code}${hint ? `: ${hint}` : ''}`
}

/** Builds a NamespaceError for a library rule or errno that the TypeScript layer detects itself. */
export function namespaceError(record: NamespaceErrorFields): NamespaceError {
  return new NamespaceError(explain(record), record)
}

/**
 * What the binding throws (or rejects with, or hands to a spawn's onReady) for a failure: an Error
 * named {@link NATIVE_NAME} whose properties are the facts, built in crates/node/src/error.rs.
 */
interface NativeError extends Error {
  name: typeof NATIVE_NAME
  /** Positive, as the kernel gives it; 0 for a rule. */
  errno: number
  /** Only for a rule the library enforces (`ERR_NS_*`). */
  code?: string
  syscall: string
  step?: Step
  nsType?: NsType
  expected?: NsType
  path?: string
  pid?: number
  tgid?: number
  mountIndex?: number
}

/** The mark of a {@link NativeError} (`error::NAME` in crates/node). */
const NATIVE_NAME = 'NativeNamespaceError'

function isNative(err: unknown): err is NativeError {
  return err instanceof Error && err.name === NATIVE_NAME
}

/** Errno numbers by name, as Node knows them: the first name of a number wins (EAGAIN, not EWOULDBLOCK). */
let errnoNames: Map<number, string> | undefined
function errnoName(errno: number): string | undefined {
  if (errnoNames === undefined) {
    errnoNames = new Map()
    for (const [name, n] of Object.entries(lazyOs().constants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name)
  }
  return errnoNames.get(errno)
}

/**
 * An errno's code as Node names it: libuv's name (what Node's own system errors carry, e.g.
 * ENOTSUP for 95), else `os.constants.errno`'s (ECHILD, ENOEXEC, which libuv lacks), else
 * `E<number>` (EUSERS, which Node does not name at all).
 */
export function errnoCode(errno: number): string {
  if (!(errno > 0)) return `E${errno}`
  const uv = getSystemErrorName(-errno)
  return uv.startsWith('Unknown') ? (errnoName(errno) ?? `E${errno}`) : uv
}

/** Turns an error of the native binding into a NamespaceError; other values pass through. */
export function fromNative(err: unknown): unknown {
  if (!isNative(err)) return err
  const { code, errno, syscall, step, nsType, expected, path, pid, tgid, mountIndex } = err
  const e = namespaceError({
    code: code ?? errnoCode(errno),
    errno,
    syscall,
    nsType,
    expected,
    path,
    pid,
    tgid,
    step,
    mountIndex,
  })
  Error.captureStackTrace?.(e, fromNative)
  return e
}

/** Calls into the binding, converting its errors. */
export function native<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Awaits a binding Promise, converting its errors. */
export async function nativeAsync<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p()
  } catch (err) {
    throw fromNative(err)
  }
}
