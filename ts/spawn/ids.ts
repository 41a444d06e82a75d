// Who the command is in a new user namespace: the id maps, setgroups and its uid and gid, from
// what spawn() was given and who we are, by the rules of unshare(1) and container runtimes.
import type { IdMapLine } from '../native'

type MapRead = 'root' | 'current' | IdMapLine[] | undefined

/** What spawn() read for the ids (each already validated). */
export interface IdsGiven {
  uidMap: MapRead
  gidMap: MapRead
  setgroups: 'allow' | 'deny' | undefined
  uid: number | undefined
  gid: number | undefined
}

/** The ids the native request takes; `maps` when a map asks for a new user namespace. */
export interface Ids {
  maps: boolean
  uidMap: IdMapLine[] | undefined
  gidMap: IdMapLine[] | undefined
  setgroups: 'allow' | 'deny' | undefined
  uid: number | undefined
  gid: number | undefined
}

/** The ids of a spawn that gives none: shared, so frozen. */
const NO_IDS: Ids = Object.freeze({
  maps: false,
  uidMap: undefined,
  gidMap: undefined,
  setgroups: undefined,
  uid: undefined,
  gid: undefined,
})

export function resolveIds(given: IdsGiven): Ids {
  if (
    given.uidMap === undefined &&
    given.gidMap === undefined &&
    given.setgroups === undefined &&
    given.uid === undefined &&
    given.gid === undefined
  )
    return NO_IDS
  // Only maps need our ids (two native calls per spawn otherwise).
  const maps = given.uidMap !== undefined || given.gidMap !== undefined
  const euid = maps ? (process.geteuid?.() ?? 0) : 0
  const egid = maps ? (process.getegid?.() ?? 0) : 0
  // uidMap 'root' or 'current' alone maps the gid the same way, as unshare --map-root-user and
  // --map-current-user do (with setgroups 'deny', below); without it the command's gid would be
  // unmapped (65534). Not when setgroups 'allow' was asked for unprivileged: the kernel would
  // then refuse the gid_map, which it only accepts from us once setgroups says 'deny'.
  const gidMap =
    given.gidMap ??
    (typeof given.uidMap === 'string' && (given.setgroups !== 'allow' || euid === 0) ? given.uidMap : undefined)
  const setgroups =
    given.setgroups ?? (gidMap !== undefined && (typeof gidMap === 'string' || euid !== 0) ? 'deny' : undefined)
  return {
    maps,
    uidMap: lines(given.uidMap, euid),
    gidMap: lines(gidMap, egid),
    setgroups,
    // With an explicit map that leaves out our own id, the child's id would be unmapped (shown
    // as 65534, the overflow id) and powerless; run it as the first mapped id instead, as
    // container runtimes run as root inside a 0:100000:65536 map.
    uid: given.uid ?? firstIdIfUnmapped(given.uidMap, euid),
    gid: given.gid ?? firstIdIfUnmapped(gidMap, egid),
  }
}

/** The lines a map resolves to for a caller whose own id is `own`. */
function lines(m: MapRead, own: number): IdMapLine[] | undefined {
  if (m === undefined) return undefined
  if (m === 'root') return [{ inside: 0, outside: own, count: 1 }]
  if (m === 'current') return [{ inside: own, outside: own, count: 1 }]
  return m
}

function firstIdIfUnmapped(m: MapRead, own: number): number | undefined {
  if (!Array.isArray(m)) return undefined
  return m.some(({ outside, count }) => own >= outside && own < outside + count) ? undefined : m[0].inside
}
