// spawn(), exec() and fork() as the package exports them: each loads the rest of ts/spawn on its
// first call (ts/lazy.ts says why), as do Namespace#spawn and #exec. NsChildProcess is the class
// itself, loaded at import: `instanceof` and `extends` need it before any child exists.
import { lazyMethods } from '../lazy'
import { Namespace } from '../namespace'
import type { ExecOptions, ExecResult } from './exec'
import type { ForkOptions, NsForkedProcess } from './fork'
import type * as Spawn from './index'
import type { SpawnOptions } from './options'

export { NsChildProcess } from './child'

let loaded: typeof Spawn | undefined
const load = (): typeof Spawn => {
  loaded ??= require('./index') as typeof Spawn
  return loaded
}

/** The Namespace methods ts/spawn/namespace-methods.ts defines. */
export const SPAWN_METHODS = ['spawn', 'exec'] as const satisfies readonly (keyof Namespace)[]

lazyMethods(Namespace.prototype, SPAWN_METHODS, load)

/**
 * Starts `file` with `args` (an argv array: nothing goes through a shell) inside existing
 * namespaces (`join`, like nsenter) and/or new ones (`unshare`, like unshare(1)), on a native
 * clone() with its own child stack.
 *
 * Many spawns in one loop turn do not hold the event loop: once the turn's spawns have taken
 * 0.25 ms, the rest are handed to a native spawner thread (README "Spawning" lists when this
 * never happens). Their `pid` is set (and 'spawn' emitted) when they start; reading `pid` earlier
 * waits for the child to start. Their cwd, environment and join handles are those of the call.
 *
 * Argument errors throw at once, before anything is opened or started: TypeError or RangeError
 * with Node's codes (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE). `args` and
 * every option are read exactly once. A failure of any step before the command runs (setns, uid_map,
 * sethostname, mount /proc, chdir, execve, ...) is emitted as an 'error' event with a
 * NamespaceError naming the step, and `exited` rejects with it.
 *
 * @example
 * const box = spawn('sh', ['-c', 'hostname; echo $$'], { unshare: ['uts', 'pid'], hostname: 'box' })
 * const { code } = await box.exited
 */
export function spawn(file: string, args?: readonly string[], options?: SpawnOptions): Spawn.NsChildProcess {
  return load().spawn(file, args, options)
}

/**
 * Runs a command to completion in namespaces, like util.promisify(child_process.execFile):
 * resolves with `{ stdout, stderr, code, signal }`, and rejects with an error carrying the same
 * fields when the exit is not 0 (or with the NamespaceError of a failed step). As with execFile,
 * a `timeout` rejects with that error and `killed: true`, an aborted `signal` with an AbortError,
 * and both settle once the command has exited, without waiting for output that its own
 * children keep open.
 *
 * @example
 * const { stdout } = await exec('hostname', [], { unshare: ['uts'], hostname: 'x' })
 */
export function exec(
  file: string,
  args: readonly string[] | undefined,
  options: ExecOptions & { encoding: 'buffer' },
): Promise<ExecResult<Buffer>>
export function exec(file: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult<string>>
export function exec(
  file: string,
  args?: readonly string[],
  options?: ExecOptions,
): Promise<ExecResult<string | Buffer>> {
  return load().exec(file, args, options)
}

/**
 * Runs Node module `modulePath` with `args` in a child started as {@link spawn} starts one (so in
 * new or joined namespaces: a user, pid or net namespace that `join()` cannot enter), with an IPC
 * channel like `child_process.fork()`'s: `child.send()` and `child.on('message')` here,
 * `process.send()` and `process.on('message')` there, in Node's 'json' serialization or, with
 * `serialization: 'advanced'`, V8's; handles (servers, sockets) pass both ways, as in
 * child_process. 'disconnect' is emitted when the channel closes.
 *
 * @example
 * const child = fork('./worker.js', [], { unshare: ['user', 'pid', 'net'], uidMap: 'root' })
 * child.on('message', (m) => console.log(m))
 * child.send({ job: 1 })
 */
export function fork(modulePath: string, args?: string[], options?: ForkOptions): NsForkedProcess {
  return load().fork(modulePath, args, options)
}
