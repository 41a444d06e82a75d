// Argument checks and the errors they throw, worded as Node's own validators word them
// (lib/internal/errors.js): one set of helpers for every public function of the package.
//
//   ERR_INVALID_ARG_TYPE   The "pid" argument must be of type number. Received type string ('1')
//   ERR_INVALID_ARG_VALUE  The property 'options.setgroups' must be one of: 'allow', 'deny'. Received 'x'
//   ERR_OUT_OF_RANGE       The value of "options.timeout" is out of range. It must be >= 0 && <= 2147483647. Received -1
//
// As in Node, a name with a dot is a property of an argument ('options.uid'), any other an argument.
import { format, inspect } from 'node:util'

import { NAMESPACE_TYPES, type NamespaceType } from './types'

// Linux caps pid_max at 2^22 (PID_MAX_LIMIT).
const PID_MAX = 4194304

type ArgCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE' | 'ERR_UNKNOWN_SIGNAL'

/** An argument error as Node's validators make it: `code` set, the stack starting at the caller. */
export function argError(Ctor: typeof TypeError | typeof RangeError, code: ArgCode, message: string): Error {
  const e = new Ctor(message) as Error & { code: ArgCode }
  e.code = code
  Error.captureStackTrace?.(e, argError)
  return e
}

function kind(name: string): 'property' | 'argument' {
  return name.includes('.') ? 'property' : 'argument'
}

/** A received value as an ERR_INVALID_ARG_TYPE message shows it (Node's determineSpecificType). */
export function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v)
  switch (typeof v) {
    case 'function':
      return `function ${v.name}`
    case 'object':
      return v.constructor && 'name' in v.constructor
        ? `an instance of ${v.constructor.name}`
        : inspect(v, { depth: -1 })
    case 'string': {
      const s = v.length > 28 ? `${v.slice(0, 25)}...` : v
      return `type string (${s.includes("'") ? JSON.stringify(s) : `'${s}'`})`
    }
    case 'bigint':
      return `type bigint (${v}n)`
    default: {
      const shown = inspect(v)
      return `type ${typeof v} (${shown.length > 28 ? `${shown.slice(0, 25)}...` : shown})`
    }
  }
}

/** A value as ERR_INVALID_ARG_VALUE messages show it: inspected, cut at 128 characters. */
export function received(v: unknown): string {
  const shown = inspect(v, { breakLength: Infinity, depth: 1 })
  return shown.length > 128 ? `${shown.slice(0, 128)}...` : shown
}

/** ERR_INVALID_ARG_TYPE: `expected` as Node words it ('of type string', 'an instance of Namespace'). */
export function invalidArgType(name: string, expected: string, actual: unknown): Error {
  return argError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" ${kind(name)} must be ${expected}. Received ${describe(actual)}`,
  )
}

/** ERR_INVALID_ARG_VALUE: a value of the right type that is not allowed, and why. */
export function invalidArgValue(
  name: string,
  value: unknown,
  reason = 'is invalid',
  Ctor: typeof TypeError | typeof RangeError = TypeError,
): Error {
  return argError(Ctor, 'ERR_INVALID_ARG_VALUE', `The ${kind(name)} '${name}' ${reason}. Received ${received(value)}`)
}

/** ERR_OUT_OF_RANGE, a RangeError; integers beyond 2^32 are shown with `_` between thousands. */
export function outOfRange(name: string, range: string, value: unknown): Error {
  let shown = received(value)
  if (Number.isInteger(value) && Math.abs(value as number) > 2 ** 32) {
    const digits = String(Math.abs(value as number))
    shown = ''
    for (let i = digits.length; i > 0; i -= 3) shown = digits.slice(Math.max(0, i - 3), i) + (shown && `_${shown}`)
    if ((value as number) < 0) shown = `-${shown}`
  }
  return argError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${shown}`,
  )
}

/** ERR_UNKNOWN_SIGNAL, a TypeError, for a signal that is neither a known name nor a number. */
export function unknownSignal(signal: unknown): Error {
  return argError(TypeError, 'ERR_UNKNOWN_SIGNAL', format('Unknown signal: %s', signal))
}

/** An integer from `min` to `max`, checked as Node's validateInteger checks it. */
export function validateInteger(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number') throw invalidArgType(name, 'of type number', v)
  if (!Number.isInteger(v)) throw outOfRange(name, 'an integer', v)
  if (v < min || v > max) throw outOfRange(name, `>= ${min} && <= ${max}`, v)
  return v
}

/**
 * A boolean option: `undefined` or `null` is the default (as Node's `!= null` checks take it),
 * anything but true or false a TypeError, never a truthy string read as false.
 */
export function validateBoolean(v: unknown, name: string, fallback = false): boolean {
  if (v === undefined || v === null) return fallback
  if (typeof v !== 'boolean') throw invalidArgType(name, 'of type boolean', v)
  return v
}

/** One of `allowed`, as Node's validateOneOf checks it (ERR_INVALID_ARG_VALUE, a TypeError). */
export function validateOneOf<T extends string>(v: unknown, name: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(v)) {
    throw invalidArgValue(name, v, `must be one of: ${allowed.map((a) => `'${a}'`).join(', ')}`)
  }
  return v as T
}

/** A process id: an integer from 1 to the kernel's largest pid (ERR_INVALID_ARG_VALUE, a RangeError). */
export function validatePid(pid: unknown, name = 'pid'): number {
  if (typeof pid !== 'number') throw invalidArgType(name, 'of type number', pid)
  if (!Number.isInteger(pid) || pid < 1 || pid > PID_MAX) {
    throw invalidArgValue(name, pid, `must be an integer from 1 to ${PID_MAX}`, RangeError)
  }
  return pid
}

/** A namespace type, named as in `/proc/<pid>/ns/`. */
export function validateType(type: unknown, name = 'type'): NamespaceType {
  if (typeof type !== 'string') throw invalidArgType(name, 'of type string', type)
  return validateOneOf(type, name, NAMESPACE_TYPES)
}

export function validateOptionalType(type: unknown, name = 'type'): NamespaceType | undefined {
  return type === undefined ? undefined : validateType(type, name)
}

/** An array of namespace types, without duplicates in the result. */
export function validateTypes(types: unknown, name = 'types', allowEmpty = false): NamespaceType[] {
  if (!Array.isArray(types)) throw invalidArgType(name, 'an instance of Array', types)
  if (types.length === 0 && !allowEmpty) throw invalidArgValue(name, types, 'must name at least one namespace type')
  // Element by element as forEach visits them (holes skipped); the name is only built for an
  // error. spawn() calls this for every `unshare` and keeps the result until the child starts:
  // sized once, as one of each type at most (a first push would give it room for 17).
  const n = types.length
  const out: NamespaceType[] = new Array(Math.min(n, NAMESPACE_TYPES.length))
  let count = 0
  for (let i = 0; i < n; i++) {
    if (!(i in types)) continue
    const t: unknown = types[i]
    const v = NAMESPACE_TYPES.includes(t as NamespaceType) ? (t as NamespaceType) : validateType(t, `${name}[${i}]`)
    if (!out.includes(v)) out[count++] = v
  }
  out.length = count
  return out
}

/** A path: a string that is not empty and has no null byte. */
export function validatePath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string') throw invalidArgType(name, 'of type string', path)
  if (path.length === 0 || path.includes('\0')) {
    throw invalidArgValue(name, path, 'must be a non-empty string without null bytes')
  }
  return path
}

/**
 * A string the kernel takes as a C string: any string (empty too) without a null byte, which
 * would cut it short.
 */
export function validateCString(v: unknown, name: string): string {
  if (typeof v !== 'string') throw invalidArgType(name, 'of type string', v)
  if (v.includes('\0')) throw invalidArgValue(name, v, 'must be a string without null bytes')
  return v
}

/** The largest descriptor: 2^31 - 1 (the native side takes int32; a larger one would wrap to another fd). */
export const FD_MAX = 0x7fffffff

/** A file descriptor: an integer from 0 to 2147483647 (ERR_INVALID_ARG_VALUE, a RangeError). */
export function validateFd(fd: unknown, name = 'fd'): number {
  if (typeof fd !== 'number') throw invalidArgType(name, 'of type number', fd)
  if (!Number.isInteger(fd) || fd < 0 || fd > FD_MAX) {
    throw invalidArgValue(name, fd, 'must be a non-negative integer file descriptor', RangeError)
  }
  return fd
}

export function validateFunction(fn: unknown, name = 'fn'): (...a: never[]) => unknown {
  if (typeof fn !== 'function') throw invalidArgType(name, 'of type function', fn)
  return fn as (...a: never[]) => unknown
}

/** An options object (not null, not an array); undefined gives an empty one. */
export function validateObject(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined) return {}
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalidArgType(name, 'of type object', v)
  return v as Record<string, unknown>
}
