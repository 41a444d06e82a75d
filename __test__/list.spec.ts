// list(): compared with util-linux lsns on the same system.
import { spawn as cpSpawn, execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

import test from 'ava'

import { Namespace } from '../ts/index'
import { killAndWait, nodeScript, nsLink, ROOT, target, tempDir } from './helpers'

interface LsnsRow {
  ns: number
  type: string
  nprocs: number
  pid: number
  command: string
  user?: string
}

function lsns(args: string[]): LsnsRow[] {
  const out = JSON.parse(
    execFileSync('lsns', ['--json', '--output', 'NS,TYPE,NPROCS,PID,USER,COMMAND', ...args], { encoding: 'utf8' }),
  )
  return out.namespaces
}

test('list({ pid }) matches lsns -p: the namespaces, counts and lowest pid', async (t) => {
  const pid = await target(t, ['--uts', '--net', '--ipc'])
  const ours = await Namespace.list({ pid })
  const theirs = lsns(['-p', String(pid)])
  t.is(ours.length, 8)
  for (const row of theirs) {
    const mine = ours.find((n) => n.id === Number(row.ns) && n.type === row.type)
    t.truthy(mine, `${row.type}:[${row.ns}]`)
    t.is(mine?.pid, Number(row.pid), `${row.type} pid`)
    // The host's namespaces gain processes while the test runs (lsns itself); the target's own do not.
    if (['uts', 'net', 'ipc'].includes(row.type)) t.is(mine?.nprocs, Number(row.nprocs), `${row.type} nprocs`)
    t.is(mine?.user, row.user)
  }
  const uts = ours.find((n) => n.type === 'uts')
  t.is(uts?.pid, pid)
  t.is(uts?.nprocs, 1)
  t.is(uts?.command, 'sleep 600')
  t.is(uts?.uid, 0)
})

test('list({ type }) finds every namespace of that type lsns finds', async (t) => {
  const pid = await target(t, ['--net'])
  // Other tests in this file make and drop namespaces meanwhile: what lsns sees both before and
  // after nsjs looked must be in what nsjs found.
  const before = lsns(['-t', 'net'])
  const ours = Namespace.listSync({ type: 'net' })
  const after = new Set(lsns(['-t', 'net']).map((r) => r.ns))
  t.true(ours.every((n) => n.type === 'net'))
  const ids = new Set(ours.map((n) => n.id))
  for (const row of before.filter((r) => after.has(r.ns))) t.true(ids.has(Number(row.ns)), `net:[${row.ns}]`)
  t.true(ids.has(Number(/\[(\d+)\]/.exec(nsLink(pid, 'net'))?.[1])), "the target's own net namespace")
})

test('list() includes namespaces held only by a bind mount, with their path', async (t) => {
  const path = `/run/nsjs-list-${process.pid}`
  using uts = await Namespace.create('uts')
  await uts.persist(path)
  t.teardown(() => Namespace.unpersistSync(path))
  const row = (await Namespace.list({ type: 'uts' })).find((n) => n.id === Number(uts.inode))
  t.deepEqual(row?.paths, [path])
  t.is(row?.nprocs, 0)
  t.is(row?.pid, undefined)
})

test('list() validates its options', async (t) => {
  t.is((await t.throwsAsync(Namespace.list({ type: 'bogus' as 'net' })))?.constructor, TypeError)
  t.is((await t.throwsAsync(Namespace.list({ pid: 0 })))?.constructor, RangeError)
  t.is((await t.throwsAsync(Namespace.list('net' as never)))?.constructor, TypeError)
  t.deepEqual(await Namespace.list({ pid: 4000000 }), [], 'a pid that does not exist holds no namespaces')
})

test('list() includes a namespace held only by a handle, once its processes died', async (t) => {
  const child = cpSpawn('unshare', ['--uts', 'sleep', '600'], { stdio: 'ignore' })
  t.teardown(() => killAndWait(child))
  await new Promise((r) => child.once('spawn', r))
  const pid = child.pid as number
  // Until unshare has made the namespace and exec'ed sleep.
  while (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sleep') await new Promise((r) => setTimeout(r, 5))
  const uts = Namespace.open(pid, 'uts')
  await killAndWait(child)
  const id = Number(uts.inode)
  for (const rows of [await Namespace.list(), Namespace.listSync({ type: 'uts' })]) {
    const row = rows.find((n) => n.id === id && n.type === 'uts')
    // As lsns 2.41 shows such a namespace: no process, so no pid or command; the uid that owns it.
    t.like(row, { type: 'uts', nprocs: 0, pid: undefined, command: undefined, uid: 0, user: 'root', paths: [] })
  }
  t.false(
    Namespace.listSync({ pid: process.pid }).some((n) => n.id === id),
    'not one this process is in',
  )
  uts.close()
  t.false(
    (await Namespace.list({ type: 'uts' })).some((n) => n.id === id),
    'gone once the handle is closed',
  )
})

test('list() includes a net namespace only a socket of this process holds', async (t) => {
  const net = await Namespace.create('net')
  const id = Number(net.inode)
  // listen() without a host makes its socket at once, inside the namespace.
  const server = createServer()
  net.run(() => server.listen(0))
  await new Promise((r) => server.once('listening', r))
  net.close()
  const row = (await Namespace.list({ type: 'net' })).find((n) => n.id === id)
  t.like(row, { type: 'net', nprocs: 0, pid: undefined, command: undefined, uid: 0, user: 'root', paths: [] })
  t.truthy(Namespace.listSync().find((n) => n.id === id && n.type === 'net'))
  await new Promise((r) => server.close(r))
  t.false(
    Namespace.listSync({ type: 'net' }).some((n) => n.id === id),
    'gone with the socket',
  )
})

test('list() includes a net namespace only a socket in another process holds', async (t) => {
  // Another Node process makes a socket in a new net namespace and drops its handle on the
  // namespace: only the socket keeps it.
  const code = `
    const { Namespace } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
    const net = Namespace.createSync('net')
    const server = require('node:net').createServer()
    net.run(() => server.listen(0))
    console.log(String(net.inode))
    net.close()
    process.stdin.resume()
    process.stdin.on('end', () => process.exit(0))
  `
  const child = cpSpawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
  })
  t.teardown(() => killAndWait(child))
  const id = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', () => reject(new Error('the child exited early')))
  })
  t.true(id > 0)
  const rows = (await Namespace.list({ type: 'net' })).filter((n) => n.id === id)
  t.is(rows.length, 1)
  t.like(rows[0], { type: 'net', nprocs: 0, pid: undefined, command: undefined, uid: 0, user: 'root', paths: [] })
  child.stdin?.end()
  await new Promise((r) => child.once('exit', r))
  t.false(
    Namespace.listSync({ type: 'net' }).some((n) => n.id === id),
    'gone with the process that held the socket',
  )
})

test('list() names users through the name service (getpwuid_r), not only /etc/passwd', (t) => {
  // A user that only a systemd userdb drop-in defines, in a mount namespace of the child's own
  // (tmpfs over /run there: nothing changes on the host).
  const record = JSON.stringify({ userName: 'nsjs-dropin', uid: 4242, gid: 4242, disposition: 'regular' })
  const setup = [
    'mount -t tmpfs nsjs-test /run && mkdir /run/userdb',
    `printf '%s' '${record}' > /run/userdb/nsjs-dropin.user && ln -s nsjs-dropin.user /run/userdb/4242.user`,
    'exec "$0" "$@"',
  ].join(' && ')
  const result = nodeScript(
    `
    const { execFileSync, spawn } = require('node:child_process')
    const known = (() => { try { return execFileSync('getent', ['passwd', '4242'], { encoding: 'utf8' }).split(':')[0] } catch { return null } })()
    const child = spawn('unshare', ['--uts', 'setpriv', '--reuid=4242', '--regid=4242', '--clear-groups', 'sleep', '60'], { stdio: 'ignore' })
    const poll = async () => {
      for (;;) {
        const row = nsjs.Namespace.listSync({ pid: child.pid, type: 'uts' })[0]
        if (row && row.nprocs === 1 && row.uid === 4242) return row
        await new Promise((r) => setTimeout(r, 5))
      }
    }
    poll().then(async (sync) => {
      const [async_] = await nsjs.Namespace.list({ pid: child.pid, type: 'uts' })
      child.kill('SIGKILL')
      console.log(JSON.stringify({ known, sync: sync.user, async: async_.user, inPasswd: require('node:fs').readFileSync('/etc/passwd', 'utf8').includes(':4242:') }))
    })
  `,
    ['unshare', '-m', 'sh', '-c', setup],
  ) as { known: string | null; sync?: string; async?: string; inPasswd: boolean }
  if (result.known !== 'nsjs-dropin') {
    t.log(`the name service here does not read userdb drop-ins (getent gave ${result.known}): nothing to compare`)
    t.pass()
    return
  }
  t.false(result.inPasswd)
  t.is(result.sync, 'nsjs-dropin')
  t.is(result.async, 'nsjs-dropin')
})

test("list() and listSync() see the JS thread's mount namespace after its unshare", (t) => {
  // In a Node process of its own, so the test runner's thread never moves. A tmpfs mounted in the
  // JS thread's new (private) mount namespace, with a namespace persisted in it: only that thread's
  // mount table has the path. Both leave with the process.
  const dir = tempDir(t)
  const result = nodeScript(`
    const { execFileSync } = require('node:child_process')
    const { Namespace } = nsjs
    ;(async () => {
      // libuv starts its pool threads at the first asynchronous call: here before the unshare, as
      // in any program that has done some I/O. They stay in the mount namespace they were born in.
      await require('node:fs/promises').stat('/')
      Namespace.unshareSync(['mnt'])
      // Children forked from this thread share its mount namespace.
      execFileSync('mount', ['--make-rprivate', '/'])
      execFileSync('mount', ['-t', 'tmpfs', 'nsjs-test', ${JSON.stringify(dir)}])
      const uts = Namespace.createSync('uts')
      const path = ${JSON.stringify(join(dir, 'uts'))}
      uts.persistSync(path)
      const id = Number(uts.inode)
      const paths = (rows) => rows.find((n) => n.id === id && n.type === 'uts')?.paths
      const rows = await Namespace.list({ type: 'uts' })
      console.log(JSON.stringify({ path, sync: paths(Namespace.listSync({ type: 'uts' })), async: paths(rows), all: paths(await Namespace.list()) }))
    })()
  `) as { path: string; sync?: string[]; async?: string[]; all?: string[] }
  t.deepEqual(result.sync, [result.path])
  t.deepEqual(result.async, [result.path])
  t.deepEqual(result.all, [result.path])
})
