import { inspect } from 'node:util'

import { argError, isNamespaceType } from './errors'
import { NAMESPACE_TYPES, type NamespaceType } from './types'

// Linux caps pid_max at 2^22 (PID_MAX_LIMIT).
const PID_MAX = 4194304

/** How a received value is shown in an ERR_INVALID_ARG_TYPE message, as Node shows it. */
export function describe(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return `type string ('${v.length > 28 ? `${v.slice(0, 25)}...` : v}')`
  if (typeof v === 'object') return `an instance of ${v.constructor?.name ?? 'Object'}`
  return `type ${typeof v} (${String(v)})`
}

/** A value as ERR_INVALID_ARG_VALUE and ERR_OUT_OF_RANGE messages show it: inspected, as Node does. */
export function received(v: unknown): string {
  const shown = inspect(v, { breakLength: Infinity, depth: 1 })
  return shown.length > 128 ? `${shown.slice(0, 128)}...` : shown
}

/** A number as Node's ERR_OUT_OF_RANGE shows it: large integers with `_` between thousands. */
function receivedNumber(v: number): string {
  if (!Number.isInteger(v) || Math.abs(v) <= 2 ** 32) return String(v)
  const digits = String(Math.abs(v))
  let out = ''
  for (let i = digits.length; i > 0; i -= 3) out = digits.slice(Math.max(0, i - 3), i) + (out ? `_${out}` : '')
  return (v < 0 ? '-' : '') + out
}

/**
 * An integer from `min` to `max`, checked as Node's own validateInteger does: TypeError
 * ERR_INVALID_ARG_TYPE for a non-number, RangeError ERR_OUT_OF_RANGE otherwise.
 */
export function validateInteger(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. Received ${describe(v)}`,
    )
  }
  if (!Number.isInteger(v)) {
    throw argError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be an integer. Received ${receivedNumber(v)}`,
    )
  }
  if (v < min || v > max) {
    throw argError(
      RangeError,
      'ERR_OUT_OF_RANGE',
      `The value of "${name}" is out of range. It must be >= ${min} && <= ${max}. Received ${receivedNumber(v)}`,
    )
  }
  return v
}

export function validatePid(pid: unknown, name = 'pid'): number {
  if (typeof pid !== 'number') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. Received ${describe(pid)}`,
    )
  }
  if (!Number.isInteger(pid) || pid < 1 || pid > PID_MAX) {
    throw argError(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be an integer from 1 to ${PID_MAX}. Received ${pid}`,
    )
  }
  return pid
}

export function validateType(type: unknown, name = 'type'): NamespaceType {
  if (typeof type !== 'string') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type string. Received ${describe(type)}`,
    )
  }
  if (!isNamespaceType(type)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be one of ${NAMESPACE_TYPES.map((t) => `'${t}'`).join(', ')}. Received '${type}'`,
    )
  }
  return type
}

export function validateOptionalType(type: unknown, name = 'type'): NamespaceType | undefined {
  return type === undefined ? undefined : validateType(type, name)
}

export function validateTypes(types: unknown, name = 'types', allowEmpty = false): NamespaceType[] {
  if (!Array.isArray(types)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be an array of namespace types. Received ${describe(types)}`,
    )
  }
  if (types.length === 0 && !allowEmpty) {
    throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}' must name at least one namespace type`)
  }
  const out: NamespaceType[] = []
  types.forEach((t, i) => {
    const v = validateType(t, `${name}[${i}]`)
    if (!out.includes(v)) out.push(v)
  })
  return out
}

export function validatePath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type string. Received ${describe(path)}`,
    )
  }
  if (path.length === 0 || path.includes('\0')) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be a non-empty string without null bytes`,
    )
  }
  return path
}

export function validateFd(fd: unknown, name = 'fd'): number {
  if (typeof fd !== 'number') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type number. Received ${describe(fd)}`,
    )
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw argError(
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      `The argument '${name}' must be a non-negative integer file descriptor. Received ${fd}`,
    )
  }
  return fd
}

export function validateFunction(fn: unknown, name = 'fn'): (...a: never[]) => unknown {
  if (typeof fn !== 'function') {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type function. Received ${describe(fn)}`,
    )
  }
  return fn as (...a: never[]) => unknown
}

export function validateObject(v: unknown, name: string): Record<string, unknown> {
  if (v === undefined) return {}
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw argError(
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      `The "${name}" argument must be of type object. Received ${describe(v)}`,
    )
  }
  return v as Record<string, unknown>
}
