// IPC channels: 'ipc' in spawn()'s stdio (issue 11) as child_process has it, fork() built on it,
// and handles passed over it both ways (send, receive), with Node's NODE_HANDLE protocol.

import { createSocket, Socket as DgramSocket } from 'node:dgram'
import { once } from 'node:events'
import { chmodSync, copyFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { type AddressInfo, connect, createServer, Server, Socket } from 'node:net'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { exec, fork, type NsForkedProcess, spawn } from '../ts/index'
import { asNobody, nodeScript, procStat, tempDir } from './helpers'

/** A Node module that answers each message with what it got and where it runs; exits on disconnect. */
const ECHO = `process.on('message', (m) => process.send({ got: m, pid: process.pid, uid: process.getuid(), send: typeof process.send }))
process.on('disconnect', () => process.exit(0))`

function echoModule(dir: string): string {
  const file = join(dir, 'echo.js')
  writeFileSync(file, ECHO)
  return file
}

/** The next message of `child`. */
function nextMessage(child: NsForkedProcess): Promise<unknown> {
  return new Promise((resolve) => child.once('message', resolve))
}

/** Our socket descriptors, as `fd=socket:[inode]`. */
function socketFds(): Set<string> {
  return fdsTo('socket:')
}

/** Our pipe descriptors, as `fd=pipe:[inode]`. */
function pipeFds(): Set<string> {
  return fdsTo('pipe:')
}

/** Our descriptors whose link starts with `kind`, as `fd=link`. */
function fdsTo(kind: string): Set<string> {
  const out = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`)
      if (link.startsWith(kind)) out.add(`${fd}=${link}`)
    } catch {
      // the readdir's own descriptor, closed meanwhile
    }
  }
  return out
}

test.serial('ipc: the channel fds are closed once the child has exited and disconnected', async (t) => {
  const worker = echoModule(tempDir(t))
  const before = socketFds()
  const child = spawn(process.execPath, [worker], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }) as NsForkedProcess
  const reply = nextMessage(child)
  child.send('x')
  await reply
  const disconnected = new Promise((resolve) => child.once('disconnect', resolve))
  child.disconnect()
  await disconnected
  t.deepEqual(await child.exited, { code: 0, signal: null })
  // A child that ends the channel by exiting, not by our disconnect, leaves nothing either.
  // As in child_process, 'close' waits for the channel too.
  const sh = spawn('true', [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }) as NsForkedProcess
  const events: string[] = []
  for (const e of ['exit', 'disconnect']) sh.on(e, () => events.push(e))
  await new Promise((resolve) => sh.once('close', resolve))
  t.deepEqual(events.sort(), ['disconnect', 'exit'])
  t.false(sh.connected)
  // A spawn that fails (no such command) closes both ends too.
  const missing = spawn('/nonexistent/cmd', [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
  await t.throwsAsync(missing.exited, { code: 'ENOENT' })
  const left = () => [...socketFds()].filter((f) => !before.has(f))
  for (const end = Date.now() + 2000; left().length > 0 && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 20))
  }
  t.deepEqual(left(), [])
})

test("ipc: a Node child with 'ipc' at fd 3 or 4 talks back from user, pid namespaces", async (t) => {
  const worker = echoModule(tempDir(t))
  const stdios = [
    ['pipe', 'pipe', 'inherit', 'ipc'],
    ['ignore', 'ignore', 'inherit', 'pipe', 'ipc'],
  ] as const
  for (const stdio of stdios) {
    const child = spawn(process.execPath, [worker], {
      stdio,
      unshare: ['user', 'pid'],
      uidMap: 'root',
    }) as NsForkedProcess
    t.true(child.connected)
    t.is(child.stdio.length, stdio.length)
    t.is(child.stdio[stdio.length - 1], null, "the 'ipc' entry has no stream, as in child_process")
    const reply = nextMessage(child)
    t.true(child.send({ hello: [1, 'two'] }))
    t.deepEqual(await reply, { got: { hello: [1, 'two'] }, pid: 1, uid: 0, send: 'function' }, String(stdio))
    child.disconnect()
    t.false(child.connected)
    t.deepEqual(await child.exited, { code: 0, signal: null })
  }
  // 'ipc' as fd 0: stdin is null; a spawn without 'ipc' is not connected.
  const first = spawn(process.execPath, [worker], { stdio: ['ipc', 'ignore', 'inherit'] }) as NsForkedProcess
  t.is(first.stdin, null)
  const reply = nextMessage(first)
  first.send(7)
  t.like(await reply, { got: 7 })
  first.disconnect()
  await first.exited
  const plain = spawn('true', [])
  t.false(plain.connected)
  await plain.exited
})

test("ipc: 'advanced' serialization carries what V8's structured clone does", async (t) => {
  const worker = echoModule(tempDir(t))
  const child = spawn(process.execPath, [worker], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced',
  }) as NsForkedProcess
  const message = { big: 10n, map: new Map([[1, new Set(['a'])]]), buf: Buffer.from('hi'), date: new Date(0) }
  const reply = nextMessage(child)
  child.send(message)
  const got = (await reply) as { got: typeof message }
  t.is(got.got.big, 10n)
  t.deepEqual(got.got.map, message.map)
  t.deepEqual(Buffer.from(got.got.buf), Buffer.from('hi'))
  t.deepEqual(got.got.date, new Date(0))
  // Many messages at once, in one or several reads, each arrives whole.
  const many: unknown[] = []
  const all = new Promise<void>((resolve) =>
    child.on('message', (m) => {
      if (many.push(m) === 200) resolve()
    }),
  )
  for (let i = 0; i < 200; i++) child.send({ i, pad: 'x'.repeat(i * 50) })
  await all
  t.deepEqual(
    many.map((m) => (m as { got: { i: number } }).got.i),
    Array.from({ length: 200 }, (_, i) => i),
  )
  child.disconnect()
  await child.exited
})

test('ipc: a child that is not Node gets the descriptor and NODE_CHANNEL_FD', async (t) => {
  const child = spawn(
    'sh',
    ['-c', 'echo $NODE_CHANNEL_FD $NODE_CHANNEL_SERIALIZATION_MODE; readlink /proc/self/fd/5'],
    {
      stdio: ['ignore', 'pipe', 'inherit', 'ignore', null, 'ipc'],
      env: { PATH: process.env.PATH, NODE_CHANNEL_FD: '9' },
      serialization: 'advanced',
    },
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d
  })
  await child.exited
  await new Promise((r) => child.once('close', r))
  t.regex(out, /^5 advanced\nsocket:\[\d+\]\n$/)
})

test("ipc: two 'ipc' entries, 'ipc' for all three, bad serialization and messages", (t) => {
  t.throws(() => spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'ipc'] }), {
    code: 'ERR_IPC_ONE_PIPE',
    message: 'Child process can have only one IPC pipe',
  })
  t.throws(() => spawn('true', [], { stdio: 'ipc' as 'pipe' }), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => spawn('true', [], { stdio: ['ipc'], serialization: 'xml' as 'json' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    instanceOf: TypeError,
  })
  t.throws(() => fork('x.js', [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }), {
    code: 'ERR_CHILD_PROCESS_IPC_REQUIRED',
  })
  const child = spawn('sleep', ['5'], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }) as NsForkedProcess
  t.throws(() => child.send(undefined), { code: 'ERR_MISSING_ARGS' })
  t.throws(() => child.send(() => 1), { code: 'ERR_INVALID_ARG_TYPE' })
  child.kill('SIGKILL')
  return child.exited
})

test('ipc: exec() takes no stdio, so no channel, and says so in its environment', async (t) => {
  const r = await exec('sh', ['-c', 'echo ${NODE_CHANNEL_FD-none}'], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  } as never)
  t.is(String(r.stdout), 'none\n')
})

/** A Node module that does with each handle it gets what the message says, and reports it. */
const HANDLES = `const net = require('net'), dgram = require('dgram')
const kinds = []
let held
process.on('message', (m, h) => {
  const kind = h instanceof net.Server ? 'server' : h instanceof net.Socket ? 'socket' : h instanceof dgram.Socket ? 'dgram' : typeof h
  if (m.do === 'accept') {
    h.on('connection', (c) => c.on('error', () => {}).end('child ' + process.pid))
    // Its own connect to that port, from its own net namespace.
    net.connect(h.address().port, '127.0.0.1')
      .on('connect', function () { this.destroy(); process.send({ accepting: kind, own: 'connected' }) })
      .on('error', (e) => process.send({ accepting: kind, own: e.code }))
  } else if (m.do === 'read') {
    h.on('error', () => {}).once('data', (d) => process.send({ read: String(d), kind }))
    h.write('child writes')
  } else if (m.do === 'echo-dgram') {
    h.once('message', (d, from) => h.send('child got ' + d, from.port, from.address, () => process.send({ dgram: String(d), kind })))
    process.send({ bound: h.address().port })
  } else if (m.do === 'record') {
    kinds.push(m.i + ':' + kind)
    if (h) h.close ? h.close() : h.destroy()
  } else if (m.do === 'hold') {
    held = h
    process.send({ holding: kind })
  } else if (m.do === 'drop') {
    held.destroy()
  } else if (m.do === 'count-back') {
    const srv = net.createServer((c) => {
      process.send({ accepted: true }, c, () => srv.getConnections((e, n) => process.send({ count: e ? e.code : n })))
    }).listen(0, '127.0.0.1', () => net.connect(srv.address().port, '127.0.0.1').on('error', () => {}))
  } else if (m.do === 'report') {
    process.send({ kinds })
  } else if (m.do === 'send-back') {
    const srv = net.createServer((c) => c.end('from the child server')).listen(0, '127.0.0.1', () => {
      process.send({ server: srv.address().port }, srv, () => srv.close())
    })
    const udp = dgram.createSocket('udp4').bind(0, '127.0.0.1', () => {
      process.send({ dgram: udp.address().port }, udp, () => udp.close())
    })
    const peer = net.createServer((c) => c.once('data', (d) => process.send({ peerRead: String(d) }))).listen(0, '127.0.0.1', () => {
      const s = net.connect(peer.address().port, '127.0.0.1', () => process.send({ socket: true }, s))
    })
  }
})
process.on('disconnect', () => process.exit(0))`

function handlesModule(dir: string): string {
  const file = join(dir, 'handles.js')
  writeFileSync(file, HANDLES)
  return file
}

/** How many of our descriptors are socket `link` (`socket:[inode]`). */
function linksTo(link: string): number {
  return [...socketFds()].filter((f) => f.endsWith(`=${link}`)).length
}

/** The `socket:[inode]` of a net.Server's or net.Socket's descriptor here. */
function socketLink(h: object): string {
  return readlinkSync(`/proc/self/fd/${(h as { _handle: { fd: number } })._handle.fd}`)
}

/** The next message of `child` that has `key`, with its handle. */
function messageWith(child: NsForkedProcess, key: string): Promise<[Record<string, unknown>, unknown]> {
  return new Promise((resolve) => {
    const on = (m: unknown, h: unknown) => {
      if (m && typeof m === 'object' && key in m) {
        child.off('message', on)
        resolve([m as Record<string, unknown>, h])
      }
    }
    child.on('message', on)
  })
}

/** A connected TCP pair on 127.0.0.1: [the server's side, the client], closed at teardown. */
async function tcpPair(t: ExecutionContext): Promise<[Socket, Socket]> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  const [ours] = (await accepted) as [Socket]
  server.close()
  t.teardown(() => {
    client.destroy()
    ours.destroy()
  })
  return [ours, client]
}

test('ipc send: a server and a socket reach a forked child, in and out of namespaces', async (t) => {
  const worker = handlesModule(tempDir(t))
  const boxes = [{}, { unshare: ['user', 'pid', 'net'], uidMap: 'root' }] as const
  for (const box of boxes) {
    const inBox = 'unshare' in box
    const child = fork(worker, [], { ...box, serialization: inBox ? 'advanced' : 'json' })
    // Ours may accept the child's own connection (one socket, two descriptors): it hangs up.
    const server = createServer((c) => c.destroy()).listen(0, '127.0.0.1')
    await once(server, 'listening')
    const accepting = messageWith(child, 'accepting')
    t.true(child.send({ do: 'accept' }, server))
    const [report] = await accepting
    t.is(report.accepting, 'server')
    // A socket stays in the net namespace it was made in: the child's own loopback is another.
    if (inBox) t.not(report.own, 'connected')
    else t.is(report.own, 'connected')
    // The parent keeps its copy of a server (as Node); closed, only the child's listens.
    const { port } = server.address() as AddressInfo
    server.close()
    const client = connect(port, '127.0.0.1')
    const [greeting] = await once(client, 'data')
    t.is(String(greeting), `child ${inBox ? 1 : child.pid}`)
    // A socket: the child reads what the test writes on its peer, and writes back.
    const [ours, peer] = await tcpPair(t)
    const link = socketLink(ours)
    const read = messageWith(child, 'read')
    child.send({ do: 'read' }, ours)
    t.is((ours as unknown as { _handle: unknown })._handle, null, 'detached here at once, as Node')
    const [back] = await once(peer, 'data')
    t.is(String(back), 'child writes')
    peer.write('test writes')
    t.deepEqual((await read)[0], { read: 'test writes', kind: 'socket' })
    t.is(linksTo(link), 0, 'our copy is closed once the child acknowledged it')
    child.disconnect()
    t.deepEqual(await child.exited, { code: 0, signal: null })
  }
})

test('ipc send: a dgram socket, several handles in a row, keepOpen', async (t) => {
  const child = fork(handlesModule(tempDir(t)), [], { unshare: ['user', 'pid'], uidMap: 'root' })
  const udp = createSocket('udp4').bind(0, '127.0.0.1')
  await once(udp, 'listening')
  const bound = messageWith(child, 'bound')
  child.send({ do: 'echo-dgram' }, udp)
  await bound
  const { port } = udp.address()
  udp.close()
  const probe = createSocket('udp4')
  t.teardown(() => probe.close())
  const answer = once(probe, 'message')
  probe.send('ping', port, '127.0.0.1')
  t.is(String((await answer)[0]), 'child got ping')
  // Handles and plain messages in a row: each send after a handle waits for its acknowledgement,
  // and all arrive in the order sent.
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const [a] = await tcpPair(t)
  const done: number[] = []
  const returns = [
    child.send({ do: 'record', i: 0 }, server, () => done.push(0)),
    child.send({ do: 'record', i: 1 }, () => done.push(1)),
    child.send({ do: 'record', i: 2 }, a, () => done.push(2)),
    child.send({ do: 'record', i: 3 }, server, { keepOpen: true }, () => done.push(3)),
  ]
  t.deepEqual(returns, [true, true, false, false], "Node's: true while the queue holds one")
  const report = messageWith(child, 'kinds')
  child.send({ do: 'report' })
  t.deepEqual((await report)[0], { kinds: ['0:server', '1:undefined', '2:socket', '3:server'] })
  t.deepEqual(done, [0, 1, 2, 3])
  t.true(server.listening, 'a server sent stays ours too')
  // keepOpen: a socket sent with it stays ours, attached and open (both ends read it now, so
  // only writes are checked: the child's, then ours).
  const [kept, keptPeer] = await tcpPair(t)
  child.send({ do: 'read' }, kept, { keepOpen: true })
  t.is(String((await once(keptPeer, 'data'))[0]), 'child writes')
  t.not((kept as unknown as { _handle: unknown })._handle, null)
  kept.write('still ours')
  t.is(String((await once(keptPeer, 'data'))[0]), 'still ours')
  server.close()
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
})

test('ipc send: a server counts the sockets it accepted that the child holds (key)', async (t) => {
  const child = fork(handlesModule(tempDir(t)), [])
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection')
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1')
  t.teardown(() => client.destroy())
  const [socket] = (await accepted) as [Socket]
  const holding = messageWith(child, 'holding')
  child.send({ do: 'hold' }, socket)
  await holding
  // The server asks the child (NODE_SOCKET_GET_COUNT), as Node's does.
  const count = await new Promise((resolve, reject) => server.getConnections((e, n) => (e ? reject(e) : resolve(n))))
  t.is(count, 1, "the child's")
  let closed = false
  const closing = new Promise<void>((resolve) =>
    server.close(() => {
      closed = true
      resolve()
    }),
  )
  await new Promise((r) => setTimeout(r, 200))
  t.false(closed, 'close() waits for the child to close the socket (NODE_SOCKET_ALL_CLOSED)')
  child.send({ do: 'drop' })
  await closing
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
})

test('ipc send: a bad handle, options or message throws as Node; nothing is written', async (t) => {
  const child = fork(handlesModule(tempDir(t)), [])
  t.throws(() => child.send({ do: 'x' }, {} as never), {
    code: 'ERR_INVALID_HANDLE_TYPE',
    message: 'This handle type cannot be sent',
    instanceOf: TypeError,
  })
  t.throws(() => child.send({ do: 'x' }, 5 as never), { code: 'ERR_INVALID_HANDLE_TYPE' })
  const server = createServer()
  t.throws(() => child.send({ do: 'x' }, server, 'keep' as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => child.send(undefined, server), { code: 'ERR_MISSING_ARGS' })
  // A server that does not listen has no descriptor: the message goes alone, as in Node.
  const recorded = messageWith(child, 'kinds')
  child.send({ do: 'record', i: 0 }, server)
  child.send({ do: 'report' })
  t.deepEqual((await recorded)[0], { kinds: ['0:undefined'] })
  t.true(child.connected)
  child.disconnect()
  t.throws(() => child.disconnect(), { code: 'ERR_IPC_DISCONNECTED' })
  const closed = await new Promise<Error | null>((resolve) => child.send('late', server, resolve))
  t.like(closed, { code: 'ERR_IPC_CHANNEL_CLOSED' })
  await child.exited
})

test('ipc: NODE_HANDLE_NACK both ways: a socket is sent 3 times more, then given up', async (t) => {
  // A Python child that refuses every handle, then sends one without its descriptor.
  const py = `import os, socket, json
s = socket.socket(fileno=int(os.environ['NODE_CHANNEL_FD']))
buf, seen = b'', []
while True:
    while b'\\n' not in buf:
        data = s.recv(65536)
        if not data:
            raise SystemExit(0)
        buf += data
    line, buf = buf.split(b'\\n', 1)
    m = json.loads(line)
    seen.append(m['cmd'] if isinstance(m, dict) else m)
    if seen[-1] == 'NODE_HANDLE':
        s.sendall(b'{"cmd":"NODE_HANDLE_NACK"}\\n')
    elif m == 'report':
        s.sendall(b'{"cmd":"NODE_HANDLE","type":"net.Socket","msg":"no fd"}\\n')
    elif seen[-1] == 'NODE_HANDLE_NACK':
        s.sendall((json.dumps({'seen': seen}) + '\\n').encode())`
  const child = spawn('python3', ['-c', py], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }) as NsForkedProcess
  const [sock] = await tcpPair(t)
  const link = socketLink(sock)
  const warned = new Promise<Error>((resolve) => {
    const on = (w: Error) => {
      if (w.name !== 'SentHandleNotReceivedWarning') return
      process.off('warning', on)
      resolve(w)
    }
    process.on('warning', on)
  })
  const seen = messageWith(child, 'seen')
  child.send('socket', sock)
  child.send('report')
  t.is((await warned).message, 'Handle did not reach the receiving process correctly')
  t.is(linksTo(link), 0, 'given up: our copy is closed')
  t.deepEqual((await seen)[0], {
    seen: ['NODE_HANDLE', 'NODE_HANDLE', 'NODE_HANDLE', 'NODE_HANDLE', 'report', 'NODE_HANDLE_NACK'],
  })
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
})

test('ipc receive: a server, a socket and a dgram socket from the child', async (t) => {
  const child = fork(handlesModule(tempDir(t)), [], { unshare: ['user', 'pid'], uidMap: 'root' })
  const server = messageWith(child, 'server')
  const udp = messageWith(child, 'dgram')
  const socket = messageWith(child, 'socket')
  const peerRead = messageWith(child, 'peerRead')
  child.send({ do: 'send-back' })
  const [m, srv] = await server
  t.true(srv instanceof Server)
  const s = srv as Server
  t.true(s.listening)
  t.is((s.address() as AddressInfo).port, m.server as number)
  s.on('connection', (c) => c.end('from the parent'))
  // The child closed its copy once sent: the parent's accepts.
  const client = connect(m.server as number, '127.0.0.1')
  t.is(String((await once(client, 'data'))[0]), 'from the parent')
  s.close()
  const [d, u] = await udp
  t.true(u instanceof DgramSocket)
  const probe = createSocket('udp4')
  t.teardown(() => probe.close())
  const got = once(u as DgramSocket, 'message')
  probe.send('to the parent', d.dgram as number, '127.0.0.1')
  t.is(String((await got)[0]), 'to the parent')
  ;(u as DgramSocket).close()
  const [, sock] = await socket
  t.true(sock instanceof Socket)
  ;(sock as Socket).end('parent writes')
  t.deepEqual((await peerRead)[0], { peerRead: 'parent writes' })
  // A socket the child's server accepted: we count it for that server, which asks us.
  const accepted = messageWith(child, 'accepted')
  const count = messageWith(child, 'count')
  child.send({ do: 'count-back' })
  const [, held] = await accepted
  t.true(held instanceof Socket)
  t.deepEqual((await count)[0], { count: 1 })
  ;(held as Socket).destroy()
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
})

test.serial('ipc: a child that exits with handles in flight leaks no descriptor', async (t) => {
  // Ours to a child that never reads them (not Node): closed once the channel is.
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const [sock] = await tcpPair(t)
  const [serverLink, sockLink] = [socketLink(server), socketLink(sock)]
  const sh = spawn('sh', ['-c', 'read -r x <&3'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }) as NsForkedProcess
  sh.send('one', sock)
  t.is(linksTo(sockLink), 1, 'held until acknowledged')
  // Waits for the first handle's acknowledgement, which never comes: never sent, still ours.
  sh.send('two', server)
  await new Promise((resolve) => sh.once('close', resolve))
  t.is(linksTo(sockLink), 0)
  t.is(linksTo(serverLink), 1, 'the server itself')
  t.true(server.listening)
  // The child's: a handle sent as it exits is built and closed again, or delivered; and a
  // descriptor that comes without a NODE_HANDLE message is closed (a Python child sends one).
  const dir = tempDir(t)
  const exiting = join(dir, 'exiting.js')
  writeFileSync(
    exiting,
    `const srv = require('net').createServer().listen(0, '127.0.0.1', () => {
       process.send({ link: require('fs').readlinkSync('/proc/self/fd/' + srv._handle.fd) })
       process.send('bye', srv)
       process.exit(0)
     })`,
  )
  const child = fork(exiting, [])
  const handles: unknown[] = []
  child.on('message', (_m, h) => handles.push(h))
  const [{ link }] = await messageWith(child, 'link')
  await new Promise((resolve) => child.once('close', resolve))
  for (const h of handles) (h as Server | undefined)?.close()
  const py = `import os, socket
s = socket.socket(fileno=int(os.environ['NODE_CHANNEL_FD']))
r, w = os.pipe()
socket.send_fds(s, [('{"pipe":%d}\\n' % os.fstat(r).st_ino).encode()], [r])
s.recv(1)`
  const stray = spawn('python3', ['-c', py], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }) as NsForkedProcess
  const [{ pipe }] = await messageWith(stray, 'pipe')
  stray.disconnect()
  await stray.exited
  const left = () =>
    [...socketFds(), ...pipeFds()].filter((f) => f.endsWith(`=${link}`) || f.endsWith(`=pipe:[${pipe}]`))
  for (const end = Date.now() + 2000; left().length > 0 && Date.now() < end; )
    await new Promise((r) => setTimeout(r, 20))
  t.deepEqual(left(), [])
})

test('ipc: a listening server handed over in stdio accepts in a new pid namespace', async (t) => {
  const dir = tempDir(t)
  const worker = join(dir, 'accept.js')
  writeFileSync(
    worker,
    `require('net').createServer((c) => { process.send({ accepted: true, pid: process.pid }); c.end('hi') })
       .listen({ fd: 4 }, () => process.send('listening'))
     process.on('disconnect', () => process.exit(0))`,
  )
  const server = createServer(() => t.fail('the parent accepted')).listen(0, '127.0.0.1')
  await once(server, 'listening')
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const child = fork(worker, [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc', fd],
    unshare: ['user', 'pid'],
    uidMap: 'root',
  })
  t.is(await nextMessage(child), 'listening')
  const { port } = server.address() as AddressInfo
  // Ours closed: only the child's copy listens now.
  server.close()
  const accepted = nextMessage(child)
  const client = connect(port, '127.0.0.1')
  const [reply] = await once(client, 'data')
  t.is(String(reply), 'hi')
  t.deepEqual(await accepted, { accepted: true, pid: 1 })
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
})

test("ipc: as uid 65534, a child in a new user namespace talks over 'ipc'", (t) => {
  // The child is sh speaking the 'json' framing itself (a line each way), so that the test does
  // not depend on uid 65534 being able to execute our Node binary from inside its namespace.
  const script = 'read -r m <&4; echo "{\\"got\\":$m,\\"uid\\":$(id -u),\\"fd\\":$NODE_CHANNEL_FD}" >&4'
  const out = asNobody(`
    const child = nsjs.spawn('sh', ['-c', ${JSON.stringify(script)}], {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'ipc'], unshare: ['user', 'pid'], uidMap: 'root',
    })
    child.once('message', (m) => child.exited.then((s) => console.log(JSON.stringify({ m, s, me: process.getuid() }))))
    child.send({ from: 'nobody' })`)
  t.deepEqual(out, { m: { got: { from: 'nobody' }, uid: 0, fd: 4 }, s: { code: 0, signal: null }, me: 65534 })
})

test('ipc: as uid 65534, a server passes to a child in its own user namespace', (t) => {
  // A copy of our Node where 65534 may run it: test:all keeps other Node lines under /root.
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const node = join(dir, 'node')
  copyFileSync(process.execPath, node)
  chmodSync(node, 0o755)
  const file = join(dir, 'accept.js')
  writeFileSync(
    file,
    `process.on('message', (m, srv) => { srv.on('connection', (c) => c.end(process.pid + ' ' + process.getuid())); process.send('accepting') })
     process.on('disconnect', () => process.exit(0))`,
  )
  chmodSync(file, 0o644)
  const out = asNobody(`
    const net = require('net')
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      const child = nsjs.fork(${JSON.stringify(file)}, [], {
        execPath: ${JSON.stringify(node)}, execArgv: [], unshare: ['user', 'pid'], uidMap: 'root',
      })
      child.once('message', () => {
        server.close()
        net.connect(port, '127.0.0.1').once('data', (d) => {
          child.disconnect()
          child.exited.then((s) => console.log(JSON.stringify({ d: String(d), s, me: process.getuid() })))
        })
      })
      child.send('take', server)
    })`)
  t.deepEqual(out, { d: '1 0', s: { code: 0, signal: null }, me: 65534 })
})

test('ipc: on a worker thread handles pass too; ending the worker ends the channel', async (t) => {
  const accept = join(tempDir(t), 'accept.js')
  writeFileSync(
    accept,
    `process.on('message', (m, srv) => { srv.on('connection', (c) => c.end('child')); process.send('accepting') })
     process.on('disconnect', () => process.exit(7))`,
  )
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads')
    const net = require('node:net')
    const { fork } = require(${JSON.stringify(require.resolve('../ts/index'))})
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      const child = fork(${JSON.stringify(accept)}, [], { execArgv: [] })
      child.once('message', () => {
        srv.close()
        parentPort.postMessage({ port, pid: child.pid })
      })
      child.send('take', srv)
    })`,
    { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] },
  )
  const { port, pid } = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  const [greeting] = await once(connect(port, '127.0.0.1'), 'data')
  t.is(String(greeting), 'child')
  // The worker's env goes with its channel still open: the child is told (it exits at once).
  await w.terminate()
  const gone = () => procStat(pid) === undefined || procStat(pid)?.state === 'Z'
  for (const end = Date.now() + 5000; !gone() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20))
  t.true(gone())
})

test('ipc: messages wait for a listener; channel.unref() lets us exit first', async (t) => {
  const dir = tempDir(t)
  const early = join(dir, 'early.js')
  writeFileSync(early, `process.send('early'); process.on('disconnect', () => process.exit(0))`)
  const child = fork(early, [])
  await new Promise((r) => setTimeout(r, 300))
  t.is(await nextMessage(child), 'early', 'held until a listener came')
  t.is(typeof child.channel?.fd, 'number')
  child.disconnect()
  await child.exited
  t.is(child.channel, null)
  // A parent that unrefs its child and the channel exits while the child runs; the child then
  // sees the channel close (it exits on 'disconnect').
  const out = nodeScript(`
    const child = nsjs.fork(${JSON.stringify(early)}, [], { stdio: 'ignore', execArgv: [] })
    child.once('message', () => {
      child.unref()
      child.channel.unref()
      console.log(JSON.stringify({ pid: child.pid }))
    })`) as { pid: number }
  const gone = () => procStat(out.pid) === undefined || procStat(out.pid)?.state === 'Z'
  for (const end = Date.now() + 5000; !gone() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20))
  t.true(gone())
})
