// What an IPC channel carries, as Node's child_process writes it: in 'json' serialization one JSON
// text per line, in 'advanced' V8's serializer, each message after its length as a big-endian
// uint32. The reader tells where in the stream each message starts, so that a descriptor that
// came with some bytes goes to the message those bytes began (ts/spawn/ipc-fds.ts).
import type { Serializer } from 'node:v8'

import { lazyV8 } from '../builtins'
import type { Serialization } from './validate'

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

/** One message as the channel writes it, in `serialization`. */
export function encodeMessage(message: unknown, serialization: Serialization): Buffer {
  return serialization === 'advanced' ? encodeAdvanced(message) : Buffer.from(`${JSON.stringify(message)}\n`)
}

/** A message read, and the stream offset of its first byte. */
export interface Framed {
  message: unknown
  start: number
}

/**
 * Splits what the channel reads into messages, in one serialization. `push(chunk)` returns the
 * messages it completed; `parsed()` is the stream offset up to which every message was returned.
 */
export class MessageReader {
  #pending: Buffer = Buffer.alloc(0)
  /** The stream offset of `#pending`'s first byte. */
  #base = 0
  readonly #advanced: boolean

  /** A reader of `serialization`'s framing. */
  constructor(serialization: Serialization) {
    this.#advanced = serialization === 'advanced'
  }

  /** Takes the next bytes of the stream; the messages they complete, in order. */
  push(chunk: Buffer): Framed[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk])
    const out: Framed[] = []
    for (;;) {
      const p = this.#pending
      let body: Buffer
      let end: number
      if (this.#advanced) {
        if (p.length < 4 || p.length < 4 + p.readUInt32BE(0)) break
        end = 4 + p.readUInt32BE(0)
        body = p.subarray(4, end)
      } else {
        const nl = p.indexOf(10)
        if (nl < 0) break
        end = nl + 1
        body = p.subarray(0, nl)
      }
      const start = this.#base
      const message = this.#advanced ? decodeAdvanced(body) : JSON.parse(body.toString('utf8'))
      this.#pending = p.subarray(end)
      this.#base += end
      out.push({ message, start })
    }
    return out
  }

  /** The stream offset up to which every message has been returned. */
  parsed(): number {
    return this.#base
  }

  /** Whether part of a message is waiting for its end. */
  buffering(): boolean {
    return this.#pending.length > 0
  }
}

/** Node's test for a message of its own (NODE_HANDLE, NODE_HANDLE_ACK, cluster's ...). */
export function isInternal(message: unknown): message is { cmd: string } {
  const cmd = (message as { cmd?: unknown } | null)?.cmd
  return typeof message === 'object' && typeof cmd === 'string' && cmd.length > 5 && cmd.startsWith('NODE_')
}
