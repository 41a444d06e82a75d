// Sockets that a net.Server accepted, passed over an IPC channel, as Node counts them across
// processes: the NODE_HANDLE message names the server (`key`, its `_connectionKey`); the sender's
// server then asks the receiver, through the channel, how many it still has open
// (NODE_SOCKET_GET_COUNT / NODE_SOCKET_COUNT, for `getConnections()`) and waits for them all to
// close (NODE_SOCKET_NOTIFY_CLOSE / NODE_SOCKET_ALL_CLOSED, for `close()`), as Node's
// lib/internal/socket_list.js does between a parent and a child.
import { EventEmitter } from 'node:events'

import type { NsChildProcess } from './child'

/** What a socket list needs of its channel. */
export interface ListChannel {
  readonly child: NsChildProcess
  /** Whether the channel is open. */
  connected(): boolean
  /** Writes one of Node's own messages (never queued behind a handle, never an 'error'). */
  sendInternal(message: object, swallowErrors: boolean): void
}

/** A message of this protocol. */
type ListMessage = { cmd: string; key: string; count?: number }

/** The sender's side, which a net.Server takes as one of its "workers" (`_setupWorker`). */
class SocketListSend extends EventEmitter {
  readonly #channel: ListChannel
  readonly key: string

  constructor(channel: ListChannel, key: string) {
    super()
    this.#channel = channel
    this.key = key
    channel.child.once('exit', () => this.emit('exit', this))
  }

  #request(cmd: string, reply: string, swallowErrors: boolean, callback: (err: Error | null, m?: ListMessage) => void) {
    const child = this.#channel.child
    const onClose = () => {
      child.off('internalMessage', onReply)
      callback(
        Object.assign(new Error('Child closed before reply received'), { code: 'ERR_CHILD_CLOSED_BEFORE_REPLY' }),
      )
    }
    const onReply = (m: ListMessage) => {
      if (m.cmd !== reply || m.key !== this.key) return
      child.off('disconnect', onClose)
      child.off('internalMessage', onReply)
      callback(null, m)
    }
    if (!this.#channel.connected()) return onClose()
    this.#channel.sendInternal({ cmd, key: this.key }, swallowErrors)
    child.once('disconnect', onClose)
    child.on('internalMessage', onReply)
  }

  /** Calls back once every socket the child got from this server has closed. */
  close(callback: (err: Error | null) => void): void {
    this.#request('NODE_SOCKET_NOTIFY_CLOSE', 'NODE_SOCKET_ALL_CLOSED', true, callback)
  }

  /** Calls back with how many of those sockets the child has open. */
  getConnections(callback: (err: Error | null, count?: number) => void): void {
    this.#request('NODE_SOCKET_GET_COUNT', 'NODE_SOCKET_COUNT', false, (err, m) => callback(err, m?.count))
  }
}

/** The receiver's side: counts the sockets it got from one server and answers for them. */
class SocketListReceive extends EventEmitter {
  connections = 0

  constructor(channel: ListChannel, key: string) {
    super()
    const onEmpty = () => {
      if (channel.connected()) channel.sendInternal({ cmd: 'NODE_SOCKET_ALL_CLOSED', key }, true)
    }
    channel.child.on('internalMessage', (m: ListMessage) => {
      if (m.key !== key) return
      if (m.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
        if (this.connections === 0) onEmpty()
        else this.once('empty', onEmpty)
      } else if (m.cmd === 'NODE_SOCKET_GET_COUNT' && channel.connected()) {
        channel.sendInternal({ cmd: 'NODE_SOCKET_COUNT', key, count: this.connections }, false)
      }
    })
  }

  add(socket: EventEmitter): void {
    this.connections++
    socket.once('close', () => {
      if (--this.connections === 0) this.emit('empty', this)
    })
  }
}

type TrackedServer = { _connectionKey?: string; _setupWorker?(list: SocketListSend): void }

/** One channel's socket lists, by server key, as Node's `channel.sockets`. */
export class SocketLists {
  readonly #channel: ListChannel
  readonly #send = new Map<string, SocketListSend>()
  readonly #got = new Map<string, SocketListReceive>()

  /** The lists of `channel`. */
  constructor(channel: ListChannel) {
    this.#channel = channel
  }

  /**
   * A socket of `server` is being sent: the key its NODE_HANDLE message carries (undefined
   * where the server has none); the first time, the server starts asking the child about them.
   */
  sending(server: TrackedServer): string | undefined {
    const key = server._connectionKey
    if (typeof key !== 'string') return undefined
    if (!this.#send.has(key)) {
      const list = new SocketListSend(this.#channel, key)
      this.#send.set(key, list)
      server._setupWorker?.(list)
    }
    return key
  }

  /** A socket arrived with `key`: counted until it closes. */
  got(key: string, socket: EventEmitter): void {
    let list = this.#got.get(key)
    if (!list) {
      list = new SocketListReceive(this.#channel, key)
      this.#got.set(key, list)
    }
    list.add(socket)
  }
}
