// Which thread makes a socket inside a net namespace (issue 10), and run()'s way back: the calling
// thread itself, there and back within the one native call, wherever its way back is certain; a
// short-lived thread of its own where it is not. The case where it is not is real here: a Node
// process started by spawn in a user namespace of its own (uidMap 'root'), as root and as uid
// 65534, whose first net namespace is owned by the parent user namespace, so that it may enter a
// namespace it created but no thread of it could come back.

import { closeSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'

import { native } from '../ts/errors'
import { exec, Namespace } from '../ts/index'
import { binding } from '../ts/loader'
import { asNobody, CATCH_FIELDS, nsLink, ROOT, tempDir, threadsInNet } from './helpers'

/** The threads of this process in the net namespace `ns`. */
test.serial('the calling thread makes the socket and is back when the call returns', async (t) => {
  using A = await Namespace.create('net')
  using B = await Namespace.create('net')
  const home = nsLink('thread-self', 'net')
  const here = binding().socketInTraced(A.nativeHandle, 2, 1, 0)
  t.is(here.maker, 'caller')
  using ofHere = Namespace.fromSocket(here.fd)
  t.true(ofHere.equals(A))
  closeSync(here.fd)
  t.is(nsLink('thread-self', 'net'), home)
  // Inside run(), the way back is to where run() put the thread, and run() still goes home.
  const inRun = B.run(() => {
    const made = binding().socketInTraced(A.nativeHandle, 2, 1, 0)
    const r = { maker: made.maker, inA: Namespace.fromSocket(made.fd).equals(A), at: nsLink('thread-self', 'net') }
    closeSync(made.fd)
    return r
  })
  t.deepEqual(inRun, { maker: 'caller', inA: true, at: `net:[${B.inode}]` })
  t.is(nsLink('thread-self', 'net'), home)
  t.deepEqual(threadsInNet(A.inode), [])
  t.deepEqual(threadsInNet(B.inode), [])
})

test.serial('a worker thread makes its sockets itself too', async (t) => {
  using A = await Namespace.create('net')
  const file = join(tempDir(t), 'worker.js')
  writeFileSync(
    file,
    `const { parentPort, workerData } = require('node:worker_threads')
const { closeSync, readlinkSync } = require('node:fs')
const { Namespace } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
const { binding } = require(${JSON.stringify(join(ROOT, 'ts', 'loader.ts'))})
const A = Namespace.fromFd(workerData)
const home = readlinkSync('/proc/thread-self/ns/net')
const made = binding().socketInTraced(A.nativeHandle, 2, 1, 0)
const same = Namespace.fromSocket(made.fd).equals(A)
closeSync(made.fd)
A.close()
parentPort.postMessage({ maker: made.maker, same, back: readlinkSync('/proc/thread-self/ns/net') === home })
`,
  )
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(file, { workerData: A.nativeHandle.fd })
  const got = await new Promise((r, j) => w.once('message', r).once('error', j))
  await w.terminate()
  t.deepEqual(got, { maker: 'caller', same: true, back: true })
})

/** The descriptors of this process that are sockets in `ns` (only the test makes sockets there). */
function socketsIn(ns: Namespace): number {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) return false
      using of = Namespace.fromSocket(Number(fd))
      return of.equals(ns)
    } catch {
      return false
    }
  }).length
}

test.serial('socketBoundIn refuses bad addresses and closes its socket when bind fails', async (t) => {
  using A = await Namespace.create('net')
  const REUSE_ADDR = 1
  const IPV6_ONLY = 4
  // The descriptor times 65536 plus the port.
  const bound = (host: string | null, path: string | null, flags = REUSE_ADDR) => {
    const packed = native(() => binding().socketBoundIn(A.nativeHandle, 1, host, 0, path, flags))
    return { fd: Math.floor(packed / 65536), port: packed % 65536 }
  }
  t.throws(() => bound('nope', null), { message: /not an IP address: nope/ })
  t.throws(() => bound(null, null), { message: /a host or a path is needed/ })
  const made = bound('::', null, REUSE_ADDR | IPV6_ONLY)
  t.true(made.port > 0)
  using of = Namespace.fromSocket(made.fd)
  t.true(of.equals(A))
  closeSync(made.fd)
  const name = `\0nsjs-bound-${process.pid}`
  const { fd, port } = bound(null, name)
  t.is(port, 0)
  t.is(socketsIn(A), 1)
  // The name is taken in A: the second socket is closed again.
  const e = t.throws(() => bound(null, name)) as NodeJS.ErrnoException
  t.like(e, { code: 'EADDRINUSE', syscall: 'bind' })
  t.is(socketsIn(A), 1)
  closeSync(fd)
  t.is(socketsIn(A), 0)
})

/**
 * What a Node process in a user namespace of its own does with a net namespace it created: run()
 * refused before the thread moves, a socket made by a short-lived thread, a server and a client
 * talking inside over an abstract unix socket (the new namespace's loopback is down), and no
 * thread left in the namespace.
 */
const OWN_USER_NS = `
const { binding } = require(${JSON.stringify(join(ROOT, 'ts', 'loader.ts'))})
const fs = require('node:fs')
const net = require('node:net')
const link = () => fs.readlinkSync('/proc/thread-self/ns/net')
;(async () => {
  const home = link()
  const A = nsjs.Namespace.createSync('net')
  const r = {}
  try { A.run(() => { r.ranInside = true }) } catch (e) { r.run = (${CATCH_FIELDS})(e) }
  r.runStayed = link() === home
  const made = binding().socketInTraced(A.nativeHandle, 1, 1, 0)
  r.maker = made.maker
  r.madeInA = nsjs.Namespace.fromSocket(made.fd).equals(A)
  fs.closeSync(made.fd)
  const name = '\\0nsjs-back-' + process.pid
  const server = net.createServer((c) => c.end('hello'))
  await A.listen(server, { path: name })
  const c = A.connect(name)
  r.reply = await new Promise((res, rej) => { let d = ''; c.on('data', (b) => { d += b }).on('end', () => res(d)).on('error', rej) })
  r.serverInA = nsjs.Namespace.ofSocket(server).equals(A)
  await new Promise((res) => server.close(res))
  r.stayed = link() === home
  const id = 'net:[' + A.inode + ']'
  r.threadsInA = fs.readdirSync('/proc/self/task').filter((t) => { try { return fs.readlinkSync('/proc/self/task/' + t + '/ns/net') === id } catch { return false } }).length
  A.close()
  console.log(JSON.stringify(r))
})()
`

/** OWN_USER_NS as `node -e` arguments, with nsjs loaded from source. */
function ownUserNsArgv(): string[] {
  const code = `const nsjs = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))});\n${OWN_USER_NS}`
  return ['--require', require.resolve('tsx/cjs'), '-e', code]
}

function checkOwnUserNs(t: import('ava').ExecutionContext, r: Record<string, unknown>): void {
  t.like(r.run, { code: 'ERR_NS_NO_WAY_BACK', step: 'restore', syscall: 'setns', nsType: 'net' })
  t.regex((r.run as { message: string }).message, /could not come back/)
  t.like(r, {
    runStayed: true,
    maker: 'throwaway',
    madeInA: true,
    reply: 'hello',
    serverInA: true,
    stayed: true,
    threadsInA: 0,
  })
  t.false('ranInside' in r)
}

test.serial('in a user namespace of its own, run() refuses before moving; sockets still work', async (t) => {
  const env = { ...process.env, HOME: '/tmp', TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') }
  const { stdout } = await exec(process.execPath, ownUserNsArgv(), {
    unshare: ['user'],
    uidMap: 'root',
    gidMap: 'root',
    cwd: '/',
    env,
  })
  checkOwnUserNs(t, JSON.parse(String(stdout)))
})

test.serial('as uid 65534, in a user namespace of its own: the same', (t) => {
  const out = asNobody(`
    // /proc/self/exe: uid 65534 may not search /root, where test:all keeps its other Node binaries.
    nsjs.exec('/proc/self/exe', ${JSON.stringify(ownUserNsArgv())}, {
      unshare: ['user'], uidMap: 'root', gidMap: 'root', cwd: '/',
    }).then((r) => console.log(String(r.stdout)), (e) => console.log(JSON.stringify({ spawn: (${CATCH_FIELDS})(e), stderr: String(e.stderr) })))
  `) as Record<string, unknown>
  checkOwnUserNs(t, out)
})

test.serial('listen() on a listening server rejects as Node does and closes its socket', async (t) => {
  using A = await Namespace.create('net')
  await A.exec('ip', ['link', 'set', 'lo', 'up'])
  const { createServer } = await import('node:net')
  const server = createServer()
  t.teardown(() => server.close())
  // The first listen of the process adopts with listen({ fd }), later ones with a handle; the
  // address it resolves with is Node's own (inet_ntop's form for IPv6).
  for (const host of ['127.0.0.1', '127.0.0.1', '0:0:0:0:0:0:0:1', undefined]) {
    const s = createServer()
    const at = await A.listen(s, { host, backlog: 8 })
    t.deepEqual(at, s.address())
    await new Promise((r) => s.close(r))
  }
  await A.listen(server, { host: '127.0.0.1' })
  t.is(socketsIn(A), 1)
  await t.throwsAsync(A.listen(server, { host: '127.0.0.1' }), { code: 'ERR_SERVER_ALREADY_LISTEN' })
  t.is(socketsIn(A), 1)
})
