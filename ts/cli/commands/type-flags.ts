// The options that name one namespace type, as nsenter, unshare and lsns spell them.
import type { NamespaceType } from '../../index'

/** `[long option, short option, type]`; `--mount` is util-linux's name for mnt. */
export const TYPE_FLAGS: ReadonlyArray<readonly [string, string, NamespaceType]> = [
  ['net', 'n', 'net'],
  ['mount', 'm', 'mnt'],
  ['uts', 'u', 'uts'],
  ['ipc', 'i', 'ipc'],
  ['pid', 'p', 'pid'],
  ['user', 'U', 'user'],
  ['cgroup', 'C', 'cgroup'],
  ['time', 'T', 'time'],
]
