// Argument parsing for the commands: util.parseArgs does the parsing; these helpers turn its
// errors and the values it cannot check into usage errors.
import { type ParseArgsConfig, parseArgs } from 'node:util'

import { NAMESPACE_TYPES, type NamespaceType } from '../index'
import { TYPES_HELP } from './help'

/** The options of a command, as util.parseArgs takes them. */
export type Options = NonNullable<ParseArgsConfig['options']>

/**
 * A usage error: printed with the command's usage line (or alone, `brief`, for a mistyped name
 * that has a suggestion), exit status 1 as util-linux's tools exit on bad usage.
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    readonly code = 'ERR_USAGE',
    readonly brief = false,
  ) {
    super(message)
  }
}

/** The edit distance of two short strings (insertions, deletions, substitutions, swaps). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** The candidate closest to `name`, if it is close enough to be a typo of it. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const c of candidates) {
    const dist = distance(name, c)
    if (dist < bestDistance) [best, bestDistance] = [c, dist]
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined
}

/** Options only the parser uses (a `--net=FILE` rewritten, see {@link optionalValues}). */
const HIDDEN = /^x-/

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } }

/** What {@link parse} gives: the values of the options by name and the positionals. */
export type Parsed = ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: boolean; tokens: true }>
>

/**
 * Parses a command's own arguments strictly (with --help); a parse error is a usage error. An
 * unknown option close to a known one is answered with that one, on one line. The tokens give
 * the options in the order they were typed (bubblewrap's mounts are applied in that order).
 */
export function parse<O extends Options>(command: string, args: string[], options: O, positionals = false): Parsed {
  const all = { ...HELP_OPTION, ...options }
  try {
    return parseArgs({ args, options: all, strict: true, allowPositionals: positionals, tokens: true })
  } catch (err) {
    const e = err as Error & { code?: string }
    const unknown = /^Unknown option '(-{1,2})([^']+)'/.exec(e.message)
    if (unknown) {
      const names = Object.entries(all)
        .filter(([name]) => !HIDDEN.test(name))
        .flatMap(([name, o]) => (unknown[1] === '--' ? [name] : o.short ? [o.short] : []))
      const near = closest(unknown[2].split('=')[0], names)
      if (near !== undefined) {
        throw new UsageError(
          `unknown option '${unknown[1]}${unknown[2]}'; did you mean '${unknown[1]}${near}'?`,
          command,
          'ERR_USAGE',
          true,
        )
      }
    }
    // parseArgs explains how to pass a value starting with '-'; the first sentence is the point.
    throw new UsageError(e.message.split(/\.\s/)[0], command, e.code)
  }
}

/**
 * util-linux's options with an optional value (`--net[=FILE]`, `--kill-child[=SIG]`), which
 * parseArgs has no kind for: `--NAME=VALUE` becomes `--x-NAME=VALUE` (a string option the
 * command declares), `--NAME` stays the boolean.
 */
export function optionalValues(args: string[], names: readonly string[]): string[] {
  return args.map((a) => {
    const m = /^--([^=]+)=(.*)$/s.exec(a)
    return m && names.includes(m[1]) ? `--x-${m[1]}=${m[2]}` : a
  })
}

/** What joins the two values of a {@link pairValues} option: no argument can hold a NUL. */
export const PAIR_SEPARATOR = '\0'

/** parseArgs' tokens of `args`, in order, knowing which options take a value. */
function tokensOf(args: string[], options: Options) {
  return parseArgs({
    args,
    options: { ...HELP_OPTION, ...options },
    strict: false,
    allowPositionals: true,
    tokens: true,
  }).tokens
}

/**
 * bubblewrap's options with two values (`--bind SRC DEST`, `--symlink SRC DEST`), which
 * parseArgs has no kind for: `--NAME FIRST SECOND` becomes `--NAME=FIRST\0SECOND` (a string
 * option the command declares, split at {@link PAIR_SEPARATOR}), so that SECOND is not taken for
 * the command. `pairs` names each such option's values for the usage error a missing one (or
 * one that looks like an option) gets. Only the command's own options, before it, are read.
 */
export function pairValues(
  args: string[],
  options: Options,
  pairs: Readonly<Record<string, string>>,
  command: string,
): string[] {
  const tokens = tokensOf(args, options)
  const out: Array<string | undefined> = [...args]
  const taken = new Set<number>()
  for (const t of tokens) {
    if (taken.has(t.index)) continue
    if (t.kind !== 'option') break // the command, or `--`, begins
    if (!Object.hasOwn(pairs, t.name) || t.rawName !== `--${t.name}`) continue
    const at = t.index + (t.inlineValue ? 1 : 2)
    const [first, second] = [t.value, args[at]]
    const [one, two] = pairs[t.name].split(' ')
    for (const [v, what] of [
      [first, one],
      [second, two],
    ] as const) {
      if (v === undefined || v.startsWith('-'))
        throw new UsageError(`--${t.name} takes ${pairs[t.name]}: ${what} is missing`, command)
    }
    out[t.index] = `--${t.name}=${first}${PAIR_SEPARATOR}${second}`
    if (!t.inlineValue) out[t.index + 1] = undefined
    out[at] = undefined
    taken.add(at)
  }
  return out.filter((a) => a !== undefined)
}

/**
 * Splits `[options] [--] CMD ARGS...` where the command begins: at `--` or at the first argument
 * that is not an option (as nsenter and unshare, getopt with '+', do). parseArgs' tokens say
 * where that is, knowing which options take a value.
 */
export function splitCommand(args: string[], options: Options): { own: string[]; command: string[] } {
  const tokens = tokensOf(args, options)
  const stop = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator')
  if (!stop) return { own: args, command: [] }
  return {
    own: args.slice(0, stop.index),
    command: args.slice(stop.kind === 'option-terminator' ? stop.index + 1 : stop.index),
  }
}

/** A process id given as `what`; anything but a positive integer is a usage error. */
export function parsePid(value: string | undefined, command: string, what = 'PID'): number {
  if (value === undefined || !/^[1-9]\d{0,6}$/.test(value)) {
    throw new UsageError(
      `${what} must be a process id (a positive integer), not ${value === undefined ? 'nothing' : `'${value}'`}`,
      command,
    )
  }
  return Number(value)
}

/** A namespace type by name (`mount` for mnt); an unknown one is a usage error. */
export function parseType(value: string, command: string): NamespaceType {
  const t = value === 'mount' ? 'mnt' : value
  if (!(NAMESPACE_TYPES as readonly string[]).includes(t)) {
    throw new UsageError(`unknown namespace type '${value}'; ${TYPES_HELP}`, command)
  }
  return t as NamespaceType
}
