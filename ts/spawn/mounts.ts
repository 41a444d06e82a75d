// The `mounts` option of spawn(): bubblewrap's filesystem setup as data. Its types, and
// readMounts(), which checks the entries (each field read once) and gives them their defaults.
import { resolve } from 'node:path'

import type { MountEntry as NativeMountEntry } from '../native'
import {
  invalidArgType,
  invalidArgValue,
  validateBoolean,
  validateCString,
  validateInteger,
  validateObject,
  validateOneOf,
  validatePath,
} from '../validate'

/**
 * One entry of `mounts`, applied in order after the namespaces are made, below the new root
 * (`root`, `root: 'tmpfs'`, or "/" without one), with bubblewrap's semantics. `target` is an
 * absolute path inside the sandbox (no `..`, not `/` itself), resolved there: a symbolic link
 * on the way is followed inside the sandbox, never out of it. Missing parent directories are
 * created with mode 0755, less the group's bits when the entry's `mode` gives the group nothing
 * and less the others' when it gives them nothing (bubblewrap's rule); a missing mount point is
 * made as a directory (0755), or for a bind of a file as an empty file (0444).
 *
 * - `bind`: `source` (a path of ours, a relative one from the cwd of the spawn() call, resolved
 *   before the sandbox exists) bound recursively,
 *   nosuid and nodev; `readonly` makes it and every mount below it read-only (`--ro-bind`).
 * - `tmpfs`: a new tmpfs, nosuid and nodev, of at most `size` bytes (default: the kernel's, half
 *   of RAM), its root of `mode` (default 0o755) (`--tmpfs`, `--size`, `--perms`).
 * - `proc`: a new proc of the child's pid namespace (pair it with `unshare: ['pid']`; unprivileged,
 *   the kernel requires that) (`--proc`).
 * - `sysfs`: a new sysfs (nosuid, nodev, noexec) of the child's network namespace, so that
 *   /sys/class/net lists its devices; what was mounted at `target` is detached first, with the
 *   mounts below it, as `ip netns exec` remounts /sys (one the kernel keeps locked, from a more
 *   privileged user namespace, stays under it).
 * - `dev`: a minimal /dev on a tmpfs: null, zero, full, random, urandom and tty bound from ours;
 *   stdin, stdout, stderr, fd and core links; shm; a new devpts instance on pts and the ptmx link
 *   (`--dev`).
 * - `dir`: a directory of `mode` (default 0o755) unless one is there (`--dir`).
 * - `file`: a file of `mode` (default 0o666) holding `data` (default empty) (`--file`).
 * - `symlink`: a symbolic link to `linkTo`; one to the same place already there is fine, another
 *   is EEXIST (`--symlink`).
 */
export type MountEntry =
  | {
      /** A bind mount of `source` (`--bind`, `--ro-bind`). */
      type: 'bind'
      /** The path of ours that is bound. */
      source: string
      /** Where, inside the sandbox. */
      target: string
      /** Read-only, with every mount below it. Default false. */
      readonly?: boolean
    }
  | {
      /** A new tmpfs (`--tmpfs`). */
      type: 'tmpfs'
      /** Where, inside the sandbox. */
      target: string
      /** At most this many bytes. Default: the kernel's, half of RAM. */
      size?: number
      /** Its root's mode. Default 0o755. */
      mode?: number
    }
  | {
      /** A new proc of the child's pid namespace (`--proc`). */
      type: 'proc'
      /** Where, inside the sandbox. */
      target: string
    }
  | {
      /** A new sysfs of the child's network namespace, replacing what is mounted there. */
      type: 'sysfs'
      /** Where, inside the sandbox. */
      target: string
    }
  | {
      /** A minimal /dev (`--dev`). */
      type: 'dev'
      /** Where, inside the sandbox. */
      target: string
    }
  | {
      /** A directory (`--dir`). */
      type: 'dir'
      /** Where, inside the sandbox. */
      target: string
      /** Its mode. Default 0o755. */
      mode?: number
    }
  | {
      /** A file (`--file`). */
      type: 'file'
      /** Where, inside the sandbox. */
      target: string
      /** Its contents. Default empty. */
      data?: string | Uint8Array
      /** Its mode. Default 0o666. */
      mode?: number
    }
  | {
      /** A symbolic link (`--symlink`). */
      type: 'symlink'
      /** Where, inside the sandbox. */
      target: string
      /** What the link points to. */
      linkTo: string
    }

const TYPES = ['bind', 'tmpfs', 'proc', 'sysfs', 'dev', 'dir', 'file', 'symlink'] as const

/** The fields each type takes besides `type` and `target`. */
const FIELDS: Record<(typeof TYPES)[number], readonly string[]> = {
  bind: ['source', 'readonly'],
  tmpfs: ['size', 'mode'],
  proc: [],
  sysfs: [],
  dev: [],
  dir: ['mode'],
  file: ['data', 'mode'],
  symlink: ['linkTo'],
}

/** A target inside the sandbox: absolute, without `..`, not the root itself. */
function validateTarget(v: unknown, name: string): string {
  const t = validatePath(v, name)
  const parts = t.split('/').filter((p) => p !== '' && p !== '.')
  if (!t.startsWith('/') || parts.length === 0 || parts.includes('..')) {
    throw invalidArgValue(name, t, "must be an absolute path inside the sandbox, without '..' and not '/'")
  }
  return t
}

/** The entries of `mounts`, checked, with their defaults, as the native request takes them. */
export function readMounts(v: unknown): NativeMountEntry[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw invalidArgType('options.mounts', 'an instance of Array', v)
  return Array.from(v, (entry: unknown, i) => {
    const name = `options.mounts[${i}]`
    if (entry === undefined || entry === null) throw invalidArgType(name, 'of type object', entry)
    const e = validateObject(entry, name)
    const type = validateOneOf(e.type, `${name}.type`, TYPES)
    const out: NativeMountEntry = { type, target: validateTarget(e.target, `${name}.target`) }
    const read: Record<string, unknown> = {}
    for (const k of FIELDS[type]) read[k] = e[k]
    if (type === 'bind') {
      // Relative to the cwd of the call, whenever the child is started.
      out.source = resolve(validatePath(read.source, `${name}.source`))
      out.readonly = validateBoolean(read.readonly, `${name}.readonly`)
    }
    if (read.size !== undefined) out.size = validateInteger(read.size, `${name}.size`, 1, Number.MAX_SAFE_INTEGER)
    if (read.mode !== undefined) out.mode = validateInteger(read.mode, `${name}.mode`, 0, 0o7777)
    if (type === 'file' && read.data !== undefined) {
      const d = read.data
      if (typeof d !== 'string' && !(d instanceof Uint8Array)) {
        throw invalidArgType(`${name}.data`, 'of type string or an instance of Buffer or Uint8Array', d)
      }
      out.data = typeof d === 'string' ? Buffer.from(d) : Buffer.from(d.buffer, d.byteOffset, d.byteLength)
    }
    if (type === 'symlink') out.linkTo = validateCString(read.linkTo, `${name}.linkTo`)
    if (out.linkTo === '') throw invalidArgValue(`${name}.linkTo`, '', 'must not be empty')
    return out
  })
}
