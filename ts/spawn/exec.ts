// exec(): spawn() and collect the output, as util.promisify(child_process.execFile) does. Where
// the thread's own event loop watches exits (Node's main thread), stdout and stderr are collected
// natively and handed over once complete ('capture' slots: no stream per pipe); elsewhere through
// the child's streams.
import type { Readable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

import { NamespaceError } from '../errors'
import type { ListsAll } from '../type-checks'
import { invalidArgType, invalidArgValue, outOfRange } from '../validate'
import type { NsChildProcess } from './child'
import { captureAvailable } from './exits'
import { readSpawnOptions, SPAWN_KEYS } from './keys'
import type { SpawnOptions } from './options'
import { spawnWith } from './start'
import { type StdioOption, wrapSoon } from './stdio'

/** Options of {@link exec}: those of spawn, plus how output is collected. */
export interface ExecOptions extends Omit<SpawnOptions, 'stdio' | 'serialization'> {
  /**
   * 'utf8' (default) or any other encoding `Buffer.isEncoding` accepts gives strings; 'buffer'
   * gives Buffers. Anything else rejects with ERR_INVALID_ARG_VALUE before the command starts.
   */
  encoding?: BufferEncoding | 'buffer'
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Uint8Array
  /**
   * Largest stdout or stderr kept, in bytes; more kills the child (SIGKILL) and rejects with a
   * RangeError, code 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', holding what fitted. Default 16 MiB.
   */
  maxBuffer?: number
  /** What fd 2 is; default 'pipe' (collected into `stderr`). */
  stderr?: 'pipe' | 'inherit' | 'ignore'
}

/** The options exec() reads: spawn's but stdio (so no IPC channel, nor its serialization), and its own. */
export const EXEC_KEYS = [
  ...SPAWN_KEYS.filter(
    (k): k is Exclude<typeof k, 'stdio' | 'serialization'> => k !== 'stdio' && k !== 'serialization',
  ),
  'encoding',
  'input',
  'maxBuffer',
  'stderr',
] as const satisfies ReadonlyArray<keyof ExecOptions>

// An option missing from the list would be read as absent: a type error instead.
const execKeysComplete: ListsAll<keyof ExecOptions, (typeof EXEC_KEYS)[number]> = true
void execKeysComplete

/** What {@link exec} resolves with: the command's output and how it ended. */
export interface ExecResult<T = string> {
  /** Everything the command wrote on stdout (a string in `encoding`, or a Buffer). */
  stdout: T
  /** Everything the command wrote on stderr. */
  stderr: T
  /** The exit code, or null when a signal ended the command. */
  code: number | null
  /** The signal that ended the command, or null when it exited. */
  signal: NodeJS.Signals | null
}

/**
 * The error `exec` rejects with when the command ran but did not exit 0 (or was killed by
 * `timeout`), shaped as `util.promisify(child_process.execFile)`'s: an `Error` with the result's
 * fields. A type only, as in Node: no `ExecError` class exists, so `instanceof ExecError` is not
 * possible; `e instanceof Error && 'cmd' in e` tells it from a {@link NamespaceError} (a step
 * that failed before the command ran) and from an AbortError (`e.name === 'AbortError'`).
 *
 * @example
 * try {
 *   await exec('false', [], { unshare: ['uts'] })
 * } catch (e) {
 *   if (e instanceof Error && 'cmd' in e) console.log((e as ExecError).code) // 1
 * }
 */
export interface ExecError<T = string> extends Error, ExecResult<T> {
  /** The command line, `file` and `args` joined with spaces, as execFile's error has it. */
  cmd: string
  /** Whether nsjs killed the command (`timeout`, `maxBuffer`). */
  killed: boolean
}

/** exec() itself; ts/spawn/public.ts exports it, with its documentation. */
export function exec(
  file: string,
  args?: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult<string | Buffer>> {
  // In EXEC_KEYS order: spawn's (the same object shape as spawn()'s read), then exec's own.
  const o = readSpawnOptions(options, true)
  const given = options as Record<string, unknown>
  const own = { encoding: given.encoding, input: given.input, maxBuffer: given.maxBuffer, stderr: given.stderr }
  if (own.maxBuffer !== undefined && typeof own.maxBuffer !== 'number') {
    return Promise.reject(invalidArgType('options.maxBuffer', 'of type number', own.maxBuffer))
  }
  if (own.maxBuffer !== undefined && !((own.maxBuffer as number) >= 0)) {
    return Promise.reject(outOfRange('options.maxBuffer', '>= 0', own.maxBuffer))
  }
  if (own.input !== undefined && typeof own.input !== 'string' && !ArrayBuffer.isView(own.input)) {
    return Promise.reject(
      invalidArgType('options.input', 'of type string or an instance of Buffer, TypedArray, or DataView', own.input),
    )
  }
  // Checked before the child starts: an unknown encoding used to throw from the 'close' listener,
  // uncaught, leaving the promise unsettled.
  if (
    own.encoding !== undefined &&
    own.encoding !== 'buffer' &&
    (typeof own.encoding !== 'string' || !Buffer.isEncoding(own.encoding))
  ) {
    return Promise.reject(invalidArgValue('options.encoding', own.encoding, 'is invalid encoding'))
  }
  const maxBuffer = (own.maxBuffer as number | undefined) ?? 16 * 1024 * 1024
  const encoding = (own.encoding as BufferEncoding | 'buffer' | undefined) ?? 'utf8'
  const { input, stderr: errMode } = own
  let child: NsChildProcess
  const capture = captureAvailable()
  try {
    // The options as read above, each once: spawn reads them by name (not exec's own), with stdio.
    o.stdio = [input === undefined ? 'ignore' : 'pipe', 'pipe', (errMode as StdioOption) ?? 'pipe']
    child = spawnWith(file, args, o, capture ? maxBuffer : undefined, true)
  } catch (err) {
    return Promise.reject(err)
  }
  const timeout = o.timeout as number | undefined
  const signal = o.signal as AbortSignal | undefined
  // As execFile: once the child is killed for a reason of ours (`timeout`, `signal`), output
  // that its own children may keep open is no longer waited for, so the promise settles when the
  // child has exited. The timer runs until 'close': after the exit, it ends that wait too.
  let cutShort = false
  const stopReading = (): void => {
    cutShort = true
    child.stopCapture()
    child.stdout?.destroy()
    child.stderr?.destroy()
  }
  const lateTimer = timeout ? setTimeout(stopReading, timeout) : undefined
  lateTimer?.unref()
  // After the child's own listener, which kills it; as that one, only until the child has exited.
  const forgetSignal = (): void => signal?.removeEventListener('abort', stopReading)
  if (signal) {
    signal.addEventListener('abort', stopReading, { once: true })
    child.once('exit', forgetSignal)
  }
  const out: Buffer[] = []
  const err: Buffer[] = []
  let overflow: Error | undefined
  const overflowed = (name: string): void => {
    overflow = Object.assign(new RangeError(`${name} maxBuffer length exceeded`), {
      code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
    })
    stopReading()
    child.kill('SIGKILL')
  }
  child.onCaptured = (stdout, stderr, over) => {
    if (stdout) out.push(stdout)
    if (stderr) err.push(stderr)
    if (over !== 0) overflowed(over === 1 ? 'stdout' : 'stderr')
  }
  const collect = (into: Buffer[], s: Readable | null, name: string): void => {
    let size = 0
    s?.on('data', (d: Buffer) => {
      if (overflow) return
      const room = maxBuffer - size
      size += d.length
      if (d.length <= room) return into.push(d)
      // Like execFile: keep what fits, report which stream overflowed, and stop the child.
      into.push(d.subarray(0, room))
      overflowed(name)
    })
  }
  // Asking for a stream makes its Socket: done with the Sockets of the other spawns, a few per
  // loop turn, so that a burst of exec() calls does not make them all at once; at the latest on
  // 'exit', before the output drained from then on would flow to no listener.
  let collecting = false
  const startCollecting = (): void => {
    if (collecting) return
    collecting = true
    collect(out, child.stdout, 'stdout')
    collect(err, child.stderr, 'stderr')
    if (input !== undefined) child.stdin?.end(input as string | Uint8Array)
  }
  // With 'capture' slots there is nothing to wrap unless there is input.
  if (!capture || input !== undefined) {
    wrapSoon(startCollecting)
    child.once('exit', startCollecting)
  }
  // Output cut short may end inside a character: that tail is dropped rather than shown as U+FFFD.
  // One chunk (what 'capture' hands over per stream) is used as it is: nothing else holds it.
  const text = (b: Buffer[]): string | Buffer => {
    if (b.length === 0) return encoding === 'buffer' ? Buffer.alloc(0) : ''
    const all = b.length === 1 ? b[0] : Buffer.concat(b)
    if (encoding === 'buffer') return all
    return cutShort ? new StringDecoder(encoding).write(all) : all.toString(encoding)
  }
  return new Promise((resolve, reject) => {
    child.on('error', () => {}) // reported through the outcome at 'close' below
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(lateTimer)
      forgetSignal()
      const result = { stdout: text(out), stderr: text(err), code, signal }
      const settle = (outcome: Outcome): void => {
        const failure = execFailure(child, result, outcome, overflow)
        if (failure === undefined) resolve(result)
        else reject(failure)
      }
      // What `exited` settles with is known by 'close': read as it is, with no promise made for
      // it (nor a microtask waited for); the promise is only the fallback.
      const outcome = child.outcome
      if (outcome) settle(outcome)
      else
        child.exited.then(
          (ok) => settle({ ok }),
          (e: unknown) => settle({ err: e }),
        )
    })
  })
}

type Outcome = { ok: unknown } | { err: unknown }

/**
 * What exec()'s promise rejects with once 'close' has come, from how the child ended (`outcome`,
 * what `exited` settles with): the error execFile would give, or undefined when it resolves with
 * `result`. A function of its own, so that the common case (exit 0) makes none of a failure's
 * closures.
 */
function execFailure(
  child: NsChildProcess,
  result: ExecResult<string | Buffer>,
  outcome: Outcome,
  overflow: Error | undefined,
): object | undefined {
  if ('ok' in outcome) {
    if (overflow) return failedWith(overflow, child, result)
    if (result.code === 0) return undefined
    return Object.assign(commandFailed(child, result), result, { cmd: commandLine(child), killed: child.killed })
  }
  const failure = outcome.err
  if (failure instanceof NamespaceError) return failure
  if (overflow) return failedWith(overflow, child, result)
  // A timeout (when it came before any abort: `exited` keeps the first) is reported as
  // execFile reports it: a failed command that was killed.
  if ((failure as { code?: unknown }).code === 'ETIMEDOUT')
    return Object.assign(commandFailed(child, result), result, { cmd: commandLine(child), killed: true })
  return failedWith(failure as object, child, result)
}

/** The command line, joined only for a failure, which reports it. */
function commandLine(child: NsChildProcess): string {
  return child.spawnargs.join(' ')
}

/** `e` with the fields execFile's errors carry; `code` stays the error's own where it has one. */
function failedWith(e: object, child: NsChildProcess, result: ExecResult<string | Buffer>): object {
  const { code: exitCode, ...rest } = result
  return Object.assign(e, rest, { exitCode, cmd: commandLine(child), killed: child.killed })
}

function commandFailed(child: NsChildProcess, { code, signal, stderr }: ExecResult<string | Buffer>): Error {
  return new Error(
    `Command failed: ${commandLine(child)}${signal ? ` (${signal})` : ` (exit code ${code})`}\n${stderr}`,
  )
}
