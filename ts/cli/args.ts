// Argument parsing for the commands: util.parseArgs does the parsing; these helpers turn its
// errors and the values it cannot check into usage errors.
import { type ParseArgsConfig, parseArgs } from 'node:util'

import { NAMESPACE_TYPES, type NamespaceType } from '../index'
import { TYPES_HELP } from './help'

/** The options of a command, as util.parseArgs takes them. */
export type Options = NonNullable<ParseArgsConfig['options']>

/** A usage error: printed with the command's usage line, exit status 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
    readonly code = 'ERR_USAGE',
  ) {
    super(message)
  }
}

const HELP_OPTION: Options = { help: { type: 'boolean', short: 'h' } }

/** What {@link parse} gives: the values of the options by name and the positionals. */
export type Parsed = ReturnType<
  typeof parseArgs<{ args: string[]; options: Options; strict: true; allowPositionals: boolean }>
>

/** Parses a command's own arguments strictly (with --help); a parse error is a usage error. */
export function parse<O extends Options>(command: string, args: string[], options: O, positionals = false): Parsed {
  try {
    return parseArgs({ args, options: { ...HELP_OPTION, ...options }, strict: true, allowPositionals: positionals })
  } catch (err) {
    const e = err as Error & { code?: string }
    // parseArgs explains how to pass a value starting with '-'; the first sentence is the point.
    throw new UsageError(e.message.split(/\.\s/)[0], command, e.code)
  }
}

/**
 * Splits `[options] [--] CMD ARGS...` where the command begins: at `--` or at the first argument
 * that is not an option (as nsenter and unshare, getopt with '+', do). parseArgs' tokens say
 * where that is, knowing which options take a value.
 */
export function splitCommand(args: string[], options: Options): { own: string[]; command: string[] } {
  const { tokens } = parseArgs({
    args,
    options: { ...HELP_OPTION, ...options },
    strict: false,
    allowPositionals: true,
    tokens: true,
  })
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
