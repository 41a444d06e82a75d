// The parent's side of a Node IPC channel ('ipc' in spawn()'s stdio, fork()): a Unix socket pair
// whose child end the child finds through NODE_CHANNEL_FD, so a Node child's process.send() and
// 'message' are Node's own. Written here on a net.Socket in either of Node's serializations:
// 'json' (one JSON text per line) or 'advanced' (V8's serializer, each message after its length
// as a big-endian uint32). Handles are not passed: a Socket neither sends nor receives descriptors.
import type { Serializer } from 'node:v8'

import { lazyNet, lazyV8 } from '../builtins'
import { invalidArgType } from '../validate'
import type { NsChildProcess } from './child'
import type { Serialization } from './validate'

/** What a channel's `send()` takes after the message: a callback, or Node's handle and options. */
type SendRest = [callback?: (err: Error | null) => void] | [handle: unknown, options?: unknown, callback?: unknown]

/** A child with an IPC channel: what {@link withChannel} adds to an NsChildProcess. */
export interface ChannelMethods {
  /** See NsForkedProcess#send. */
  send(message: unknown, ...rest: SendRest): boolean
  /** Closes the channel. */
  disconnect(): void
  /** Whether the channel is open. */
  readonly connected: boolean
}

/** The tag of Node's 'advanced' serializer before a host object: a Buffer or typed array view. */
const VIEW_TAG = 0
/** ... before any other host object (a native one), written as its plain copy, as JSON would. */
const PLAIN_TAG = 1

/** Encodes one message as Node's 'advanced' channel does: length, then V8's serialization. */
function encodeAdvanced(message: unknown): Buffer {
  const { DefaultSerializer } = lazyV8()
  const ser = new DefaultSerializer()
  const writeHost = (ser as unknown as { _writeHostObject(o: object): void })._writeHostObject.bind(ser)
  ;(ser as unknown as { _writeHostObject(o: object): void })._writeHostObject = function (this: Serializer, o) {
    if (ArrayBuffer.isView(o)) {
      this.writeUint32(VIEW_TAG)
      return writeHost(o)
    }
    this.writeUint32(PLAIN_TAG)
    this.writeValue({ ...o })
  }
  ser.writeHeader()
  ser.writeValue(message)
  const body = ser.releaseBuffer()
  const length = Buffer.allocUnsafe(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

/** Decodes one 'advanced' message body (without its length). */
function decodeAdvanced(body: Buffer): unknown {
  const { DefaultDeserializer } = lazyV8()
  const des = new DefaultDeserializer(body)
  const readHost = (des as unknown as { _readHostObject(): unknown })._readHostObject.bind(des)
  ;(des as unknown as { _readHostObject(): unknown })._readHostObject = () =>
    des.readUint32() === VIEW_TAG ? readHost() : des.readValue()
  des.readHeader()
  return des.readValue()
}

/** Splits what the channel reads into messages, in one serialization. */
function reader(serialization: Serialization): (chunk: Buffer) => unknown[] {
  let pending: Buffer = Buffer.alloc(0)
  if (serialization === 'advanced') {
    return (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      const out: unknown[] = []
      while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
        const end = 4 + pending.readUInt32BE(0)
        out.push(decodeAdvanced(pending.subarray(4, end)))
        pending = pending.subarray(end)
      }
      return out
    }
  }
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    const out: unknown[] = []
    for (let nl = pending.indexOf(10); nl >= 0; nl = pending.indexOf(10)) {
      out.push(JSON.parse(pending.toString('utf8', 0, nl)))
      pending = pending.subarray(nl + 1)
    }
    return out
  }
}

/** Node's error for a message its channel cannot carry. */
function checkMessage(message: unknown): void {
  if (message === undefined) {
    const err = new TypeError('The "message" argument must be specified') as TypeError & { code: string }
    err.code = 'ERR_MISSING_ARGS'
    throw err
  }
  const t = typeof message
  if (t !== 'string' && t !== 'object' && t !== 'number' && t !== 'boolean') {
    throw invalidArgType('message', 'one of type string, object, number, or boolean', message)
  }
}

/**
 * Gives `child` the parent's side of a channel on our descriptor `fd` (which it then owns):
 * `send()`, `'message'`, `disconnect()`, `connected`, `'disconnect'` as child_process has them.
 */
export function withChannel<T extends NsChildProcess>(
  child: T,
  fd: number,
  serialization: Serialization,
): T & ChannelMethods {
  const socket = new (lazyNet().Socket)({ fd, readable: true, writable: true })
  let connected = true
  const read = reader(serialization)
  const encode = (message: unknown) =>
    serialization === 'advanced' ? encodeAdvanced(message) : `${JSON.stringify(message)}\n`
  socket.on('data', (chunk: Buffer) => {
    for (const message of read(chunk)) {
      // Node's own traffic on the channel (handles, acknowledgements) is not the user's. A handle
      // the child sends never arrives (a Socket takes no descriptors): it is told so as Node's
      // receiver tells it when the descriptor was lost, with NODE_HANDLE_NACK, so it does not
      // hold its later messages for an acknowledgement (it retries, then gives the handle up
      // with a SentHandleNotReceivedWarning).
      const cmd = (message as { cmd?: unknown } | null)?.cmd
      if (cmd === 'NODE_HANDLE' && connected) socket.write(encode({ cmd: 'NODE_HANDLE_NACK' }))
      if (typeof cmd === 'string' && cmd.startsWith('NODE_')) continue
      child.emit('message', message)
    }
  })
  socket.on('error', () => {})
  let ended = false
  const release = child.holdClose()
  socket.on('close', () => {
    if (ended) return
    ended = true
    connected = false
    child.emit('disconnect')
    release()
  })
  const withIpc = child as T & ChannelMethods
  Object.defineProperty(withIpc, 'connected', { get: () => connected, enumerable: true })
  withIpc.send = (message: unknown, ...rest: unknown[]) => {
    const callback = [...rest].reverse().find((a) => typeof a === 'function') as ((e: Error | null) => void) | undefined
    const handle = typeof rest[0] === 'function' ? undefined : rest[0]
    if (handle !== undefined && handle !== null) {
      const err = new TypeError('This handle type cannot be sent: an nsjs IPC channel carries messages only')
      throw Object.assign(err, { code: 'ERR_INVALID_HANDLE_TYPE' })
    }
    checkMessage(message)
    if (!connected) {
      const err = Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' })
      if (callback) process.nextTick(callback, err)
      else process.nextTick(() => child.emit('error', err))
      return false
    }
    return socket.write(encode(message), (err) => callback?.(err ?? null))
  }
  withIpc.disconnect = () => {
    if (!connected) {
      const err = Object.assign(new Error('IPC channel is already disconnected'), { code: 'ERR_IPC_DISCONNECTED' })
      child.emit('error', err)
      return
    }
    connected = false
    socket.end()
    socket.destroy()
  }
  return withIpc
}
