// The options spawn() reads, in the order it reads them, and the read itself: each option once,
// before anything is checked (normalize() in options.ts then works on what was read).

import type { ListsAll } from '../type-checks'
import { validateObject } from '../validate'
import type { SpawnOptions } from './options'

/** The options spawn() reads, in the order it reads them. */
export const SPAWN_KEYS = [
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
  'mounts',
  'pivotRoot',
  'cwd',
  'env',
  'uid',
  'gid',
  'preserveCredentials',
  'dieWithParent',
  'detached',
  'noNewPrivs',
  'init',
  'cgroup',
  'capabilities',
  'rlimits',
  'seccomp',
  'stdio',
  'serialization',
  'signal',
  'timeout',
  'killSignal',
  'argv0',
] as const satisfies ReadonlyArray<keyof SpawnOptions>

// An option missing from the list would be read as absent: a type error instead.
const spawnKeysComplete: ListsAll<keyof SpawnOptions, (typeof SPAWN_KEYS)[number]> = true
void spawnKeysComplete

/** The options of a spawn as `readOptions` gives them: each read once, only those given. */
export type ReadOptions = { [K in (typeof SPAWN_KEYS)[number]]?: unknown }

/**
 * `readOptions(options, SPAWN_KEYS)` for spawn() itself: each option read once, in SPAWN_KEYS
 * order, by name. A spawn in a burst costs the event loop its synchronous part, and 31 reads
 * through a changing key (`options[k]`) were a fifth of it: a read by name is cached at its own
 * site for the shape of the caller's options object. Absent options are undefined here.
 * `forExec`: exec()'s read, which leaves out `stdio` and `serialization` (it has no such
 * options) and gives an object of the same shape, so that normalize() sees one shape only.
 */
export function readSpawnOptions(options: unknown, forExec = false): ReadOptions {
  const o = validateObject(options, 'options') as ReadOptions
  return {
    join: o.join,
    unshare: o.unshare,
    uidMap: o.uidMap,
    gidMap: o.gidMap,
    setgroups: o.setgroups,
    hostname: o.hostname,
    mountProc: o.mountProc,
    propagation: o.propagation,
    timeOffsets: o.timeOffsets,
    root: o.root,
    mounts: o.mounts,
    pivotRoot: o.pivotRoot,
    cwd: o.cwd,
    env: o.env,
    uid: o.uid,
    gid: o.gid,
    preserveCredentials: o.preserveCredentials,
    dieWithParent: o.dieWithParent,
    detached: o.detached,
    noNewPrivs: o.noNewPrivs,
    init: o.init,
    cgroup: o.cgroup,
    capabilities: o.capabilities,
    rlimits: o.rlimits,
    seccomp: o.seccomp,
    stdio: forExec ? undefined : o.stdio,
    serialization: forExec ? undefined : o.serialization,
    signal: o.signal,
    timeout: o.timeout,
    killSignal: o.killSignal,
    argv0: o.argv0,
  } satisfies Required<ReadOptions>
}
