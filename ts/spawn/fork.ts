// fork(): a Node.js module in namespaces, with an IPC channel, as child_process.fork() starts one:
// spawn() of Node with an 'ipc' entry in stdio (the channel is ts/spawn/channel.ts's).
import { invalidArgType, validateBoolean, validateObject, validatePath } from '../validate'
import type { ChannelControl } from './channel'
import type { NsChildProcess } from './child'
import type { SpawnOptions } from './options'
import { spawn } from './start'
import { readArgs } from './validate'

/** Options of {@link fork}: those of spawn (every namespace option), and Node's for the child. */
export interface ForkOptions extends Omit<SpawnOptions, 'stdio'> {
  /** Node's options for the child. Default: `process.execArgv`. */
  execArgv?: string[]
  /** The Node executable. Default: `process.execPath`. */
  execPath?: string
  /** stdin, stdout, stderr as pipes (`child.stdout`...) instead of ours. Default false. */
  silent?: boolean
  /**
   * As spawn's, with one 'ipc' entry (the channel); a string or up to three entries get it as
   * fd 3. Overrides `silent`.
   */
  stdio?: SpawnOptions['stdio']
}

/**
 * A child started by {@link fork}, or by {@link spawn} with an 'ipc' entry in `stdio`: an
 * {@link NsChildProcess} with Node's IPC channel.
 */
export interface NsForkedProcess extends NsChildProcess {
  /**
   * Sends `message` to the child's `process.on('message')`: anything JSON carries ('json'
   * serialization), or what V8's structured clone does ('advanced'). With `handle` (a
   * net.Server, net.Socket, dgram.Socket, or the native handle of one), the child gets that
   * handle as the second argument of its 'message' listener, as child_process passes it: the
   * descriptor travels with the message (SCM_RIGHTS), later sends wait until the child has
   * acknowledged it, and a net.Socket is detached here at once and closed once the child has it
   * unless `options.keepOpen`. A socket keeps belonging to the net namespace it was made in.
   * Any other handle throws ERR_INVALID_HANDLE_TYPE. Returns false (as Node) once much waits to
   * be written; calls back or emits 'error' with ERR_IPC_CHANNEL_CLOSED once disconnected.
   */
  send(message: unknown, callback?: (err: Error | null) => void): boolean
  /**
   * Sends `message` with `handle`, as above; `options.keepOpen` keeps a sent net.Socket ours
   * (attached and open).
   */
  send(
    message: unknown,
    handle: SendHandle | undefined,
    options?: { keepOpen?: boolean },
    callback?: (err: Error | null) => void,
  ): boolean
  /** Sends `message` with `handle`, as above, and calls back once it is written. */
  send(message: unknown, handle: SendHandle | undefined, callback?: (err: Error | null) => void): boolean
  /** Closes the channel: the child's `process.on('disconnect')` fires, and it may exit. */
  disconnect(): void
  /** Whether the channel is open. */
  readonly connected: boolean
  /**
   * As child_process's `subprocess.channel`: while the channel is open, `ref()`/`unref()` of its
   * hold on the event loop (with `child.unref()`, `channel.unref()` lets us exit first; the
   * child then sees the channel close) and `fd`; null once closed.
   */
  readonly channel: ChannelControl | null
}

/** What `send()` can pass to the child besides the message (child_process's SendHandle). */
export type SendHandle = import('node:net').Socket | import('node:net').Server | import('node:dgram').Socket

/** fork() itself; ts/spawn/public.ts exports it, with its documentation. */
export function fork(modulePath: string, args?: string[], options?: ForkOptions): NsForkedProcess {
  validatePath(modulePath, 'modulePath')
  const argv = readArgs(args)
  const o = validateObject(options, 'options')
  const { execArgv: execArgvOpt, execPath: execPathOpt, silent: silentOpt, stdio: stdioOpt, ...rest } = o
  const execArgv = execArgvOpt === undefined ? process.execArgv : readArgs(execArgvOpt)
  const execPath = execPathOpt === undefined ? process.execPath : validatePath(execPathOpt, 'options.execPath')
  const silent = validateBoolean(silentOpt, 'options.silent')
  const stdio = stdioOpt ?? (silent ? 'pipe' : 'inherit')
  return spawn(execPath, [...execArgv, modulePath, ...argv], {
    ...(rest as SpawnOptions),
    stdio: forkStdio(stdio),
  }) as NsForkedProcess
}

/**
 * fork()'s stdio with its channel: a string, or an array of up to three entries, gets 'ipc' as
 * fd 3; a longer array must hold its 'ipc' entry (ERR_CHILD_PROCESS_IPC_REQUIRED, as Node).
 */
function forkStdio(stdio: unknown): SpawnOptions['stdio'] {
  if (typeof stdio === 'string') return [stdio, stdio, stdio, 'ipc'] as SpawnOptions['stdio']
  if (!Array.isArray(stdio)) throw invalidArgType('options.stdio', 'of type string or an instance of Array', stdio)
  if (stdio.includes('ipc')) return stdio
  if (stdio.length > 3) {
    const err = new Error(
      "Forked processes must have an IPC channel, missing value 'ipc' in options.stdio",
    ) as Error & { code: string }
    err.code = 'ERR_CHILD_PROCESS_IPC_REQUIRED'
    throw err
  }
  return [stdio[0], stdio[1], stdio[2], 'ipc']
}
