// Namespace#spawn and Namespace#exec: spawn() and exec() with the handle joined. They are added
// to the class here, where both Namespace and spawn are visible, since spawn needs Namespace
// (join handles, NsChildProcess#namespaces) and ts/namespace.ts must therefore not import spawn.
import { Namespace } from '../namespace'
import { invalidArgValue, validateObject } from '../validate'
import type { NsChildProcess } from './child'
import { type ExecOptions, type ExecResult, exec } from './exec'
import type { SpawnOptions } from './options'
import { spawn } from './start'

declare module '../namespace' {
  interface Namespace {
    /**
     * Starts a command inside this namespace: `spawn(file, args, { ...options, join: [this, ...] })`.
     * The handle must stay open until this returns.
     */
    spawn(file: string, args?: readonly string[], options?: SpawnOptions): NsChildProcess
    /** Runs a command to completion inside this namespace; see {@link exec}. */
    exec(
      file: string,
      args: readonly string[] | undefined,
      options: ExecOptions & { encoding: 'buffer' },
    ): Promise<ExecResult<Buffer>>
    /**
     * Runs a command to completion inside this namespace, output as strings; see {@link exec}.
     *
     * @example
     * const { stdout } = await Namespace.fromPath('/run/netns/lab').exec('ip', ['-br', 'addr'])
     */
    exec(file: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult<string>>
  }
}

const methods = {
  spawn(this: Namespace, file: string, args?: readonly string[], options: SpawnOptions = {}): NsChildProcess {
    const { join, rest } = splitJoin(options)
    return spawn(file, args, { ...rest, join: [this, ...joinHandles(join)] })
  },

  exec(
    this: Namespace,
    file: string,
    args?: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult<string | Buffer>> {
    const { join: given, rest } = splitJoin(options)
    let join: Namespace[]
    try {
      join = [this, ...joinHandles(given)]
    } catch (err) {
      return Promise.reject(err)
    }
    return exec(file, args, { ...rest, join })
  },
}

// As methods written in the class body are: not enumerable.
Object.defineProperties(Namespace.prototype, {
  spawn: { value: methods.spawn, writable: true, configurable: true },
  exec: { value: methods.exec, writable: true, configurable: true },
})

/**
 * The options with `join` taken out, each own option read exactly once (spawn() then reads the
 * plain copy): a getter must not be able to answer one way here and another there.
 */
function splitJoin(options: unknown): { join: unknown; rest: Record<string, unknown> } {
  const o = validateObject(options, 'options')
  const rest: Record<string, unknown> = {}
  let join: unknown
  for (const k of Object.keys(o)) {
    const v = o[k]
    if (k === 'join') join = v
    else rest[k] = v
  }
  return { join, rest }
}

function joinHandles(join: unknown): Namespace[] {
  if (join === undefined) return []
  if (Array.isArray(join)) return join
  throw invalidArgValue('options.join', join, 'must be an array of Namespace handles (the handle itself is joined)')
}
