// The socket functions as methods of Namespace (A.listen, A.connect, ...) and Namespace.ofSocket /
// fromSocket. They are added to the class here, where both Namespace and ts/net are visible:
// ts/net needs Namespace, so ts/namespace.ts must not import it.
import type * as dgram from 'node:dgram'
import type * as http from 'node:http'
import type * as net from 'node:net'
import type { Worker, WorkerOptions } from 'node:worker_threads'
import { Namespace } from '../namespace'
import { validateFd } from '../validate'
import { connect } from './connect'
import { createSocket } from './dgram'
import { agent, dispatcher, type NsAgentOptions, type NsDispatcherOptions } from './http'
import { type ListenAddress, listen, type NsListenOptions } from './listen'
import { type LookupCallback, type LookupOptions, lookup } from './lookup'
import { namespaceOfSocket, netnsidOf, type SocketDomain, type SocketType, socketIn } from './socket'
import { worker } from './worker'

declare module '../namespace' {
  interface Namespace {
    /**
     * socket(2) inside this net namespace: a close-on-exec, non-blocking descriptor that the
     * caller owns (close it with fs.closeSync, or hand it to a library). `domain`: 'inet',
     * 'inet6', 'unix', 'netlink', 'packet' or an AF_* number; `type`: 'stream', 'dgram', 'raw',
     * 'seqpacket' or a SOCK_* number. Made within the one native call: the calling thread is
     * back where it was before any JS runs (or a short-lived native thread makes it, where the
     * way back is not certain). ERR_NS_TYPE_MISMATCH for a handle of another type.
     */
    socket(domain: SocketDomain, type: SocketType, protocol?: number): number
    /**
     * Makes `server` (any net.Server: http, https, net, tls) listen on a socket made and bound
     * inside this net namespace, which the server adopts as with `server.listen({ fd })`.
     * Resolves with what `server.address()` gives; rejects with Node's error shape (EADDRINUSE,
     * EADDRNOTAVAIL, ...), the namespace named in the message. A host name is resolved inside.
     */
    listen(server: net.Server, options?: NsListenOptions): Promise<ListenAddress>
    /**
     * A net.Socket connected from inside this net namespace, with net.connect's arguments and
     * options (TCP, unix `path`, abstract `\0name`). A host name resolves inside ({@link lookup}),
     * to IPv4 unless `family: 6`. Throws ERR_FEATURE_UNAVAILABLE_ON_PLATFORM under Bun and Deno,
     * whose net.Socket would connect a socket of its own, outside.
     */
    connect(options: net.NetConnectOpts, connectListener?: () => void): net.Socket
    /** A TCP connection to `host:port` made from inside this net namespace; see above. */
    connect(port: number, host?: string, connectListener?: () => void): net.Socket
    /** A unix socket connection to `path` made from inside this net namespace; see above. */
    connect(path: string, connectListener?: () => void): net.Socket
    /** A dgram.Socket whose socket is made inside this net namespace when it is bound. */
    createSocket(
      type: dgram.SocketType | dgram.SocketOptions,
      callback?: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
    ): dgram.Socket
    /** An http.Agent (https.Agent with `https: true`) connecting from inside; keep-alive on. */
    agent(options?: NsAgentOptions): http.Agent
    /** An undici Agent for `fetch(url, { dispatcher })`, connecting from inside. */
    dispatcher(options?: NsDispatcherOptions): import('undici').Agent
    /**
     * dns.lookup inside this net namespace (getaddrinfo on a native thread there, never on the
     * libuv pool), with /etc/netns/<name>/{hosts,resolv.conf,...} for a namespace persisted as
     * /run/netns/<name>, as `ip netns exec` shows them; the host's files otherwise.
     */
    lookup(hostname: string, callback: LookupCallback): void
    /** dns.lookup inside this net namespace with dns.lookup's options (or a family); see above. */
    lookup(hostname: string, options: LookupOptions | number, callback: LookupCallback): void
    /**
     * A worker_threads.Worker whose thread is created inside this namespace (and `options.join`'s
     * handles): net, uts, ipc, cgroup. See the README on what is then inside.
     */
    worker(filename: string | URL, options?: WorkerOptions & { join?: Namespace[] }): Worker
    /**
     * The id the calling thread's net namespace knows this net namespace by (RTM_GETNSID: lsns's
     * NETNSID, `ip netns list-id`, the `link-netnsid` of `ip link`), or null when it has assigned
     * none, as for most namespaces and always for its own. Ids are assigned when something needs
     * one (a veth whose peer is there, `ip netns set`). ERR_NS_TYPE_MISMATCH for another type.
     */
    netnsid(): number | null
  }
  namespace Namespace {
    /**
     * The net namespace a socket is in (SIOCGSKNS, Linux 4.9): a net.Socket, net.Server,
     * dgram.Socket or a socket descriptor; a new handle.
     */
    function ofSocket(socket: net.Socket | net.Server | dgram.Socket | number): Namespace
    /** The net namespace of socket descriptor `fd`, as nsenter --net-socket=fd takes it. */
    function fromSocket(fd: number): Namespace
  }
}

const methods: Record<string, (...args: never[]) => unknown> = {
  socket(this: Namespace, domain: SocketDomain, type: SocketType, protocol?: number) {
    return socketIn(this, domain, type, protocol)
  },
  listen,
  connect,
  createSocket,
  agent,
  dispatcher,
  lookup,
  worker,
  netnsid(this: Namespace) {
    return netnsidOf(this)
  },
}

// As methods written in the class body are: not enumerable.
for (const [name, value] of Object.entries(methods)) {
  Object.defineProperty(Namespace.prototype, name, { value, writable: true, configurable: true })
}
Object.defineProperties(Namespace, {
  ofSocket: { value: (socket: unknown) => namespaceOfSocket(socket), writable: true, configurable: true },
  fromSocket: { value: (fd: unknown) => namespaceOfSocket(validateFd(fd)), writable: true, configurable: true },
})
