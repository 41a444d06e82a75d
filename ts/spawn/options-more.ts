// The options most spawns leave out, read apart from normalize() (options.ts): a spawn gives none
// of them is spared their code, and normalize() stays small enough for V8 to compile quickly and
// keep compiled whatever mix of options its calls bring. Each group is read only when one of its
// options is given, and in the place of SPAWN_KEYS order where normalize() always read it.
import { constants as osConstants } from 'node:os'
import { resolve } from 'node:path'

import type { Namespace } from '../namespace'
import type {
  IdMapLine,
  MountEntry as NativeMountEntry,
  NativeSpawnMore,
  Propagation,
  RlimitEntry,
  SetGroups,
  TimeOffsets,
} from '../native'
import type { ListsAll } from '../type-checks'
import type { NamespaceType } from '../types'
import { invalidArgValue, validateBoolean, validateOneOf } from '../validate'
import { resolveIds } from './ids'
import type { ReadOptions } from './keys'
import { readMounts } from './mounts'
import * as sandbox from './sandbox'
import { optionalPath, readIdMap, readTimeOffsets, signalNumber, validateHostname, validateId } from './validate'

const SETGROUPS = ['allow', 'deny'] as const satisfies readonly SetGroups[]
const PROPAGATIONS = ['private', 'slave', 'shared', 'unchanged'] as const satisfies readonly Propagation[]
// And every value the native side knows is offered.
const setgroupsComplete: ListsAll<SetGroups, (typeof SETGROUPS)[number]> = true
const propagationsComplete: ListsAll<Propagation, (typeof PROPAGATIONS)[number]> = true
void setgroupsComplete
void propagationsComplete

/** The namespace setup and sandbox options (uidMap to seccomp in SPAWN_KEYS order), checked. */
export interface SetupRead {
  uidMap: 'root' | 'current' | IdMapLine[] | undefined
  gidMap: 'root' | 'current' | IdMapLine[] | undefined
  setgroups: SetGroups | undefined
  hostname: string | undefined
  propagation: Propagation
  timeOffsets: TimeOffsets | undefined
  root: string | undefined
  rootTmpfs: boolean
  mounts: NativeMountEntry[] | undefined
  capabilities: number[] | undefined
  rlimits: RlimitEntry[] | undefined
  seccomp: { buffer?: Buffer; rules?: string }
  /** Whether a sandbox option is given: no_new_privs then defaults to true. */
  sandboxed: boolean
}

/**
 * The options {@link readSetup} reads: its parameter has these alone, so the compiler refuses one
 * it reads that is missing here, and the tests check that {@link setupGiven} names each.
 */
export const SETUP_KEYS = [
  'uidMap',
  'gidMap',
  'setgroups',
  'hostname',
  'propagation',
  'timeOffsets',
  'root',
  'mounts',
  'capabilities',
  'rlimits',
  'seccomp',
] as const satisfies readonly (keyof ReadOptions)[]

/**
 * Whether any option {@link readSetup} reads is given: written out, not a loop over SETUP_KEYS,
 * as one load of a known field each is what every spawn pays here.
 */
export function setupGiven(o: ReadOptions): boolean {
  return (
    o.uidMap !== undefined ||
    o.gidMap !== undefined ||
    o.setgroups !== undefined ||
    o.hostname !== undefined ||
    o.propagation !== undefined ||
    o.timeOffsets !== undefined ||
    o.root !== undefined ||
    o.mounts !== undefined ||
    o.capabilities !== undefined ||
    o.rlimits !== undefined ||
    o.seccomp !== undefined
  )
}

/** Checks the namespace setup and sandbox options, in SPAWN_KEYS order. */
export function readSetup(o: Pick<ReadOptions, (typeof SETUP_KEYS)[number]>): SetupRead {
  const uidMap = readIdMap(o.uidMap, 'options.uidMap')
  const gidMap = readIdMap(o.gidMap, 'options.gidMap')
  const setgroups = o.setgroups === undefined ? undefined : validateOneOf(o.setgroups, 'options.setgroups', SETGROUPS)
  const hostname = validateHostname(o.hostname)
  const propagation = validateOneOf(o.propagation ?? 'private', 'options.propagation', PROPAGATIONS)
  const timeOffsets = readTimeOffsets(o.timeOffsets)
  const rootRead = optionalPath(o.root, 'options.root')
  const rootTmpfs = rootRead === 'tmpfs'
  const mounts = readMounts(o.mounts)
  const builds = rootTmpfs || (mounts?.length ?? 0) > 0
  const capabilities = sandbox.readCapabilities(o.capabilities)
  const rlimits = sandbox.readRlimits(o.rlimits)
  const seccomp = sandbox.readSeccomp(o.seccomp)
  if (builds && (propagation === 'shared' || propagation === 'unchanged')) {
    throw invalidArgValue(
      'options.propagation',
      propagation,
      "must be 'private' or 'slave' with mounts or root: 'tmpfs' (a mount made in the sandbox must not reach ours)",
    )
  }
  return {
    uidMap,
    gidMap,
    setgroups,
    hostname,
    propagation,
    timeOffsets,
    root: rootTmpfs ? undefined : rootRead,
    rootTmpfs,
    mounts,
    capabilities,
    rlimits,
    seccomp,
    sandboxed: builds || capabilities !== undefined || rlimits !== undefined || o.seccomp !== undefined,
  }
}

/** The credential and process options (uid to cgroup), checked. */
export interface ProcessRead {
  uid: number | undefined
  gid: number | undefined
  preserveCredentials: boolean
  dieWithParent: number | undefined
  mountProc: boolean
  pivotRoot: boolean
  detached: boolean
  noNewPrivs: boolean
  init: boolean
  cgroup: string | undefined
}

/** The options {@link readProcess} reads (as {@link SETUP_KEYS} for readSetup). */
export const PROCESS_KEYS = [
  'uid',
  'gid',
  'preserveCredentials',
  'dieWithParent',
  'mountProc',
  'pivotRoot',
  'detached',
  'noNewPrivs',
  'init',
  'cgroup',
] as const satisfies readonly (keyof ReadOptions)[]

/** Whether any option {@link readProcess} reads is given (written out, as {@link setupGiven}). */
export function processGiven(o: ReadOptions): boolean {
  return (
    o.uid !== undefined ||
    o.gid !== undefined ||
    o.preserveCredentials !== undefined ||
    o.dieWithParent !== undefined ||
    o.mountProc !== undefined ||
    o.pivotRoot !== undefined ||
    o.detached !== undefined ||
    o.noNewPrivs !== undefined ||
    o.init !== undefined ||
    o.cgroup !== undefined
  )
}

/** Checks the credential and process options; `sandboxed`: no_new_privs defaults to true. */
export function readProcess(o: Pick<ReadOptions, (typeof PROCESS_KEYS)[number]>, sandboxed: boolean): ProcessRead {
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
  return { uid, gid, preserveCredentials, dieWithParent, mountProc, pivotRoot, detached, noNewPrivs, init, cgroup }
}

/** Whether `list` names a user namespace (a loop: no callback per spawn). */
export function namesUser(list: readonly Namespace[] | readonly NamespaceType[] | undefined): boolean {
  if (list === undefined) return false
  for (let i = 0; i < list.length; i++) {
    const e = list[i]
    if ((typeof e === 'string' ? e : e.type) === 'user') return true
  }
  return false
}

/**
 * The request's `more`: everything but the common options, undefined when all of it is at its
 * default (the native side then reads none of it). `handles` are the namespaces joined, `dirs`
 * the joined process's root and cwd descriptors (-1 where none). Also whether a new user
 * namespace is made, which joins then happen on the cloning thread (no hand-over).
 */
export function moreRequest(
  setup: SetupRead | undefined,
  proc: ProcessRead | undefined,
  unshare: NamespaceType[] | undefined,
  handles: readonly Namespace[],
  dirs: readonly [number, number],
): NativeSpawnMore | undefined {
  const joinsUser = handles.length > 0 && namesUser(handles)
  if (setup === undefined && proc === undefined && !joinsUser && dirs[0] < 0 && dirs[1] < 0) return undefined
  const ids = resolveIds({
    uidMap: setup?.uidMap,
    gidMap: setup?.gidMap,
    setgroups: setup?.setgroups,
    uid: proc?.uid,
    gid: proc?.gid,
  })
  // As nsenter does (unless preserveCredentials, its --preserve-credentials): a command entering
  // a user namespace runs as root there. Keeping our ids would leave them unmapped (65534
  // inside) and without the capabilities the join was for, since execve grants them only to uid
  // 0 of the namespace. The native plan applies it only if that join really happens: one of our
  // own user namespace is left out (setns to it is EINVAL), and our ids stay, as with nsenter.
  const rootInJoinedUser = joinsUser && !namesUser(unshare) && !ids.maps && !proc?.preserveCredentials
  const seccomp = setup?.seccomp
  const more: NativeSpawnMore = {
    joinRoot: dirs[0] >= 0 ? dirs[0] : undefined,
    joinCwd: dirs[1] >= 0 ? dirs[1] : undefined,
    uidMap: ids.uidMap,
    gidMap: ids.gidMap,
    setgroups: ids.setgroups,
    hostname: setup?.hostname,
    mountProc: proc?.mountProc || undefined,
    // 'private' is the native default.
    propagation: setup === undefined || setup.propagation === 'private' ? undefined : setup.propagation,
    timeOffsets: setup?.timeOffsets,
    root: setup?.root,
    rootTmpfs: setup?.rootTmpfs || undefined,
    mounts: setup?.mounts,
    pivotRoot: proc?.pivotRoot || undefined,
    uid: ids.uid,
    gid: ids.gid,
    rootInJoinedUser: rootInJoinedUser || undefined,
    dieWithParent: proc?.dieWithParent,
    newSession: proc?.detached || undefined,
    noNewPrivs: (proc === undefined ? setup?.sandboxed : proc.noNewPrivs) || undefined,
    init: proc?.init || undefined,
    cgroup: proc?.cgroup === undefined ? undefined : resolve(proc.cgroup),
    capabilities: setup?.capabilities,
    rlimits: setup?.rlimits,
    seccomp: seccomp?.buffer,
    seccompRules: seccomp?.rules,
  }
  return anyDefined(more) ? more : undefined
}

/** Whether a new user namespace is made: unshare 'user', or an id map. */
export function makesUser(unshare: NamespaceType[] | undefined, setup: SetupRead | undefined): boolean {
  return namesUser(unshare) || (setup !== undefined && (setup.uidMap !== undefined || setup.gidMap !== undefined))
}

/** Whether any field of `o` is set (a loop, not Object.values: no array per spawn). */
function anyDefined(o: object): boolean {
  for (const k in o) if ((o as Record<string, unknown>)[k] !== undefined) return true
  return false
}
