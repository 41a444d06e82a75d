// IPC channels: 'ipc' in spawn()'s stdio (issue 11) as child_process has it, fork() built on it,
// and what the channel does with handles.

import { once } from 'node:events'
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs'
import { type AddressInfo, connect, createServer } from 'node:net'
import { join } from 'node:path'

import test from 'ava'

import { exec, fork, type NsForkedProcess, spawn } from '../ts/index'
import { asNobody, tempDir } from './helpers'

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
  const out = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`)
      if (link.startsWith('socket:')) out.add(`${fd}=${link}`)
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

test('ipc: handles cannot be passed either way; the channel keeps working', async (t) => {
  const dir = tempDir(t)
  const worker = join(dir, 'handles.js')
  // The child sends a listening server: it is told the handle was lost (NODE_HANDLE_NACK), so
  // its later messages are not held back for an acknowledgement.
  writeFileSync(
    worker,
    `const srv = require('net').createServer().listen(0, () => {
       process.send({ with: 'handle' }, srv, (err) => process.send({ callback: String(err) }))
       process.send({ after: 'handle' })
     })
     process.on('disconnect', () => process.exit(0))`,
  )
  const child = fork(worker, [], { unshare: ['user', 'pid', 'net'], uidMap: 'root' })
  const got: unknown[] = []
  const two = new Promise<void>((resolve) =>
    child.on('message', (m) => {
      if (got.push(m) === 2) resolve()
    }),
  )
  await two
  t.deepEqual(got.sort(), [{ after: 'handle' }, { callback: 'null' }].sort())
  // Ours: a server (or socket) in send() is refused before anything is written.
  const server = createServer().listen(0)
  t.teardown(() => server.close())
  t.throws(() => child.send('here', server as never), { code: 'ERR_INVALID_HANDLE_TYPE', instanceOf: TypeError })
  t.true(child.connected)
  child.disconnect()
  t.deepEqual(await child.exited, { code: 0, signal: null })
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
