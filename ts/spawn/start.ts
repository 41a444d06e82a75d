// spawn(): a spawn() call becomes a started (or handed-over) NsChildProcess; the extra pipes of
// `stdio` past the third and the IPC channel of an 'ipc' entry are made here.
import { closeSync } from 'node:fs'

import { lazyNet } from '../builtins'
import { native } from '../errors'
import { binding } from '../loader'
import { type ChannelMethods, withChannel } from './channel'
import { NsChildProcess } from './child'
import { closeFd } from './ipc-handles'
import type { ReadOptions } from './keys'
import { type Normalized, normalize, type SpawnOptions } from './options'
import { shouldHandOver } from './pending'
import { EXTRA_PIPE } from './validate'

/** spawn() itself; ts/spawn/public.ts exports it, with its documentation. */
export function spawn(file: string, args?: readonly string[], options?: SpawnOptions): NsChildProcess {
  return spawnWith(file, args, options)
}

/**
 * @internal spawn(), and for exec(): `captureLimit` collects fds 1 and 2 natively where they are
 * 'pipe' (no streams; `NsChildProcess#onCaptured` gets the output), each up to that many bytes;
 * `read`: `options` is what `readSpawnOptions` returned already (exec() has read them).
 */
export function spawnWith(
  file: string,
  args?: readonly string[],
  options?: SpawnOptions | ReadOptions,
  captureLimit?: number,
  read = false,
): NsChildProcess {
  const n = normalize(file, args, options, read)
  if (captureLimit !== undefined) {
    if (n.stdio[1] === 'pipe') n.stdio[1] = n.request.stdio[1] = 'capture'
    if (n.stdio[2] === 'pipe') n.stdio[2] = n.request.stdio[2] = 'capture'
    n.request.captureLimit = captureLimit
  }
  if (n.ipc) return withIpc(file, n, n.ipc)
  return started(file, n)
}

function started(file: string, n: Normalized): NsChildProcess {
  const extra = n.request.extraFds
  if (extra?.includes(EXTRA_PIPE)) return withExtraPipes(file, n, extra)
  // An aborted `signal`: not started at all, so nothing to decide (or to hold for it).
  const child = new NsChildProcess(file, n, n.mayHandOver && !n.signal?.aborted && shouldHandOver(n.request))
  // As child_process: `stdio` has an entry (null) for each one given.
  if (extra) child.setExtraStdio(extra.map(() => null))
  return child
}

/**
 * An 'ipc' entry: a socket pair whose end goes to the child in that slot (such a spawn starts on
 * this thread, so the child holds it once the constructor returns), the other to the channel.
 */
function withIpc(file: string, n: Normalized, ipc: NonNullable<Normalized['ipc']>): NsChildProcess & ChannelMethods {
  const [ours, theirs] = native(() => binding().openIpcPair())
  let child: NsChildProcess
  try {
    if (ipc.fd < 3) n.stdio[ipc.fd] = n.request.stdio[ipc.fd] = theirs
    else if (n.request.extraFds) n.request.extraFds[ipc.fd - 3] = theirs
    child = started(file, n)
  } catch (err) {
    closeFd(ours)
    throw err
  } finally {
    closeFd(theirs)
  }
  return withChannel(child, ours, ipc.serialization)
}

/**
 * 'pipe' past the third: a socket pair each, as libuv makes them; such a spawn starts on this
 * thread (it names descriptors), so the child holds its ends once the constructor returns.
 */
function withExtraPipes(file: string, n: Normalized, extra: number[]): NsChildProcess {
  const ours: (number | null)[] = []
  const theirs: number[] = []
  try {
    for (const [i, fd] of extra.entries()) {
      if (fd !== EXTRA_PIPE) {
        ours.push(null)
        continue
      }
      const [mine, child] = native(() => binding().openIpcPair())
      ours.push(mine)
      theirs.push(child)
      extra[i] = child
    }
    const child = new NsChildProcess(file, n, false)
    const started = child.pid !== undefined
    child.setExtraStdio(
      ours.map((fd) => (fd === null ? null : new (lazyNet().Socket)({ fd, readable: true, writable: true }))),
    )
    if (!started) for (const s of child.stdio.slice(3)) s?.destroy()
    return child
  } catch (err) {
    for (const fd of ours) if (fd !== null) closeSync(fd)
    throw err
  } finally {
    for (const fd of theirs) closeSync(fd)
  }
}
