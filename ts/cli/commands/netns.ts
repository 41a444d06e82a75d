// nsjs netns exec NAME CMD: a command in a named network namespace, as `ip netns exec` runs it.
import { Namespace } from '../../index'
import { UsageError } from '../args'
import { runChild } from '../child'
import { help } from '../help'

/** Where iproute2 keeps named network namespaces. */
export const NETNS_DIR = '/run/netns'

// What ip netns exec does in the command's new mount namespace, in its order: /sys remounted so
// that /sys/class/net lists this namespace's devices, then each /etc/netns/NAME/FILE bound over
// /etc/FILE (resolv.conf, hosts, ...). spawn() has no mount steps, so mount(8) does them, from a
// shell that then execs the command ($1 is NAME).
const SETUP = `name=$1; shift
umount -l /sys 2>/dev/null
mount -t sysfs "$name" /sys || exit 1
for f in "/etc/netns/$name"/*; do
  [ -e "$f" ] && [ -e "/etc/\${f##*/}" ] || continue
  mount --bind "$f" "/etc/\${f##*/}" || exit 1
done
exec "$@"`

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
  return runChild(['sh', '-c', SETUP, 'nsjs-netns-exec', name, ...command], {
    join: [net],
    unshare: ['mnt'],
    propagation: 'slave',
  })
}
