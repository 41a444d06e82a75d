// The options of spawn() and exec(), and normalize(): the one place where a spawn() call becomes
// the request the native binding takes. A new option is a field of SpawnOptions, a key in
// SPAWN_KEYS and a line of readSpawnOptions (keys.ts), and a line in each section of normalize()
// that concerns it.

import { constants as osConstants } from 'node:os'
import { resolve } from 'node:path'

import type { Namespace } from '../namespace'
import type { NativeSpawnMore, NativeSpawnRequest, Propagation, SetGroups } from '../native'
import { isMainThread } from '../thread'
import type { ListsAll } from '../type-checks'
import type { NamespaceType } from '../types'
import {
  invalidArgType,
  invalidArgValue,
  validateBoolean,
  validateCString,
  validateInteger,
  validateOneOf,
  validatePath,
  validateTypes,
} from '../validate'
import { resolveIds } from './ids'
import { type ReadOptions, readSpawnOptions } from './keys'
import { type MountEntry, readMounts } from './mounts'
import * as sandbox from './sandbox'
import type { StdioOption, StdioSlot } from './stdio'
import {
  openJoin,
  optionalPath,
  readArgs,
  readEnv,
  readExtraFds,
  readIdMap,
  readIpc,
  readJoin,
  readStdio,
  readTimeOffsets,
  type Serialization,
  signalNumber,
  validateHostname,
  validateId,
  withChannelEnv,
} from './validate'

/** One line of a uid_map or gid_map: ids `inside..inside+count` map to `outside..outside+count`. */
export interface IdMapEntry {
  /** The first id inside the new user namespace. */
  inside: number
  /** The id it stands for outside (in the parent user namespace). */
  outside: number
  /** How many consecutive ids the line maps. */
  count: number
}

/**
 * A uid/gid map for a new user namespace: 'root' maps root inside to the caller's effective id
 * (like `unshare --map-root-user`), 'current' maps the caller's id to itself
 * (`--map-current-user`), or explicit lines (more than your own id needs CAP_SETUID/CAP_SETGID).
 */
export type IdMap = 'root' | 'current' | readonly IdMapEntry[]

/** Existing namespaces to enter: handles, or a process whose namespaces to enter (like nsenter -t). */
export type JoinOption =
  | readonly Namespace[]
  | {
      /** The process whose namespaces to enter. */
      pid: number
      /** Which of its namespaces (default: every one that differs from ours, as nsenter -a). */
      types?: readonly NamespaceType[]
      /** Also take its root directory, as nsenter -r (see `join`). */
      root?: boolean
      /** Also take its working directory, as nsenter -w (see `join`). */
      cwd?: boolean
    }

/** Options of {@link spawn} and {@link exec}. */
export interface SpawnOptions {
  /**
   * Enter existing namespaces first, like nsenter: handles, or `{ pid, types }` (all types the
   * target does not share with us when `types` is omitted). A user namespace is entered the way
   * nsenter does it: first when that gains privilege, last when it drops it; one the command is
   * in already (ours, as in `Namespace.openAll(pid)` of a process that shares it) is left out,
   * since the kernel refuses to enter it again (EINVAL). With `{ pid, root: true, cwd: true }`
   * the command also takes that process's root directory and working directory after the joins
   * (nsenter -r -w; `root` alone: its root, at "/"); both are opened through its pidfd when
   * spawn() is called. Such a spawn always starts on the calling thread.
   */
  join?: JoinOption
  /** New namespaces for the child, like unshare(1). */
  unshare?: readonly NamespaceType[]
  /** uid_map of a new user namespace (implies unshare 'user'); 'root' and 'current' map the gid too. */
  uidMap?: IdMap
  /**
   * gid_map of a new user namespace (implies unshare 'user'). Default: with `uidMap` 'root' or
   * 'current', the same keyword (and setgroups 'deny'), as `unshare --map-root-user` maps both;
   * with explicit `uidMap` lines, none.
   */
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
  timeOffsets?: {
    /** Seconds added to CLOCK_MONOTONIC inside. */
    monotonic?: number
    /** Seconds added to CLOCK_BOOTTIME inside. */
    boottime?: number
  }
  /**
   * New root directory for the child (chroot, or pivot_root with `pivotRoot: true`), or
   * `'tmpfs'`: an empty tmpfs (mode 0755) entered with pivot_root, bubblewrap's way, holding only
   * what `mounts` puts there (implies unshare 'mnt'; a directory named tmpfs is './tmpfs').
   */
  root?: string
  /**
   * Mounts, directories, files and links made in order below the new root (see
   * {@link MountEntry}); implies unshare 'mnt', whose `propagation` must be 'private' or 'slave'.
   * A failed entry rejects with `step` 'mount', `mountIndex` its index and `path` its target.
   */
  mounts?: readonly MountEntry[]
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
   * command is root there, with that namespace's capabilities (see `preserveCredentials`).
   * Setting either drops our supplementary groups where the user namespace allows setgroups.
   */
  uid?: number
  /** The gid the command runs as; see `uid`. */
  gid?: number
  /**
   * Entering a user namespace with `join`, keep our uid, gid and supplementary groups instead
   * of becoming root there, as `nsenter --preserve-credentials`: inside they show as the ids
   * they map to, or as the overflow id 65534 where unmapped, with no capabilities unless one is
   * uid 0 there. `uid`/`gid`, when given, still apply (as nsenter's -S/-G with it), as in a
   * spawn that enters no user namespace. Default false; no effect without such a join.
   */
  preserveCredentials?: boolean
  /** Signal the child gets when its parent dies (PR_SET_PDEATHSIG). `true` means SIGKILL. */
  dieWithParent?: boolean | NodeJS.Signals | number
  /** Start the child in a new session (setsid). */
  detached?: boolean
  /**
   * Set no_new_privs (PR_SET_NO_NEW_PRIVS) just before execve: neither the command nor anything
   * it runs can gain privileges through execve (set-user-ID and set-group-ID bits, file
   * capabilities are ignored), as bubblewrap always does. It cannot be unset. Default false, and
   * true with any sandbox option (`mounts`, `root: 'tmpfs'`, `capabilities`, `rlimits`,
   * `seccomp`).
   */
  noNewPrivs?: boolean
  /**
   * Put a minimal init in the new pid namespace (implies unshare 'pid'), as bubblewrap and tini
   * do: PID 1 stays nsjs's (allocation-free, in the child), runs the command as its child (pid 2),
   * forwards every signal it can catch to it (so `kill()`, `timeout` and `signal` reach the
   * command with the signal asked for), reaps orphaned processes, and exits with the command's
   * exit code, or 128 + N when signal N ended it (an init cannot die of a signal it sends
   * itself), which ends everything else in the namespace. `pid` is the init's. Default false.
   */
  init?: boolean
  /**
   * A cgroup v2 directory for the child (`/sys/fs/cgroup/sandboxes/job1`): the child is born in
   * it (clone3 with CLONE_INTO_CGROUP), so the command never runs outside it; where clone3 is
   * refused (ENOSYS, EPERM) the child writes itself into its `cgroup.procs` before any other step. A
   * missing directory, one the caller may not write (cgroup v2 delegation rules: its
   * `cgroup.procs` and the common ancestor's) or one that is no cgroup v2 directory fails at step
   * 'cgroup' naming the file. The directory must be a leaf.
   */
  cgroup?: string
  /**
   * Capabilities to keep ('CAP_NET_BIND_SERVICE', as capabilities(7) names them); all others are
   * dropped from the bounding, permitted, effective, inheritable and ambient sets (bwrap's
   * `--cap-drop ALL --cap-add ...`); `[]` drops all. Kept ones are raised in the ambient set, so
   * a command that is not root keeps them. Needs CAP_SETPCAP (unprivileged: unshare 'user').
   */
  capabilities?: readonly sandbox.Capability[]
  /** Resource limits (setrlimit), set before the credentials change; Infinity is unlimited. */
  rlimits?: sandbox.Rlimits
  /**
   * A compiled classic-BPF program (struct sock_filter entries, as `bwrap --seccomp` takes) or a
   * {@link SeccompPolicy}, installed just before execve; needs no_new_privs (its default).
   */
  seccomp?: Uint8Array | sandbox.SeccompPolicy
  /**
   * Default 'pipe' for all three. A descriptor is an integer from 0 to 2147483647. Entries past
   * the third are the child's fds 3, 4, ... (up to 63): 'pipe' (a socket pair: `child.stdio[i]`),
   * a descriptor of ours, 'inherit' (ours of that number), or 'ignore'/null/undefined (closed).
   * One entry, anywhere, may be 'ipc': a Node IPC channel on that fd (`child.send()`...).
   */
  stdio?: 'pipe' | 'inherit' | 'ignore' | readonly StdioOption[]
  /** How an 'ipc' entry's messages are encoded, as in child_process. Default 'json'. */
  serialization?: Serialization
  /**
   * Aborting kills the child with `killSignal` and rejects `exited` with an AbortError. As with
   * `kill()`, a child that is PID 1 of a new pid namespace and has no handler for `killSignal`
   * gets SIGKILL instead.
   */
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

/** setTimeout's limit: a longer delay fires at once (with a TimeoutOverflowWarning). */
const TIMEOUT_MAX = 0x7fffffff

const SETGROUPS = ['allow', 'deny'] as const satisfies readonly SetGroups[]
const PROPAGATIONS = ['private', 'slave', 'shared', 'unchanged'] as const satisfies readonly Propagation[]
// And every value the native side knows is offered.
const setgroupsComplete: ListsAll<SetGroups, (typeof SETGROUPS)[number]> = true
const propagationsComplete: ListsAll<Propagation, (typeof PROPAGATIONS)[number]> = true
void setgroupsComplete
void propagationsComplete

/** No descriptors (`dirFds` of a spawn without `join: { root, cwd }`): shared, so frozen. */
const NO_FDS: number[] = Object.freeze([]) as unknown as number[]

/** A spawn() call, checked and resolved: the native request, and what only JS needs. */
export interface Normalized {
  /** What the native binding takes. */
  request: NativeSpawnRequest
  /** The arguments as read (a copy: the caller's array is read once). */
  args: string[]
  /** Handles opened here (join by pid) that must be closed after the spawn. */
  opened: Namespace[]
  /** Handles whose descriptors the request uses; they must stay open during the call. */
  joined: Namespace[]
  /** Descriptors opened here for `join: { root, cwd }`, closed once the child has started. */
  dirFds: number[]
  /** Each of fds 0-2: 'inherit', 'ignore', 'pipe' or a descriptor of ours. */
  stdio: StdioSlot[]
  signal: AbortSignal | undefined
  timeout: number | undefined
  killSignal: number
  /**
   * Whether the spawner thread may start this child (ts/spawn/pending.ts): not when it names fds
   * of ours (stdio, `join` root/cwd: they may be closed once spawn() returns), nor when a new user
   * namespace comes with joins (those joins happen on the cloning thread itself).
   */
  mayHandOver: boolean
  /** The 'ipc' entry of `stdio`, whose channel spawn() opens. */
  ipc: { fd: number; serialization: Serialization } | undefined
}

/**
 * Checks a spawn() call and turns it into the native request. Everything is read and checked
 * before the first syscall; argument errors are TypeError or RangeError with Node's codes.
 * `read`: `options` is what `readOptions` returned already (exec() reads its own).
 */
export function normalize(file: unknown, args: unknown, options: unknown, read = false): Normalized {
  // validate: the file, the arguments, then each option in SPAWN_KEYS order, each read once and
  // all before any descriptor is opened. An option left out takes its default where it is read.
  validatePath(file, 'file')
  const argv = readArgs(args)
  const o = read ? (options as ReadOptions) : readSpawnOptions(options)
  const join = readJoin(o.join)
  const unshare = o.unshare === undefined ? [] : validateTypes(o.unshare, 'options.unshare', true)
  const uidMap = readIdMap(o.uidMap, 'options.uidMap')
  const gidMap = readIdMap(o.gidMap, 'options.gidMap')
  const setgroups = o.setgroups === undefined ? undefined : validateOneOf(o.setgroups, 'options.setgroups', SETGROUPS)
  const hostname = validateHostname(o.hostname)
  const propagation = validateOneOf(o.propagation ?? 'private', 'options.propagation', PROPAGATIONS)
  const timeOffsets = readTimeOffsets(o.timeOffsets)
  const rootRead = optionalPath(o.root, 'options.root')
  const rootTmpfs = rootRead === 'tmpfs'
  const root = rootTmpfs ? undefined : rootRead
  const mounts = readMounts(o.mounts)
  const builds = rootTmpfs || (mounts?.length ?? 0) > 0
  const capabilities = sandbox.readCapabilities(o.capabilities)
  const rlimits = sandbox.readRlimits(o.rlimits)
  const seccomp = sandbox.readSeccomp(o.seccomp)
  const sandboxed = builds || capabilities !== undefined || rlimits !== undefined || o.seccomp !== undefined
  if (builds && (propagation === 'shared' || propagation === 'unchanged')) {
    throw invalidArgValue(
      'options.propagation',
      propagation,
      "must be 'private' or 'slave' with mounts or root: 'tmpfs' (a mount made in the sandbox must not reach ours)",
    )
  }
  const cwd = optionalPath(o.cwd, 'options.cwd')
  // Without an env option the main thread's process.env is the real environment (Node writes
  // changes through to it), so the native side takes it as it is instead of a rebuilt list. A
  // worker's process.env is a copy, so there the list is built.
  const ipc = readIpc(o.stdio, o.serialization)
  const env = withChannelEnv(readEnv(o.env ?? (isMainThread() ? undefined : process.env)), ipc)
  const uid = validateId(o.uid, 'options.uid')
  const gid = validateId(o.gid, 'options.gid')
  const preserveCredentials = validateBoolean(o.preserveCredentials, 'options.preserveCredentials')
  const dieWithParent =
    o.dieWithParent === undefined || o.dieWithParent === false
      ? undefined
      : o.dieWithParent === true
        ? osConstants.signals.SIGKILL
        : signalNumber(o.dieWithParent)
  const mountProc = validateBoolean(o.mountProc, 'options.mountProc')
  const pivotRoot = validateBoolean(o.pivotRoot, 'options.pivotRoot')
  const detached = validateBoolean(o.detached, 'options.detached')
  // A sandbox option makes it the default, as bubblewrap always sets it.
  const noNewPrivs = validateBoolean(o.noNewPrivs, 'options.noNewPrivs', sandboxed)
  const init = validateBoolean(o.init, 'options.init')
  const cgroup = optionalPath(o.cgroup, 'options.cgroup')
  const stdio = readStdio(o.stdio ?? 'pipe')
  const extraFds = readExtraFds(o.stdio)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal)
  }
  const timeout = o.timeout === undefined ? undefined : validateInteger(o.timeout, 'options.timeout', 0, TIMEOUT_MAX)
  const killSignal = signalNumber(o.killSignal ?? 'SIGTERM')
  const argv0 = o.argv0 === undefined ? (file as string) : validateCString(o.argv0, 'options.argv0')

  // defaults: those that follow from other options or from who we are.
  const ids = resolveIds({ uidMap, gidMap, setgroups, uid, gid })
  // A bare command whose environment has no PATH is looked up in ours, read here on the calling
  // thread: native code must not read the process environment, which Node's main thread writes
  // (process.env) with no lock another thread could take. Without `env` on the main thread the
  // native side takes that environment, PATH included, as it is.
  const path =
    env !== undefined && !(file as string).includes('/') && !env.some((e) => e.startsWith('PATH='))
      ? process.env.PATH
      : undefined

  // interpret: the join handles are opened last (nothing is left open when a check throws), and
  // the request is built.
  const { handles, opened, dirs } = openJoin(join)
  const dirFds = dirs[0] < 0 && dirs[1] < 0 ? NO_FDS : dirs.filter((fd) => fd >= 0)
  const namesOwnFds = dirFds.length > 0 || (extraFds?.some((fd) => fd !== -1) ?? false)
  const joinsUser = handles.length > 0 && handles.some((h) => h.type === 'user')
  const newUser = unshare.includes('user') || ids.maps
  // As nsenter does (unless preserveCredentials, its --preserve-credentials): a command entering
  // a user namespace runs as root there. Keeping our ids would leave them unmapped (65534
  // inside) and without the capabilities the join was for, since execve grants them only to uid
  // 0 of the namespace. The native plan applies it only if that join really happens: one of our
  // own user namespace is left out (setns to it is EINVAL), and our ids stay, as with nsenter.
  const rootInJoinedUser = joinsUser && !unshare.includes('user') && !ids.maps && !preserveCredentials
  const more: NativeSpawnMore = {
    joinRoot: dirs[0] >= 0 ? dirs[0] : undefined,
    joinCwd: dirs[1] >= 0 ? dirs[1] : undefined,
    uidMap: ids.uidMap,
    gidMap: ids.gidMap,
    setgroups: ids.setgroups,
    hostname,
    mountProc: mountProc || undefined,
    // 'private' is the native default.
    propagation: propagation === 'private' ? undefined : propagation,
    timeOffsets,
    root,
    rootTmpfs: rootTmpfs || undefined,
    mounts,
    pivotRoot: pivotRoot || undefined,
    uid: ids.uid,
    gid: ids.gid,
    rootInJoinedUser: rootInJoinedUser || undefined,
    dieWithParent,
    newSession: detached || undefined,
    noNewPrivs: noNewPrivs || undefined,
    init: init || undefined,
    cgroup: cgroup === undefined ? undefined : resolve(cgroup),
    capabilities,
    rlimits,
    seccomp: seccomp.buffer,
    seccompRules: seccomp.rules,
  }
  return {
    request: {
      file: file as string,
      argv: [argv0, ...argv],
      env,
      path,
      join: handles.length > 0 ? handles.map((h) => ({ fd: h.fd, nsType: h.type })) : undefined,
      unshare: unshare.length > 0 ? unshare : undefined,
      cwd,
      stdio,
      extraFds,
      // Left out when every one of them is at its default: the native side then reads none.
      more: anyDefined(more) ? more : undefined,
      // Set later (a queued spawn, exec()): here from the start, so that setting them does not
      // give each request a second store for properties added after it was made.
      envGeneration: undefined,
      captureLimit: undefined,
    },
    args: argv,
    opened,
    joined: handles,
    dirFds,
    stdio,
    signal: o.signal as AbortSignal | undefined,
    timeout,
    killSignal,
    mayHandOver:
      !ipc &&
      !namesOwnFds &&
      typeof stdio[0] === 'string' &&
      typeof stdio[1] === 'string' &&
      typeof stdio[2] === 'string' &&
      !(newUser && handles.length > 0),
    ipc,
  }
}

/** Whether any field of `o` is set (a loop, not Object.values: no array per spawn). */
function anyDefined(o: object): boolean {
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true
  return false
}
