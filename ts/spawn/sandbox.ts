// The privilege and resource options of spawn(): `capabilities`, `rlimits`, `seccomp`. Their
// types, and the readers that check them and turn names into the kernel's numbers.
import type { RlimitEntry } from '../native'
import { invalidArgType, invalidArgValue, validateInteger, validateObject } from '../validate'

/** Capability names in the kernel's order: the index is the capability's number. */
const CAPABILITIES = [
  'chown',
  'dac_override',
  'dac_read_search',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'linux_immutable',
  'net_bind_service',
  'net_broadcast',
  'net_admin',
  'net_raw',
  'ipc_lock',
  'ipc_owner',
  'sys_module',
  'sys_rawio',
  'sys_chroot',
  'sys_ptrace',
  'sys_pacct',
  'sys_admin',
  'sys_boot',
  'sys_nice',
  'sys_resource',
  'sys_time',
  'sys_tty_config',
  'mknod',
  'lease',
  'audit_write',
  'audit_control',
  'setfcap',
  'mac_override',
  'mac_admin',
  'syslog',
  'wake_alarm',
  'block_suspend',
  'audit_read',
  'perfmon',
  'bpf',
  'checkpoint_restore',
] as const

/** A capability as capabilities(7) names it: 'CAP_NET_BIND_SERVICE' (any case, CAP_ optional). */
export type Capability = string

/** The resources of setrlimit(2), by their RLIMIT_ name in lower case, with Linux's numbers. */
const RLIMITS = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  as: 9,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
} as const

/** A limit: both soft and hard, or each; `Infinity` is RLIM_INFINITY. */
export type RlimitValue = number | { soft: number; hard: number }

/** Resource limits by name (`nofile`, `nproc`, `fsize`, `core`, `cpu`, `as`, ...). */
export type Rlimits = Partial<Record<keyof typeof RLIMITS, RlimitValue>>

/** The capability numbers kept, from names. */
export function readCapabilities(v: unknown): number[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw invalidArgType('options.capabilities', 'an instance of Array', v)
  return Array.from(v, (c: unknown, i) => {
    const name = `options.capabilities[${i}]`
    if (typeof c !== 'string') throw invalidArgType(name, 'of type string', c)
    const n = CAPABILITIES.indexOf(c.toLowerCase().replace(/^cap_/, '') as (typeof CAPABILITIES)[number])
    if (n < 0) throw invalidArgValue(name, c, 'is not a capability name (capabilities(7), such as CAP_NET_ADMIN)')
    return n
  })
}

function limit(v: unknown, name: string): number {
  if (v === Number.POSITIVE_INFINITY) return v
  return validateInteger(v, name, 0, Number.MAX_SAFE_INTEGER)
}

/** The limits as (resource, soft, hard), each key and value read once. */
export function readRlimits(v: unknown): RlimitEntry[] | undefined {
  if (v === undefined) return undefined
  const o = validateObject(v, 'options.rlimits')
  const out: RlimitEntry[] = []
  for (const [key, value] of Object.entries(o)) {
    const name = `options.rlimits.${key}`
    if (!Object.hasOwn(RLIMITS, key)) {
      throw invalidArgValue(
        'options.rlimits',
        key,
        `has an unknown resource (one of ${Object.keys(RLIMITS).join(', ')})`,
      )
    }
    const resource = RLIMITS[key as keyof typeof RLIMITS]
    if (typeof value === 'number') {
      const n = limit(value, name)
      out.push({ resource, soft: n, hard: n })
      continue
    }
    const pair = validateObject(value, name)
    const soft = limit(pair.soft, `${name}.soft`)
    const hard = limit(pair.hard, `${name}.hard`)
    if (soft > hard) throw invalidArgValue(`${name}.soft`, soft, 'must not be above hard')
    out.push({ resource, soft, hard })
  }
  return out
}

/** A compiled classic-BPF seccomp program: whole 8-byte instructions, at most 4096. */
export function readSeccomp(v: unknown): Buffer | undefined {
  if (v === undefined) return undefined
  if (!(v instanceof Uint8Array)) throw invalidArgType('options.seccomp', 'an instance of Buffer or Uint8Array', v)
  if (v.byteLength === 0 || v.byteLength % 8 !== 0 || v.byteLength > 4096 * 8) {
    throw invalidArgValue(
      'options.seccomp',
      v,
      'must hold whole struct sock_filter instructions (8 bytes each), 1 to 4096 of them',
      RangeError,
    )
  }
  // A copy: the caller may change its buffer once spawn() returns.
  return Buffer.from(v)
}
