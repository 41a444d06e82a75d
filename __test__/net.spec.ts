// Networking inside net namespaces from one Node process (issue 10): a lab of namespaces and a
// veth pair made by the test (persisted into the suite's private /run/netns, configured with `ip`
// through exec's join), servers, clients, UDP, HTTP with the agent, fetch with the dispatcher, an
// abstract unix socket, lookup through /etc/netns/<name>/hosts, a worker; `ss` inside each
// namespace shows each socket where it was asked for, and the host none of them.

import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import * as http from 'node:http'
import * as https from 'node:https'
import * as net from 'node:net'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'

import { exec, Namespace, type NamespaceError } from '../ts/index'
import { asNobody, CATCH_FIELDS, nsjsFds, nsLink, tempDir, threadsInNet } from './helpers'

/**
 * The fetch a dispatcher of the installed undici works with: the global one when this Node
 * bundles the same undici major (Node 26's undici 8 refuses an undici 6 Agent), else undici's own.
 */
const fetchWith: typeof fetch = (() => {
  const major = (v: string | undefined) => v?.split('.')[0]
  const installed = require('undici/package.json').version as string
  return major(process.versions.undici) === major(installed) ? fetch : (require('undici').fetch as typeof fetch)
})()

let labs = 0

interface Lab {
  A: Namespace
  B: Namespace
  nameA: string
  nameB: string
  ipA: string
  ipB: string
}

/**
 * Two net namespaces A and B joined by a veth pair (10.199.0.1 in A, 10.199.0.2 in B), persisted
 * as /run/netns/<unique name> (the suite's private /run). Removed in teardown: unpersisted and
 * closed, so the namespaces and the veth pair go with them.
 */
async function lab(t: ExecutionContext): Promise<Lab> {
  const tag = `nsjs-${process.pid}-${++labs}`
  const [nameA, nameB] = [`${tag}-a`, `${tag}-b`]
  const A = await Namespace.create('net')
  const B = await Namespace.create('net')
  t.teardown(async () => {
    for (const n of [nameA, nameB]) await Namespace.unpersist(`/run/netns/${n}`).catch(() => {})
    A.close()
    B.close()
  })
  await A.persist(`/run/netns/${nameA}`)
  await B.persist(`/run/netns/${nameB}`)
  await A.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', nameB])
  for (const [ns, dev, ip] of [
    [A, 'va', '10.199.0.1'],
    [B, 'vb', '10.199.0.2'],
  ] as const) {
    await ns.exec('ip', ['addr', 'add', `${ip}/24`, 'dev', dev])
    await ns.exec('ip', ['link', 'set', dev, 'up'])
    await ns.exec('ip', ['link', 'set', 'lo', 'up'])
  }
  return { A, B, nameA, nameB, ipA: '10.199.0.1', ipB: '10.199.0.2' }
}

/** What `ss -Hantuxp`-style listing shows inside `ns` (or on the host without one). */
async function ss(ns: Namespace | undefined, flags: string): Promise<string> {
  const r = ns ? await ns.exec('ss', [flags]) : await exec('ss', [flags])
  return r.stdout
}

/** The socket inode of descriptor `fd` ('socket:[123]'). */
function socketInode(fd: number): string {
  return readlinkSync(`/proc/self/fd/${fd}`)
}

/** Whether this process still has a descriptor on the socket `inode`. */
function inodeOpen(inode: string): boolean {
  return readdirSync('/proc/self/fd').some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === inode
    } catch {
      return false
    }
  })
}

/**
 * Closes `server` and waits until its connections are gone too, so that no socket of the test is
 * still in flight when the namespaces are let go (teardown calls it again: a no-op by then).
 */
function stop(server: net.Server): Promise<void> {
  if (server instanceof http.Server) server.closeAllConnections()
  if (!server.listening) return Promise.resolve()
  return new Promise((r) => server.close(() => r()))
}

function body(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let d = ''
    res.on('data', (c) => {
      d += c
    })
    res.on('end', () => resolve(d))
    res.on('error', reject)
  })
}

test.serial('socket() makes a descriptor inside; fromSocket and ofSocket name it', async (t) => {
  using A = await Namespace.create('net')
  const before = nsLink('thread-self', 'net')
  const fd = A.socket('inet', 'stream')
  const inode = socketInode(fd)
  using found = Namespace.fromSocket(fd)
  t.true(found.equals(A))
  t.is(nsLink('thread-self', 'net'), before)
  const netlink = A.socket('netlink', 'raw', 0)
  using ofNetlink = Namespace.ofSocket(netlink)
  t.true(ofNetlink.equals(A))
  closeSync(fd)
  closeSync(netlink)
  t.false(inodeOpen(inode))
  // No thread of ours stayed in A (the socket maker went home): only the handle holds it.
  t.deepEqual(threadsInNet(A.inode), [])
})

test.serial('socket() refuses bad input and handles of another type', async (t) => {
  using A = await Namespace.create('net')
  using uts = Namespace.current('uts')
  t.throws(() => A.socket('bogus' as 'inet', 'stream'), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => A.socket('inet', 1.5), { code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => A.connect(null as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => A.createSocket(42 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => A.lookup('localhost', { family: 5 }, () => {}), { code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => A.agent(7 as never), { code: 'ERR_INVALID_ARG_TYPE' })
  const e = t.throws(() => uts.socket('inet', 'stream')) as NamespaceError
  t.is(e.code, 'ERR_NS_TYPE_MISMATCH')
  t.throws(() => uts.connect({ port: 1 }), { code: 'ERR_NS_TYPE_MISMATCH' })
  await t.throwsAsync(() => uts.listen(net.createServer()), { code: 'ERR_NS_TYPE_MISMATCH' })
  t.throws(() => uts.createSocket('udp4'), { code: 'ERR_NS_TYPE_MISMATCH' })
  t.throws(() => uts.agent(), { code: 'ERR_NS_TYPE_MISMATCH' })
  t.throws(() => uts.dispatcher(), { code: 'ERR_NS_TYPE_MISMATCH' })
  t.throws(() => uts.lookup('localhost', () => {}), { code: 'ERR_NS_TYPE_MISMATCH' })
  t.throws(() => Namespace.fromSocket(-1), { code: 'ERR_INVALID_ARG_VALUE' })
  const file = openSync('/proc/self/stat', 'r')
  t.teardown(() => closeSync(file))
  t.throws(() => Namespace.fromSocket(file), { code: 'ENOTTY' })
  const closed = await Namespace.create('net')
  closed.close()
  t.throws(() => closed.socket('inet', 'stream'), { code: 'ERR_NS_CLOSED' })
})

test.serial('listen() reports the address and fails as Node does, naming the namespace', async (t) => {
  using A = await Namespace.create('net')
  await A.exec('ip', ['link', 'set', 'lo', 'up'])
  const one = net.createServer()
  t.teardown(() => stop(one))
  const addr = (await A.listen(one, { port: 0, host: '127.0.0.1' })) as net.AddressInfo
  t.is(addr.address, '127.0.0.1')
  t.true(addr.port > 0)
  const taken = await t.throwsAsync(A.listen(net.createServer(), { port: addr.port, host: '127.0.0.1' }))
  t.like(taken, { code: 'EADDRINUSE', errno: -98, syscall: 'listen', address: '127.0.0.1', port: addr.port })
  t.true(taken?.message.includes(`net:[${A.inode}]`))
  const foreign = await t.throwsAsync(A.listen(net.createServer(), { port: 80, host: '10.199.9.9' }))
  t.like(foreign, { code: 'EADDRNOTAVAIL', syscall: 'listen' })
  // IPv6 only on ::1, and two servers sharing a port with reusePort.
  const six = net.createServer()
  t.teardown(() => stop(six))
  t.like(await A.listen(six, { host: '::1', ipv6Only: true, backlog: 5 }), { family: 'IPv6', address: '::1' })
  const [r1, r2] = [net.createServer(), net.createServer()]
  t.teardown(() => Promise.all([stop(r1), stop(r2)]))
  const shared = (await A.listen(r1, { host: '127.0.0.1', reusePort: true })) as net.AddressInfo
  t.like(await A.listen(r2, { host: '127.0.0.1', port: shared.port, reusePort: true }), { port: shared.port })
  await t.throwsAsync(A.listen({} as net.Server), { code: 'ERR_INVALID_ARG_TYPE' })
  await t.throwsAsync(A.listen(net.createServer(), { port: 70000 }), { code: 'ERR_OUT_OF_RANGE' })
})

test.serial('a lab: servers, clients, UDP, agent, fetch, abstract socket, ss', async (t) => {
  const { A, B, ipA } = await lab(t)
  const before = nsLink('thread-self', 'net')
  // An HTTP server in A and a raw TCP server, an abstract unix server and a UDP socket there too.
  const web = http.createServer((req, res) => res.end(`hello ${req.url}`))
  t.teardown(() => stop(web))
  const { port } = (await A.listen(web, { host: ipA, port: 0 })) as net.AddressInfo
  const abstract = `\0nsjs-${process.pid}`
  const unix = net.createServer((c) => c.end('from the abstract socket'))
  t.teardown(() => stop(unix))
  await A.listen(unix, { path: abstract })
  const udp = A.createSocket('udp4')
  t.teardown(() => udp.close())
  await new Promise<void>((r) => udp.bind(0, ipA, r))
  const udpPort = udp.address().port
  // Clients from B.
  const tcp = B.connect({ host: ipA, port })
  await new Promise<void>((r, j) => tcp.once('connect', r).once('error', j))
  t.is(tcp.localAddress, '10.199.0.2')
  const agent = B.agent()
  t.teardown(() => agent.destroy())
  const got = await new Promise<string>((r, j) =>
    http.get(`http://${ipA}:${port}/agent`, { agent }, (res) => body(res).then(r, j)).on('error', j),
  )
  t.is(got, 'hello /agent')
  const dispatcher = B.dispatcher()
  t.teardown(() => dispatcher.destroy())
  const res = await fetchWith(`http://${ipA}:${port}/fetch`, { dispatcher } as RequestInit)
  t.is(await res.text(), 'hello /fetch')
  const message = new Promise<[Buffer, string]>((r) => udp.once('message', (m, info) => r([m, info.address])))
  const sender = B.createSocket('udp4')
  t.teardown(() => sender.close())
  sender.send('ping', udpPort, ipA)
  t.deepEqual(await message, [Buffer.from('ping'), '10.199.0.2'])
  const viaAbstract = await new Promise<string>((r, j) => {
    let d = ''
    A.connect({ path: abstract })
      .on('data', (c) => {
        d += c
      })
      .on('end', () => r(d))
      .on('error', j)
  })
  t.is(viaAbstract, 'from the abstract socket')
  // Where each socket is: A has the listeners, B the client ends, the host none of them.
  const [inA, inB, onHost] = await Promise.all([ss(A, '-Hantuxp'), ss(B, '-Hantuxp'), ss(undefined, '-Hantuxp')])
  t.regex(inA, new RegExp(`LISTEN .* ${ipA.replace(/\./g, '\\.')}:${port} `))
  t.regex(inA, new RegExp(`${ipA.replace(/\./g, '\\.')}:${udpPort} `))
  t.regex(inA, /@nsjs-\d+/)
  t.regex(inB, new RegExp(`ESTAB .* 10\\.199\\.0\\.2:\\d+ +${ipA.replace(/\./g, '\\.')}:${port}`))
  // By address (a port alone may be another process's on the host: ports are per namespace).
  t.notRegex(onHost, new RegExp(`10\\.199\\.0\\.|@nsjs-${process.pid}`))
  t.notRegex(inB, /LISTEN .*10\.199\.0\.1/)
  tcp.destroy()
  agent.destroy()
  await dispatcher.close()
  await Promise.all([stop(web), stop(unix)])
  t.is(nsLink('thread-self', 'net'), before)
})

test.serial('lookup() reads /etc/netns/<name>/hosts of a persisted namespace', async (t) => {
  const { A, B, nameA, ipA } = await lab(t)
  const dir = join('/etc/netns', nameA)
  const made = !readdirSync('/etc').includes('netns')
  mkdirSync(dir, { recursive: true })
  t.teardown(() => rmSync(made ? '/etc/netns' : dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'hosts'), `${ipA} db.lab\n`)
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n')
  const hostsBefore = readdirSync('/etc').length
  const found = await new Promise<[unknown, unknown, unknown]>((r) =>
    A.lookup('db.lab', (err, address, family) => r([err, address, family])),
  )
  t.deepEqual(found, [null, ipA, 4])
  const all = await new Promise<unknown>((r) => A.lookup('db.lab', { all: true }, (_, a) => r(a)))
  t.deepEqual(all, [{ address: ipA, family: 4 }])
  // B has no such file: the host's files, where db.lab is not.
  const missing = await new Promise<NodeJS.ErrnoException | null>((r) => B.lookup('db.lab', (err) => r(err)))
  t.like(missing, { syscall: 'getaddrinfo', hostname: 'db.lab' })
  t.true(['ENOTFOUND', 'EAI_AGAIN'].includes(String(missing?.code)))
  // A name resolves inside for connect() and listen() too.
  const server = net.createServer((c) => c.end('by name'))
  t.teardown(() => stop(server))
  const { port } = (await A.listen(server, { host: 'db.lab' })) as net.AddressInfo
  const reply = await new Promise<string>((r, j) => {
    let d = ''
    A.connect({ host: 'db.lab', port })
      .on('data', (c) => {
        d += c
      })
      .on('end', () => r(d))
      .on('error', j)
  })
  t.is(reply, 'by name')
  await stop(server)
  // Nothing was mounted where the caller can see it.
  t.is(readdirSync('/etc').length, hostsBefore)
  t.false(readFileSync('/proc/thread-self/mountinfo', 'utf8').includes('/etc/hosts'))
})

test.serial('worker() starts a thread inside; the caller stays where it is', async (t) => {
  using A = await Namespace.create('net')
  const dir = tempDir(t)
  const file = join(dir, 'job.js')
  writeFileSync(
    file,
    "require('node:worker_threads').parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self/ns/net'))\n",
  )
  const before = nsLink('thread-self', 'net')
  const w = A.worker(file)
  t.is(nsLink('thread-self', 'net'), before)
  const seen = await new Promise((r, j) => w.once('message', r).once('error', j))
  t.is(seen, `net:[${A.inode}]`)
  await w.terminate()
  using mnt = Namespace.current('mnt')
  t.throws(() => mnt.worker(file), { code: 'ERR_NS_TYPE_MISMATCH' })
})

test.serial('netnsid() is the id ip netns set gave, null before; other types refused', async (t) => {
  const name = `nsjs-${process.pid}-nsid`
  const before = nsjsFds()
  {
    using A = await Namespace.create('net')
    using here = Namespace.current('net')
    t.teardown(() => Namespace.unpersist(`/run/netns/${name}`).catch(() => {}))
    t.is(A.netnsid(), null)
    t.is(here.netnsid(), null, 'a namespace never has an id for itself')
    await A.persist(`/run/netns/${name}`)
    await exec('ip', ['netns', 'set', name, 'auto'])
    const listed = JSON.parse((await exec('ip', ['-j', 'netns', 'list'])).stdout) as { name: string; id?: number }[]
    const id = listed.find((n) => n.name === name)?.id
    t.is(typeof id, 'number')
    t.is(A.netnsid(), id ?? -1)
    using uts = Namespace.current('uts')
    t.throws(() => uts.netnsid(), { code: 'ERR_NS_TYPE_MISMATCH' })
    await Namespace.unpersist(`/run/netns/${name}`)
  }
  const closed = await Namespace.create('net')
  closed.close()
  t.throws(() => closed.netnsid(), { code: 'ERR_NS_CLOSED' })
  t.deepEqual(
    [...nsjsFds()].filter((f) => !before.has(f)),
    [],
    'no descriptor left',
  )
  // Reading an id needs no privilege.
  t.deepEqual(asNobody("console.log(JSON.stringify(nsjs.Namespace.current('net').netnsid()))"), null)
})

test.serial('an unprivileged process cannot make a socket in a root namespace', async (t) => {
  const { nameA } = await lab(t)
  const out = asNobody(`
    const A = nsjs.Namespace.fromPath('/run/netns/${nameA}', 'net')
    const r = {}
    try { A.socket('inet', 'stream') } catch (e) { r.socket = (${CATCH_FIELDS})(e) }
    A.lookup('localhost', (e) => { r.lookup = e && (${CATCH_FIELDS})(e); console.log(JSON.stringify(r)) })
  `) as Record<string, { code: string; syscall: string; nsType: string; message: string }>
  t.like(out.socket, { code: 'EPERM', syscall: 'setns', nsType: 'net' })
  t.regex(out.socket.message, /CAP_SYS_ADMIN/)
  t.like(out.lookup, { code: 'EPERM', syscall: 'setns' })
})

test.serial('sockets of listen, connect and createSocket close with their Node objects', async (t) => {
  using A = await Namespace.create('net')
  await A.exec('ip', ['link', 'set', 'lo', 'up'])
  const fdOf = (x: unknown) => (x as { _handle: { fd: number } })._handle.fd
  const server = net.createServer((c) => c.end())
  const { port } = (await A.listen(server, { host: '127.0.0.1' })) as net.AddressInfo
  const client = A.connect(port, '127.0.0.1')
  await new Promise<void>((r) => client.once('connect', r))
  const udp = A.createSocket({ type: 'udp6', ipv6Only: true })
  await new Promise<void>((r) => udp.bind(0, '::1', r))
  const state = Object.getOwnPropertySymbols(udp).find((s) => s.description === 'state symbol') as symbol
  const udpFd = (udp as unknown as Record<symbol, { handle: { fd: number } }>)[state].handle.fd
  const inodes = [socketInode(fdOf(server)), socketInode(fdOf(client)), socketInode(udpFd)]
  client.destroy()
  udp.close()
  await new Promise((r) => server.close(r))
  await new Promise((r) => setImmediate(r))
  t.deepEqual(
    inodes.map((i) => inodeOpen(i)),
    [false, false, false],
  )
})

test.serial('listen() without a host takes :: and connect() reaches it over IPv6 and IPv4', async (t) => {
  using A = await Namespace.create('net')
  await A.exec('ip', ['link', 'set', 'lo', 'up'])
  const server = net.createServer((c) => c.end(String(c.remoteAddress)))
  t.teardown(() => stop(server))
  const addr = (await A.listen(server)) as net.AddressInfo
  t.like(addr, { address: '::', family: 'IPv6' })
  const from = (options: net.NetConnectOpts) =>
    new Promise<string>((r, j) => {
      let d = ''
      A.connect(options)
        .on('data', (c) => {
          d += c
        })
        .on('end', () => r(d))
        .on('error', j)
    })
  t.is(await from({ host: '::1', port: addr.port }), '::1')
  t.is(await from({ host: '127.0.0.1', port: addr.port, localAddress: '127.0.0.2' }), '::ffff:127.0.0.2')
  // net.connect's timeout option: an idle socket gets 'timeout'.
  const idle = A.connect({ host: '::1', port: addr.port, timeout: 50 })
  await new Promise<void>((r) => idle.once('timeout', r))
  idle.destroy()
  await stop(server)
  t.pass()
})

test.serial('agent({ https: true }) and dispatcher({ tls }) speak TLS from inside', async (t) => {
  using A = await Namespace.create('net')
  await A.exec('ip', ['link', 'set', 'lo', 'up'])
  const dir = tempDir(t)
  // A throwaway self-signed certificate for 127.0.0.1.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=nsjs-test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  const ca = readFileSync(join(dir, 'cert.pem'))
  const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) =>
    res.end(`secure ${req.url}`),
  )
  t.teardown(() => stop(server))
  const { port } = (await A.listen(server, { host: '127.0.0.1' })) as net.AddressInfo
  const agent = A.agent({ https: true, ca })
  t.teardown(() => agent.destroy())
  const got = await new Promise<string>((r, j) =>
    https.get(`https://127.0.0.1:${port}/agent`, { agent }, (res) => body(res).then(r, j)).on('error', j),
  )
  t.is(got, 'secure /agent')
  const dispatcher = A.dispatcher({ tls: { ca } })
  t.teardown(() => dispatcher.destroy())
  const res = await fetchWith(`https://127.0.0.1:${port}/fetch`, { dispatcher } as RequestInit)
  t.is(await res.text(), 'secure /fetch')
  // Without the CA the certificate is refused, as it would be outside.
  const refused = A.dispatcher()
  t.teardown(() => refused.destroy())
  await t.throwsAsync(fetchWith(`https://127.0.0.1:${port}/`, { dispatcher: refused } as RequestInit))
  await Promise.all([agent.destroy(), dispatcher.close(), refused.close()])
  await stop(server)
})
