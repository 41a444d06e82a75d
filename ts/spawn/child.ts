// NsChildProcess, the process spawn() starts, and spawn() itself. Where the child is in its life is one field,
// `#state`; its hand-over to the spawner thread is ts/spawn/pending.ts's, its streams ts/spawn/stdio.ts's.
import { EventEmitter } from 'node:events'
import { closeSync } from 'node:fs'
import type { Duplex, Readable, Writable } from 'node:stream'

import { lazyOs } from '../builtins'
import { fromNative, namespaceError, native } from '../errors'
import { binding } from '../loader'
import { Namespace } from '../namespace'
import type { NamespaceType } from '../types'
import { awaitOutput, childId, type ExitStatus, forgetChild, spawnNow, stopCapture } from './exits'
import type { Normalized } from './options'
import { chargeSyncSpawn, enqueue, PendingSpawn } from './pending'
import { holdLoop, NO_FDS, Stdio } from './stdio'
import { abortError, signalName, signalNumber } from './validate'

/**
 * Where a child is in its life: pending (its PendingSpawn) while the spawner thread has it (queued
 * or handed over); running from its start until it has been reaped; exited until 'close' (which
 * waits for the output streams); unstarted when it never ran ('close' then comes with the error).
 */
type State =
  | { readonly kind: 'unstarted' }
  | PendingSpawn
  | { readonly kind: 'running' }
  | { readonly kind: 'exited' }
  | { readonly kind: 'closed' }

const UNSTARTED: State = { kind: 'unstarted' }
const RUNNING: State = { kind: 'running' }
const EXITED: State = { kind: 'exited' }
const CLOSED: State = { kind: 'closed' }
/** The stdio past the third of a child without any: shared, so frozen. */
const NO_EXTRA_STDIO: (Duplex | null)[] = Object.freeze([]) as unknown as (Duplex | null)[]

/**
 * A process started by {@link spawn}. It behaves like Node's ChildProcess where users expect
 * it (events 'spawn', 'exit', 'close', 'error'; `pid`, `exitCode`, `signalCode`, `killed`,
 * `kill()`, stdio streams) and adds `exited`, a Promise of how it ended.
 *
 * @example
 * const child = spawn('sleep', ['10'], { unshare: ['pid'] })
 * child.kill('SIGTERM')
 * const { signal } = await child.exited // 'SIGTERM'
 */
export class NsChildProcess extends EventEmitter {
  /** The exit code once the child has exited (null before, or when a signal ended it). */
  exitCode: number | null = null
  /** The signal that ended the child, once it has (null before, or when it exited). */
  signalCode: NodeJS.Signals | null = null
  /** Whether a `kill()` succeeded (or was queued for a child not started yet), as in child_process. */
  killed = false
  /** The file and arguments, as given. */
  readonly spawnfile: string
  /** The command line: `file` followed by `args`, as child_process has it. */
  readonly spawnargs: string[]

  #state: State = UNSTARTED
  #pid: number | undefined
  /** The id the native side reports this child by (exits.ts); 0 before it is started. */
  #id = 0
  /** How many of fds 1-2 the native side collects ('capture' slots, exec()). */
  #captures = 0
  /** Whether the child holds the event loop once it runs (a pending one always does). */
  #referenced = true
  readonly #stdio = new Stdio(this)
  #status: { ok: ExitStatus } | { err: unknown } | undefined
  #exitedPromise: Promise<ExitStatus> | undefined
  #resolveExited: ((s: ExitStatus) => void) | undefined
  #rejectExited: ((e: unknown) => void) | undefined
  /** Why `signal` or `timeout` killed it: `exited` rejects with this. */
  #failure: unknown
  /** Undoes the `signal` and `timeout` options once the child has exited. */
  #cleanup: Array<() => void> | undefined

  /** @internal */
  constructor(file: string, n: Normalized, later: boolean) {
    super()
    this.spawnfile = file
    this.spawnargs = [file, ...n.args]
    if (n.signal?.aborted) {
      // Not started at all: killing it right after the start would still let it run a little.
      for (const h of n.opened) h.close()
      for (const fd of n.dirFds) closeSync(fd)
      this.#stdio.endUnstarted(n.stdio)
      this.#fail(abortError(n.signal.reason), false)
    } else {
      this.#captures = (n.stdio[1] === 'capture' ? 1 : 0) + (n.stdio[2] === 'capture' ? 1 : 0)
      if (later) this.#startPending(n)
      else this.#startNow(n)
    }
  }

  /** @internal For exec(): gets the output of the 'capture' slots, once (null: none came). */
  onCaptured: ((stdout: Buffer | null, stderr: Buffer | null, overflow: number) => void) | undefined

  /** @internal The output of the 'capture' slots is complete (exits.ts). */
  outputReported(stdout: Buffer | null, stderr: Buffer | null, overflow: number): void {
    if (!this.#stdio.captureEnded()) return
    holdLoop(-1)
    this.onCaptured?.(stdout, stderr, overflow)
    this.#maybeClose()
  }

  /** @internal Stops collecting the output of the 'capture' slots: what came so far is kept. */
  stopCapture(): void {
    const got = this.#id === 0 ? null : stopCapture(this.#id)
    if (got) this.outputReported(got[0], got[1], 0)
  }

  /**
   * The child's pid; undefined when it could not be started. A spawn handed to the spawner
   * thread (see {@link spawn}) is waited for here, so reading `pid` always gives the real one.
   */
  get pid(): number | undefined {
    if (this.#state.kind === 'pending') this.#state.waitForStart()
    return this.#pid
  }

  #startNow(n: Normalized): void {
    // The pid, or [pid, stdin, stdout, stderr] with pipes; the pidfd stays native, by id.
    let started: number | number[]
    const t0 = performance.now()
    const id = childId(this)
    this.#id = id
    try {
      started = spawnNow(n.request, id)
    } catch (err) {
      forgetChild(id)
      this.#stdio.endUnstarted(n.stdio)
      this.#fail(fromNative(err), false)
      return
    } finally {
      chargeSyncSpawn(performance.now() - t0)
      for (const h of n.opened) h.close()
      for (const fd of n.dirFds) closeSync(fd)
    }
    if (typeof started === 'number') this.#stdio.attach(NO_FDS)
    else this.#stdio.attach(started, 1)
    holdLoop(1)
    this.#started(typeof started === 'number' ? started : started[0])
    this.#armKill(n)
  }

  #startPending(n: Normalized): void {
    let pending: PendingSpawn
    const id = childId(this)
    this.#id = id
    try {
      pending = new PendingSpawn(n, id, this.#stdio, this)
    } catch (err) {
      forgetChild(id)
      this.#fail(err, true)
      return
    }
    this.#state = pending
    // Held until the child has started, whatever unref() says: a spawn() that returned is a
    // child that runs, as with child_process (and the process's 'exit' waits for it too).
    holdLoop(1)
    this.#armKill(n)
    enqueue(pending)
  }

  /** The outcome of a pending spawn. */
  /** @internal The outcome of this child's pending spawn (pending.ts). */
  pendingOutcome(outcome: number | number[] | Error): void {
    const id = this.#id
    if (outcome instanceof Error) {
      forgetChild(id)
      // The streams of a child that never ran end now.
      this.#stdio.end()
      for (const c of this.#cleanup?.splice(0) ?? []) c()
      holdLoop(-1)
      this.#fail(outcome, true)
      return
    }
    const queued = this.#state.kind === 'pending' ? this.#state.queuedSignal : undefined
    // From the hold of a pending child to that of a running one, which unref() may have dropped.
    if (!this.#referenced) holdLoop(-1)
    this.#started(typeof outcome === 'number' ? outcome : outcome[0])
    if (queued === undefined) return
    // As ChildProcess does when a kill fails other than with ESRCH (which kill() answers false).
    try {
      this.kill(queued)
    } catch (err) {
      this.emit('error', err)
    }
  }

  #started(pid: number): void {
    this.#state = RUNNING
    this.#pid = pid
    if (this.#captures > 0) {
      // Held until the output is in, as the streams of pipes hold it (the exit watch does not).
      holdLoop(1)
      this.#stdio.captureStarted(this.#captures)
      awaitOutput(this.#id, this)
    }
    process.nextTick(() => {
      this.#stdio.spawning()
      this.emit('spawn')
      // Output of a handed-over child is read only now, so that 'spawn' comes first.
      this.#stdio.spawned()
    })
  }

  /** The child's stdin, when it is a pipe. */
  get stdin(): Writable | null {
    return this.#stdio.get(0)
  }

  /** The child's stdout, when it is a pipe. */
  get stdout(): Readable | null {
    return this.#stdio.get(1)
  }

  /** The child's stderr, when it is a pipe. */
  get stderr(): Readable | null {
    return this.#stdio.get(2)
  }

  /** `[stdin, stdout, stderr]`, as in child_process. */
  get stdio(): [Writable | null, Readable | null, Readable | null, ...(Duplex | null)[]] {
    return [this.stdin, this.stdout, this.stderr, ...this.#extraStdio]
  }

  /** Whether an IPC channel is open ('ipc' in `stdio`, or fork(): `send()`): false without one. */
  get connected(): boolean {
    return false
  }

  /** The streams of 'pipe' entries past the third (null for the others), from fd 3 on. */
  #extraStdio: (Duplex | null)[] = NO_EXTRA_STDIO

  /** @internal Set once by spawn(). */
  setExtraStdio(streams: (Duplex | null)[]): void {
    this.#extraStdio = streams
  }

  /** Arms the `signal` and `timeout` options: each kills the child with `killSignal`. */
  #armKill({ signal, timeout, killSignal }: Normalized): void {
    if (signal || timeout) this.#cleanup = []
    if (signal) {
      // (An already aborted signal never gets here: such a child is not started.)
      const onAbort = (): void => {
        const err = abortError(signal.reason)
        this.#failure ??= err
        this.kill(killSignal)
        this.#emitError(err)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#cleanup?.push(() => signal.removeEventListener('abort', onAbort))
    }
    if (timeout) {
      const timer = setTimeout(() => {
        const err = new Error(`spawn ${this.spawnfile} timed out after ${timeout}ms`) as Error & { code: string }
        err.code = 'ETIMEDOUT'
        this.#failure ??= err
        this.kill(killSignal)
      }, timeout)
      timer.unref()
      this.#cleanup?.push(() => clearTimeout(timer))
    }
  }

  /**
   * 'error' as child_process emits it, except when nobody listens for it and `exited` has been
   * asked for: then the rejection of `exited` reports it, instead of the EventEmitter rule
   * turning an awaited failure into an uncaught exception.
   */
  #emitError(err: unknown): void {
    if (this.#exitedPromise === undefined || this.listenerCount('error') > 0) this.emit('error', err)
  }

  /**
   * The child never ran. `exited` rejects first; 'error' and 'close' follow once the promise
   * reactions have run, so that `await child.exited` followed by `once(child, 'close')` sees the
   * event whether the failure came from spawn() itself or later, from the spawner thread (a
   * macrotask, after which process.nextTick callbacks would run before those reactions).
   */
  #fail(err: unknown, handedOver: boolean): void {
    this.#state = UNSTARTED
    this.#settle({ err })
    const emit = (): void => {
      this.#emitError(err)
      this.emit('close', (err as { errno?: number }).errno ?? -1, null)
    }
    if (handedOver) setImmediate(emit)
    else process.nextTick(emit)
  }

  /** @internal The exit, as the native side reports it (exits.ts). */
  exitReported(code: number, signal: number): void {
    this.exitCode = signal ? null : code
    this.signalCode = signal ? (signalName(signal) ?? null) : null
    if (this.#cleanup) for (const c of this.#cleanup.splice(0)) c()
    const s = this.#state
    if (s.kind === 'running') {
      this.#state = EXITED
      if (this.#referenced) holdLoop(-1)
    }
    this.#stdio.childExited()
    const status = { code: this.exitCode, signal: this.signalCode }
    // A kill by `signal` or `timeout` rejects; the error keeps its own code and gains how the child ended.
    this.#settle(
      this.#failure
        ? { err: Object.assign(this.#failure as object, { exitCode: status.code, signal: status.signal }) }
        : { ok: status },
    )
    this.emit('exit', this.exitCode, this.signalCode)
    this.#maybeClose()
  }

  /** Open IPC channels: as in child_process, 'close' also waits for the channel to close. */
  #channels = 0

  /** @internal An IPC channel is open: 'close' waits for the function returned to be called. */
  holdClose(): () => void {
    this.#channels++
    return () => {
      this.#channels--
      this.#maybeClose()
    }
  }

  /** @internal stdout or stderr has closed (stdio.ts). */
  outputClosed(): void {
    this.#maybeClose()
  }

  #maybeClose(): void {
    if (this.#state.kind !== 'exited' || this.#stdio.outputsOpen || this.#channels > 0) return
    this.#state = CLOSED
    this.emit('close', this.exitCode, this.signalCode)
  }

  /** @internal What `exited` settles with, once it has (always by 'close'; exec() reads it). */
  get outcome(): { ok: ExitStatus } | { err: unknown } | undefined {
    return this.#status
  }

  #settle(s: { ok: ExitStatus } | { err: unknown }): void {
    if (this.#status) return
    this.#status = s
    'ok' in s ? this.#resolveExited?.(s.ok) : this.#rejectExited?.(s.err)
  }

  /**
   * Resolves with `{ code, signal }` when the child has ended (a non-zero code is not an error);
   * rejects when it could not be started (the NamespaceError of the failed step), or was killed
   * by `signal` (an AbortError) or `timeout` (code 'ETIMEDOUT'). Once `exited` has been asked
   * for, a failure with no 'error' listener is reported here alone, not thrown as an unhandled
   * 'error' event.
   */
  get exited(): Promise<ExitStatus> {
    this.#exitedPromise ??= new Promise((resolve, reject) => {
      // Called by #settle, unless it has been already.
      this.#resolveExited = resolve
      this.#rejectExited = reject
      const s = this.#status
      if (s) 'ok' in s ? resolve(s.ok) : reject(s.err)
    })
    return this.#exitedPromise
  }

  /**
   * Sends a signal (default SIGTERM) through the child's pidfd, so a reused pid can never be hit.
   * Returns false when the child has already exited. For a child handed to the spawner thread and
   * not started yet, the signal (the last one asked for) is sent as soon as it starts.
   *
   * A child that is PID 1 of a new pid namespace (`unshare: ['pid']` without `init`) is that
   * namespace's init, and the kernel drops every signal an init has not caught, blocked or
   * ignored (its SigCgt, SigBlk, SigIgn in /proc/<pid>/status), except SIGKILL and SIGSTOP. So
   * such a signal is sent as SIGKILL when its default action terminates (SIGSTOP when it stops):
   * it ends the child as it would end any other process, and the exit reports SIGKILL. The same
   * holds for `timeout`, `signal` and `[Symbol.dispose]`.
   */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const n = signalNumber(signal)
    const s = this.#state
    if (s.kind === 'pending') {
      if (n !== 0) s.killWhenStarted(n)
      this.killed = true
      return true
    }
    if (s.kind !== 'running') return false
    const id = this.#id
    const sent = native(() => binding().killChild(id, n))
    // As child_process: any successful kill(), signal 0 included.
    if (sent) this.killed = true
    return sent
  }

  /**
   * Handles on the child's namespaces, keyed by type: one for every type this kernel has (a
   * kernel built without one, such as time, has no key for it), all opened now through the
   * child's pidfd, so they are this child's even if its pid has been reused by another process.
   * Close them when done (or let them be collected).
   *
   * Only while the child runs: nothing is captured at the start, so once it has exited this
   * throws a NamespaceError with code 'ESRCH', also before 'exit' is emitted (a process that
   * has ended has no namespaces left). Open what you need while it runs; the handles then keep
   * those namespaces alive after it exits.
   */
  namespaces(): Partial<Record<NamespaceType, Namespace>> {
    // A child handed to the spawner thread is waited for, as `pid` does.
    const pid = this.pid
    const s = this.#state
    if (pid === undefined || s.kind !== 'running') {
      throw namespaceError({ code: 'ESRCH', errno: lazyOs().constants.errno.ESRCH, syscall: 'ioctl', pid })
    }
    const id = this.#id
    const handles = native(() => binding().childNamespaces(id)).map((n) => Namespace.wrap(n))
    return Object.fromEntries(handles.map((h) => [h.type, h])) as Partial<Record<NamespaceType, Namespace>>
  }

  /**
   * For `using child = spawn(...)`: when the scope ends, a child that was not killed yet gets
   * SIGTERM through its pidfd, as child_process's `[Symbol.dispose]` does (Node 20+); one that
   * has ended is left alone. It does not wait for the exit (`await child.exited` does). As with
   * `kill()`, the first process of a new pid namespace that does not handle SIGTERM gets SIGKILL.
   *
   * @example
   * {
   *   using server = spawn('python3', ['-m', 'http.server'], { join: [net] })
   *   await probe()
   * } // server is sent SIGTERM here
   */
  [Symbol.dispose](): void {
    if (!this.killed) this.kill()
  }

  /** Lets the event loop exit while the child is still running. */
  unref(): void {
    if (this.#referenced && this.#state.kind === 'running') holdLoop(-1)
    this.#referenced = false
    this.#stdio.unref()
  }

  /** Undoes `unref()`. */
  ref(): void {
    if (!this.#referenced && this.#state.kind === 'running') holdLoop(1)
    this.#referenced = true
    this.#stdio.ref()
  }
}
