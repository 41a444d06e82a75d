// nsjs netns exec NAME CMD: a command in a named network namespace, as `ip netns exec` runs it.
import { existsSync, readdirSync } from 'node:fs'

import { type MountEntry, Namespace } from '../../index'
import { UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'

/** Where iproute2 keeps named network namespaces. */
export const NETNS_DIR = '/run/netns'

/**
 * What ip netns exec does in the command's new mount namespace, in its order: a new /sys (the
 * old one detached), so that /sys/class/net lists this namespace's devices, then each
 * /etc/netns/NAME/FILE bound over /etc/FILE (resolv.conf, hosts, ...). A FILE with no /etc/FILE
 * is left out: a bind entry would create its mount point in our /etc.
 */
function netnsMounts(name: string): MountEntry[] {
  const dir = `/etc/netns/${name}`
  let files: string[] = []
  try {
    files = readdirSync(dir).sort()
  } catch {
    // no such directory: nothing to bind
  }
  const binds = files
    .filter((f) => existsSync(`/etc/${f}`))
    .map((f): MountEntry => ({ type: 'bind', source: `${dir}/${f}`, target: `/etc/${f}` }))
  return [{ type: 'sysfs', target: '/sys' }, ...binds]
}

/** `nsjs netns exec NAME CMD [ARGS...]`: resolves with the command's exit status. */
export async function cmdNetns(args: string[]): Promise<number> {
  const [sub, name, ...command] = args
  if (sub === '--help' || sub === '-h' || sub === 'help') return help('netns')
  if (sub !== 'exec')
    throw new UsageError(sub === undefined ? 'netns needs exec' : `unknown netns command '${sub}'`, 'netns')
  if (name === undefined) throw new UsageError('no netns name given', 'netns')
  if (name.includes('/') || name === '.' || name === '..' || name === '')
    throw new UsageError(`'${name}' is not a netns name: names are files in ${NETNS_DIR}`, 'netns')
  if (!command.length) throw new UsageError('no command given: nsjs netns exec NAME CMD [ARGS...]', 'netns')
  using net = Namespace.fromPath(`${NETNS_DIR}/${name}`, 'net')
  // A mount namespace of its own, a slave of ours as ip makes it (mounts made here never leak back).
  return runChild(command, {
    join: [net],
    unshare: ['mnt'],
    propagation: 'slave',
    mounts: netnsMounts(name),
    // Not a sandbox: set-user-ID programs work there as after ip netns exec.
    noNewPrivs: false,
  })
}
