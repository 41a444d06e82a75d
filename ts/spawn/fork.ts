// fork(): a Node.js module in namespaces, with an IPC channel, as child_process.fork() starts one.
// The channel is a Unix socket pair whose child end becomes the child's fd 3 (NODE_CHANNEL_FD),
// spoken in Node's 'json' serialization (one JSON text per line), so the child's process.send()
// and 'message' are Node's own; the parent's side is written here on a net.Socket.
import { closeSync } from 'node:fs'

import { lazyNet } from '../builtins'
import { native } from '../errors'
import { binding } from '../loader'
import { invalidArgType, invalidArgValue, validateBoolean, validateObject, validatePath } from '../validate'
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
  /** fds 0-2, as spawn's (the channel is fd 3). Overrides `silent`. */
  stdio?: SpawnOptions['stdio']
}

/** A child started by {@link fork}: an {@link NsChildProcess} with Node's IPC channel. */
export interface NsForkedProcess extends NsChildProcess {
  /** Sends `message` (anything JSON can carry) to the child's `process.on('message')`. */
  send(message: unknown, callback?: (err: Error | null) => void): boolean
  /** Closes the channel: the child's `process.on('disconnect')` fires, and it may exit. */
  disconnect(): void
  /** Whether the channel is open. */
  readonly connected: boolean
}

/**
 * Runs Node module `modulePath` with `args` in a child started as {@link spawn} starts one (so in
 * new or joined namespaces: a user, pid or net namespace that `join()` cannot enter), with an IPC
 * channel like `child_process.fork()`'s: `child.send()` and `child.on('message')` here,
 * `process.send()` and `process.on('message')` there. Messages are JSON (Node's 'json'
 * serialization); handles cannot be sent. 'disconnect' is emitted when the channel closes.
 *
 * @example
 * const child = fork('./worker.js', [], { unshare: ['user', 'pid', 'net'], uidMap: 'root' })
 * child.on('message', (m) => console.log(m))
 * child.send({ job: 1 })
 */
export function fork(modulePath: string, args?: string[], options?: ForkOptions): NsForkedProcess {
  validatePath(modulePath, 'modulePath')
  const argv = readArgs(args)
  const o = validateObject(options, 'options')
  const { execArgv: execArgvOpt, execPath: execPathOpt, silent: silentOpt, stdio: stdioOpt, env: envOpt, ...rest } = o
  const execArgv = execArgvOpt === undefined ? process.execArgv : readArgs(execArgvOpt)
  const execPath = execPathOpt === undefined ? process.execPath : validatePath(execPathOpt, 'options.execPath')
  const silent = validateBoolean(silentOpt, 'options.silent')
  const stdio = stdioOpt ?? (silent ? 'pipe' : 'inherit')
  if (Array.isArray(stdio) && stdio.length > 3) {
    throw invalidArgValue('options.stdio', stdio, 'must have at most 3 entries in fork() (fd 3 is the channel)')
  }
  if (envOpt !== undefined && (envOpt === null || typeof envOpt !== 'object')) {
    throw invalidArgType('options.env', 'of type object', envOpt)
  }
  const slots: unknown[] =
    typeof stdio === 'string' ? [stdio, stdio, stdio] : [0, 1, 2].map((i) => (stdio as unknown[])[i])
  const env = {
    ...((envOpt as Record<string, string | undefined> | undefined) ?? process.env),
    NODE_CHANNEL_FD: '3',
    NODE_CHANNEL_SERIALIZATION_MODE: 'json',
  }
  const [ours, theirs] = native(() => binding().openIpcPair())
  let child: NsChildProcess
  try {
    // A descriptor in stdio: started on this thread, so the child holds its end once this returns.
    child = spawn(execPath, [...execArgv, modulePath, ...argv], {
      ...(rest as SpawnOptions),
      env,
      stdio: [...slots, theirs] as SpawnOptions['stdio'],
    })
  } catch (err) {
    closeSync(ours)
    throw err
  } finally {
    closeSync(theirs)
  }
  return withChannel(child, ours)
}

/** Gives `child` the parent's side of the channel on descriptor `fd`. */
function withChannel(child: NsChildProcess, fd: number): NsForkedProcess {
  const socket = new (lazyNet().Socket)({ fd, readable: true, writable: true })
  let connected = true
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      const message: unknown = JSON.parse(line)
      // Node's own traffic on the channel (handles, acknowledgements) is not the user's.
      const cmd = (message as { cmd?: unknown } | null)?.cmd
      if (typeof cmd === 'string' && cmd.startsWith('NODE_')) continue
      child.emit('message', message)
    }
  })
  socket.on('error', () => {})
  socket.on('close', () => {
    if (!connected) return
    connected = false
    child.emit('disconnect')
  })
  const forked = child as NsForkedProcess
  Object.defineProperty(forked, 'connected', { get: () => connected, enumerable: true })
  forked.send = (message, callback) => {
    if (!connected) {
      const err = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' })
      if (callback) process.nextTick(callback, err)
      else process.nextTick(() => child.emit('error', err))
      return false
    }
    return socket.write(`${JSON.stringify(message)}\n`, (err) => callback?.(err ?? null))
  }
  forked.disconnect = () => {
    if (!connected) return
    socket.end()
    socket.destroy()
  }
  return forked
}
