// The options of spawn() and exec(), and normalize(): the one place where a spawn() call becomes
// the request the native binding takes. A new option is a field of SpawnOptions, a key in
// SPAWN_KEYS and a line of readSpawnOptions (keys.ts), and a line in each section of normalize()
// that concerns it (or of options-more.ts, for the options most spawns leave out).

import { constants as osConstants } from 'node:os'

import type { Namespace } from '../namespace'
import type { NativeSpawnRequest } from '../native'
import { isMainThread } from '../thread'
import type { NamespaceType } from '../types'
import { invalidArgType, validateCString, validateInteger, validatePath, validateTypes } from '../validate'
import { type ReadOptions, readSpawnOptions } from './keys'
import type { MountEntry } from './mounts'
import { makesUser, moreRequest, processGiven, readProcess, readSetup, setupGiven } from './options-more'
import type * as sandbox from './sandbox'
import type { StdioOption, StdioSlot } from './stdio'
import {
  openJoin,
  optionalPath,
  readArgs,
  readEnv,
  readExtraFds,
  readIpc,
  readJoin,
  readStdio,
  type Serialization,
  signalNumber,
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
 * `read`: `options` is what `readSpawnOptions` returned already (exec() reads its own).
 *
 * Kept small, the options most spawns leave out being read elsewhere (options-more.ts) only when
 * given, and without callbacks over arrays whose kind differs from call to call: V8 then
 * compiles it quickly and keeps it compiled whichever options each call brings.
 */
export function normalize(file: unknown, args: unknown, options: unknown, read = false): Normalized {
  // validate: the file, the arguments, then each option in SPAWN_KEYS order, each read once and
  // all before any descriptor is opened. An option left out takes its default where it is read.
  validatePath(file, 'file')
  const argv = readArgs(args)
  const o = read ? (options as ReadOptions) : readSpawnOptions(options)
  const join = readJoin(o.join)
  const unshare = o.unshare === undefined ? undefined : nonEmpty(validateTypes(o.unshare, 'options.unshare', true))
  const setup = setupGiven(o) ? readSetup(o) : undefined
  const cwd = optionalPath(o.cwd, 'options.cwd')
  // Without an env option the main thread's process.env is the real environment (Node writes
  // changes through to it), so the native side takes it as it is instead of a rebuilt list. A
  // worker's process.env is a copy, so there the list is built.
  const ipc = Array.isArray(o.stdio) || o.serialization !== undefined ? readIpc(o.stdio, o.serialization) : undefined
  const given = readEnv(o.env ?? (isMainThread() ? undefined : process.env))
  const env = ipc === undefined ? given : withChannelEnv(given, ipc)
  const proc = processGiven(o) ? readProcess(o, setup?.sandboxed ?? false) : undefined
  const stdio = readStdio(o.stdio ?? 'pipe')
  const extraFds = Array.isArray(o.stdio) && o.stdio.length > 3 ? readExtraFds(o.stdio) : undefined
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal)
  }
  const timeout = o.timeout === undefined ? undefined : validateInteger(o.timeout, 'options.timeout', 0, TIMEOUT_MAX)
  const killSignal = o.killSignal === undefined ? SIGTERM : signalNumber(o.killSignal)
  const argv0 = o.argv0 === undefined ? (file as string) : validateCString(o.argv0, 'options.argv0')
  const path = env === undefined ? undefined : pathToSearch(file as string, env)

  // interpret: the join handles are opened last (nothing is left open when a check throws), and
  // the request is built.
  const { handles, opened, dirs } = openJoin(join)
  const joins = handles.length > 0
  const dirFds = dirs[0] < 0 && dirs[1] < 0 ? NO_FDS : descriptors(dirs)
  return {
    request: {
      file: file as string,
      argv: withArgv0(argv0, argv),
      env,
      path,
      join: joins ? joinRequest(handles) : undefined,
      unshare,
      cwd,
      stdio,
      extraFds,
      more: moreRequest(setup, proc, unshare, handles, dirs),
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
      ipc === undefined &&
      dirFds.length === 0 &&
      (extraFds === undefined || !namesFds(extraFds)) &&
      typeof stdio[0] === 'string' &&
      typeof stdio[1] === 'string' &&
      typeof stdio[2] === 'string' &&
      !(joins && makesUser(unshare, setup)),
    ipc,
  }
}

const SIGTERM = osConstants.signals.SIGTERM

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined
}

/**
 * Where a bare command is looked up when its environment (`env`) has no PATH: in ours, read here
 * on the calling thread, since native code must not read the process environment, which Node's
 * main thread writes (process.env) with no lock another thread could take. (Without `env` on the
 * main thread the native side takes that environment, PATH included, as it is.)
 */
function pathToSearch(file: string, env: readonly string[]): string | undefined {
  if (file.includes('/')) return undefined
  for (let i = 0; i < env.length; i++) if (env[i].startsWith('PATH=')) return undefined
  return process.env.PATH
}

/** The command line the native side takes: argv[0], then the arguments. */
function withArgv0(argv0: string, args: readonly string[]): string[] {
  const out = [argv0]
  for (let i = 0; i < args.length; i++) out.push(args[i])
  return out
}

/** The join entries of the request: each handle's descriptor and type. */
function joinRequest(handles: readonly Namespace[]): { fd: number; nsType: NamespaceType }[] {
  const out: { fd: number; nsType: NamespaceType }[] = []
  for (let i = 0; i < handles.length; i++) out.push({ fd: handles[i].fd, nsType: handles[i].type })
  return out
}

/** The descriptors among `dirs` (-1 where none was opened). */
function descriptors(dirs: readonly [number, number]): number[] {
  const out: number[] = []
  for (let i = 0; i < 2; i++) if (dirs[i] >= 0) out.push(dirs[i])
  return out
}

/** Whether the entries past the third name a descriptor of ours (anything but -1). */
function namesFds(extra: readonly number[]): boolean {
  for (let i = 0; i < extra.length; i++) if (extra[i] !== -1) return true
  return false
}
