// The privilege and resource options of spawn(): `capabilities`, `rlimits`, `seccomp`. Their
// types, and the readers that check them and turn names into the kernel's numbers.
import { constants as osConstants } from 'node:os'

import type { RlimitEntry } from '../native'
import {
  invalidArgType,
  invalidArgValue,
  outOfRange,
  validateCString,
  validateInteger,
  validateObject,
  validateOneOf,
} from '../validate'

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

/** A resource of setrlimit(2), by its RLIMIT_ name in lower case. */
export type RlimitName =
  | 'cpu'
  | 'fsize'
  | 'data'
  | 'stack'
  | 'core'
  | 'rss'
  | 'nproc'
  | 'nofile'
  | 'memlock'
  | 'as'
  | 'locks'
  | 'sigpending'
  | 'msgqueue'
  | 'nice'
  | 'rtprio'
  | 'rttime'

/** Each resource's number on Linux. */
const RLIMITS: Record<RlimitName, number> = {
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
}

/** A limit: both soft and hard, or each; `Infinity` is RLIM_INFINITY. */
export type RlimitValue =
  | number
  | {
      /** The limit the kernel enforces. */
      soft: number
      /** The ceiling the soft limit may be raised to. */
      hard: number
    }

/** Resource limits by name (`nofile`, `nproc`, `fsize`, `core`, `cpu`, `as`, ...). */
export type Rlimits = Partial<Record<RlimitName, RlimitValue>>

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
    const resource = RLIMITS[key as RlimitName]
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

/** What a seccomp rule (or the default) does: allow, kill, trap (SIGSYS), log, or fail with an errno. */
export type SeccompAction =
  | 'allow'
  | 'kill'
  | 'kill-thread'
  | 'trap'
  | 'log'
  | {
      /** The call fails with this errno, by name ('EPERM') or number. */
      errno: string | number
    }

/** A condition on argument `index` (0-5): `value` compared with `op` (masked-eq: `arg & mask`). */
export interface SeccompArg {
  /** Which argument, 0 to 5. */
  index: number
  /** How the argument compares with `value`. */
  op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked-eq'
  /** What it is compared with. */
  value: number | bigint
  /** For 'masked-eq': `arg & mask` is compared with `value`. */
  mask?: number | bigint
  /** Compare the low 32 bits (an `int` argument) or all 64 (default). */
  width?: 32 | 64
}

/** One rule: `syscall` (by name, as this architecture calls it), all of `args` true, `action`. */
export interface SeccompRule {
  /** The system call, by name as this architecture calls it ('openat', 'socket'). */
  syscall: string
  /** Conditions on its arguments, all of which must hold. Default: none (every call). */
  args?: readonly SeccompArg[]
  /** What happens to a call that matches. */
  action: SeccompAction
}

/**
 * A seccomp policy, compiled to classic BPF natively (the seccompiler crate, x86_64 and
 * aarch64): `rules` for the calls they name, `defaultAction` for every other. With a default of
 * 'allow', rules of different actions become one filter each (the kernel takes the strictest
 * answer when two match); with another default, every rule must 'allow' (an allow-list).
 */
export interface SeccompPolicy {
  /** What happens to a call no rule matches. */
  defaultAction: SeccompAction
  /** The rules, by system call. */
  rules: readonly SeccompRule[]
}

const OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'masked-eq'] as const
const U64_MAX = (1n << 64n) - 1n

function action(v: unknown, name: string): string {
  if (v === 'allow' || v === 'trap' || v === 'log') return JSON.stringify(v)
  if (v === 'kill') return '"kill_process"'
  if (v === 'kill-thread') return '"kill_thread"'
  const e = typeof v === 'string' ? undefined : validateObject(v, name).errno
  const n = typeof e === 'string' ? osConstants.errno[e as keyof typeof osConstants.errno] : e
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 4095) {
    throw invalidArgValue(name, v, "must be 'allow', 'kill', 'kill-thread', 'trap', 'log' or { errno }")
  }
  return `{"errno":${n}}`
}

function u64(v: unknown, name: string): string {
  const n = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v
  if (typeof n !== 'bigint') throw invalidArgType(name, 'of type number or bigint', v)
  if (n < 0n || n > U64_MAX) throw outOfRange(name, `>= 0 and <= ${U64_MAX}`, v)
  return n.toString()
}

/** A policy as seccompiler's JSON: its filters named in install order. */
function readPolicy(v: unknown): string {
  const o = validateObject(v, 'options.seccomp')
  const fallback = action(o.defaultAction, 'options.seccomp.defaultAction')
  if (!Array.isArray(o.rules)) throw invalidArgType('options.seccomp.rules', 'an instance of Array', o.rules)
  const groups = new Map<string, string[]>()
  for (const [i, r] of Array.from(o.rules as unknown[]).entries()) {
    const name = `options.seccomp.rules[${i}]`
    const rule = validateObject(r, name)
    const syscall = validateCString(rule.syscall, `${name}.syscall`)
    const args = rule.args === undefined ? [] : rule.args
    if (!Array.isArray(args)) throw invalidArgType(`${name}.args`, 'an instance of Array', args)
    const conds = Array.from(args, (a: unknown, j) => {
      const an = `${name}.args[${j}]`
      const c = validateObject(a, an)
      const index = validateInteger(c.index, `${an}.index`, 0, 5)
      const op = validateOneOf(c.op, `${an}.op`, OPS)
      if (c.width !== undefined && c.width !== 32 && c.width !== 64) {
        throw invalidArgValue(`${an}.width`, c.width, 'must be 32 or 64')
      }
      const width = c.width ?? 64
      const opJson = op === 'masked-eq' ? `{"masked_eq":${u64(c.mask, `${an}.mask`)}}` : `"${op}"`
      const type = width === 32 ? 'dword' : 'qword'
      return `{"index":${index},"type":"${type}","op":${opJson},"val":${u64(c.value, `${an}.value`)}}`
    })
    const act = action(rule.action, `${name}.action`)
    if (act === fallback) throw invalidArgValue(`${name}.action`, rule.action, 'must differ from defaultAction')
    if (fallback !== '"allow"' && act !== '"allow"') {
      throw invalidArgValue(`${name}.action`, rule.action, "must be 'allow' when defaultAction is not 'allow'")
    }
    const list = groups.get(act) ?? []
    // seccompiler refuses an empty condition list: a rule without args has none.
    const argsJson = conds.length > 0 ? `,"args":[${conds.join(',')}]` : ''
    list.push(`{"syscall":${JSON.stringify(syscall)}${argsJson}}`)
    groups.set(act, list)
  }
  if (groups.size === 0) {
    throw invalidArgValue('options.seccomp.rules', o.rules, 'must hold at least one rule')
  }
  const filters = [...groups].map(
    ([act, rules], i) =>
      `"f${String(i).padStart(3, '0')}":{"mismatch_action":${fallback},"match_action":${act},"filter":[${rules.join(',')}]}`,
  )
  return `{${filters.join(',')}}`
}

/** `readSeccomp` of no policy: shared, so frozen. */
const NO_SECCOMP: { buffer?: Buffer; rules?: string } = Object.freeze({})

/**
 * `seccomp`: a compiled classic-BPF program (whole 8-byte instructions, at most 4096) as
 * `buffer`, or a {@link SeccompPolicy} as `rules` (seccompiler's JSON, compiled natively).
 */
export function readSeccomp(v: unknown): { buffer?: Buffer; rules?: string } {
  if (v === undefined) return NO_SECCOMP
  if (!(v instanceof Uint8Array)) return { rules: readPolicy(v) }
  if (v.byteLength === 0 || v.byteLength % 8 !== 0 || v.byteLength > 4096 * 8) {
    throw invalidArgValue(
      'options.seccomp',
      v,
      'must hold whole struct sock_filter instructions (8 bytes each), 1 to 4096 of them',
      RangeError,
    )
  }
  // A copy: the caller may change its buffer once spawn() returns.
  return { buffer: Buffer.from(v) }
}
