// join() and run(): what moves (the calling JS thread) and what does not.
import { promises as fsp, mkdtempSync, readlinkSync, rmSync } from 'node:fs'
import os from 'node:os'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import { Namespace, NamespaceError } from '../ts/index'
import { nsLink, target } from './helpers'

// join() moves this test process's JS thread for good, so the tests that do it run serially and
// each joins namespaces of its own targets.

test.serial("run(fn) shows the target's hostname through os.hostname() and restores it", async (t) => {
  const pid = await target(t, ['--uts'], 'nsjs-run-target')
  const mine = os.hostname()
  using uts = Namespace.open(pid, 'uts')
  t.is(
    uts.run(() => os.hostname()),
    'nsjs-run-target',
  )
  t.is(os.hostname(), mine)
  t.is(nsLink('thread-self', 'uts'), nsLink('self', 'uts'))
})

test.serial("run(fn) restores when fn throws, and returns fn's value", async (t) => {
  const pid = await target(t, ['--uts'], 'nsjs-throw')
  using uts = Namespace.open(pid, 'uts')
  const before = nsLink('thread-self', 'uts')
  t.throws(
    () =>
      uts.run(() => {
        throw new Error('boom')
      }),
    { message: 'boom' },
  )
  t.is(nsLink('thread-self', 'uts'), before)
  t.deepEqual(
    uts.run(() => ({ v: 42 })),
    { v: 42 },
  )
})

test.serial('run(fn) rejects a fn that returns a Promise, after restoring', async (t) => {
  const pid = await target(t, ['--net'])
  using net = Namespace.open(pid, 'net')
  const before = nsLink('thread-self', 'net')
  let inside: string | undefined
  const fn = () => {
    inside = nsLink('thread-self', 'net')
    return Promise.resolve(1)
  }
  // @ts-expect-error: run()'s type refuses a fn that returns a Promise
  const e = t.throws(() => net.run(fn), { instanceOf: TypeError })
  t.is((e as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.regex(e?.message ?? '', /returned a Promise/)
  t.not(inside, before) // it ran, inside
  t.is(nsLink('thread-self', 'net'), before)
})

test.serial('run(fn) refuses an async fn before running any of it', async (t) => {
  const pid = await target(t, ['--net'])
  using net = Namespace.open(pid, 'net')
  let ran = false
  const fn = async () => {
    ran = true
  }
  // @ts-expect-error: run()'s type refuses a fn that returns a Promise
  const e = t.throws(() => net.run(fn), { instanceOf: TypeError })
  t.is((e as { code?: string }).code, 'ERR_INVALID_ARG_VALUE')
  t.regex(e?.message ?? '', /is an async function/)
  t.false(ran)
})

test.serial('run(fn) on a mnt namespace sees its mounts and puts the cwd back', async (t) => {
  const dir = mkdtempSync('/tmp/nsjs-mnt-')
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A target whose mount namespace alone has a tmpfs (with a marker file) on our temp dir.
  const pid = await target(t, ['--mount', '--propagation', 'private'])
  require('node:child_process').execFileSync('nsenter', [
    '-t',
    String(pid),
    '-m',
    'sh',
    '-c',
    `mount -t tmpfs nsjs ${dir} && touch ${dir}/inside`,
  ])
  process.chdir('/tmp')
  const cwd = readlinkSync('/proc/thread-self/cwd')
  using mnt = Namespace.open(pid, 'mnt')
  t.is(process.cwd(), '/tmp') // Node caches it from here on
  const [seen, inside] = mnt.run(() => [require('node:fs').readdirSync(dir), process.cwd()])
  t.deepEqual(seen, ['inside'])
  t.is(inside, '/', "process.cwd() inside is the namespace's root, where setns put the thread")
  t.deepEqual(require('node:fs').readdirSync(dir), [])
  t.is(readlinkSync('/proc/thread-self/cwd'), cwd)
  t.is(process.cwd(), '/tmp', 'and process.cwd() is the restored cwd again, not a stale cache')
  t.is(nsLink('thread-self', 'mnt'), nsLink('self', 'mnt'))
})

test.serial('join() is settled on return: later sockets and lookups are inside', async (t) => {
  const pid = await target(t, ['--net'])
  using net = Namespace.open(pid, 'net')
  // Make sure the libuv pool threads exist before the join: they stay outside.
  await fsp.readlink('/proc/thread-self/ns/net')
  const outside = nsLink('self', 'net')
  const p = net.join()
  t.is(nsLink('thread-self', 'net'), net.id, 'the thread moved before join() returned')
  await p
  t.deepEqual(Object.keys(os.networkInterfaces()), [], 'a new net namespace has only lo, which is down')
  t.is(await fsp.readlink('/proc/thread-self/ns/net'), outside, 'a pool thread that already existed stays outside')
  t.is(readlinkSync('/proc/self/ns/net'), net.id, 'the JS main thread is the thread group leader that /proc/self shows')
})

test('joining user or time with several threads fails with ERR_NS_MULTITHREADED', async (t) => {
  const pid = await target(t, ['--user', '--map-root-user', '--time'])
  for (const type of ['user', 'time'] as const) {
    using ns = Namespace.open(pid, type)
    const e = await t.throwsAsync(ns.join(), { instanceOf: NamespaceError })
    t.is(e?.code, 'ERR_NS_MULTITHREADED')
    t.is(e?.nsType, type)
    t.regex(e?.message ?? '', /use spawn\(\{ join \}\)/)
    t.is(t.throws<NamespaceError>(() => ns.run(() => 1))?.code, 'ERR_NS_MULTITHREADED')
  }
  t.is(nsLink('thread-self', 'user'), nsLink('self', 'user'))
})

test('Namespace.unshare() gives only the calling thread new namespaces (a worker here)', async (t) => {
  const main = nsLink('thread-self', 'uts')
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { readlinkSync } = require('node:fs')
    const { Namespace } = require(${JSON.stringify(require.resolve('../ts/index'))})
    const before = readlinkSync('/proc/thread-self/ns/uts')
    Namespace.unshareSync(['uts', 'ipc'])
    parentPort.postMessage({ before, after: readlinkSync('/proc/thread-self/ns/uts') })`
  const w = new Worker(code, { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] })
  const msg = await new Promise<{ before: string; after: string }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  await w.terminate()
  t.is(msg.before, main)
  t.not(msg.after, main)
  t.is(nsLink('thread-self', 'uts'), main)
  t.is((await t.throwsAsync<NamespaceError>(Namespace.unshare(['user'])))?.code, 'ERR_NS_MULTITHREADED')
  t.is(t.throws(() => Namespace.unshareSync([]))?.constructor, TypeError)
})

test("a lasting move of the thread's pid namespace for children is refused", async (t) => {
  const pid = await target(t, ['--pid', '--fork'])
  using pidNs = Namespace.open(pid, 'pid')
  for (const attempt of [() => pidNs.joinSync(), () => pidNs.run(() => 1), () => Namespace.unshareSync(['pid'])]) {
    const e = t.throws(attempt, { instanceOf: NamespaceError })
    t.is(e?.code, 'ERR_NS_MULTITHREADED')
    t.is(e?.nsType, 'pid')
    t.regex(e?.message ?? '', /spawn\(\{ join \}\)/)
  }
  t.is(nsLink('thread-self', 'pid_for_children'), nsLink('thread-self', 'pid'))
  // Threads can still be started: a pool task and a native create both work.
  t.truthy(await fsp.readFile('/proc/self/stat', 'utf8'))
  using fresh = await Namespace.create('uts')
  t.is(fresh.type, 'uts')
})

test('run(fn) puts the thread back where it was: nested, after join and unshare', async (t) => {
  // In a worker, since the lasting moves stay with its thread.
  const a = await target(t, ['--uts'], 'nsjs-run-a')
  const b = await target(t, ['--uts'], 'nsjs-run-b')
  const net = await target(t, ['--net'])
  const code = `
    const { parentPort, workerData: [a, b, net] } = require('node:worker_threads')
    const { readlinkSync } = require('node:fs')
    const os = require('node:os')
    const { Namespace } = require(${JSON.stringify(require.resolve('../ts/index'))})
    const uts = () => readlinkSync('/proc/thread-self/ns/uts')
    const A = Namespace.open(a, 'uts'), B = Namespace.open(b, 'uts'), N = Namespace.open(net, 'net')
    const seen = { start: uts() }
    seen.nested = A.run(() => [os.hostname(), B.run(() => [os.hostname(), N.run(() => readlinkSync('/proc/thread-self/ns/net'))]), os.hostname()])
    seen.afterNested = uts()
    A.joinSync()
    seen.inB = B.run(() => os.hostname())
    seen.afterJoin = os.hostname()
    Namespace.unshareSync(['uts'])
    seen.unshared = uts()
    seen.inB2 = B.run(() => os.hostname())
    seen.afterUnshare = uts()
    B.run(() => A.joinSync())
    seen.afterJoinInRun = uts()
    const C = Namespace.open(b, 'uts')
    seen.closedInRun = C.run(() => { C.close(); return os.hostname() })
    seen.afterClosedInRun = uts()
    parentPort.postMessage({ seen, A: A.id, N: N.id })`
  const w = new Worker(code, {
    eval: true,
    workerData: [a, b, net],
    execArgv: ['--require', require.resolve('tsx/cjs')],
  })
  const msg = await new Promise<{ seen: Record<string, unknown>; A: string; N: string }>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  await w.terminate()
  const { seen } = msg
  t.deepEqual(seen.nested, ['nsjs-run-a', ['nsjs-run-b', msg.N], 'nsjs-run-a'])
  t.is(seen.afterNested, seen.start)
  t.is(seen.inB, 'nsjs-run-b')
  t.is(seen.afterJoin, 'nsjs-run-a', 'back in the namespace join() moved it to, not the first one')
  t.not(seen.unshared, msg.A)
  t.is(seen.inB2, 'nsjs-run-b')
  t.is(seen.afterUnshare, seen.unshared, 'back in the namespace unshare() made')
  t.is(seen.afterJoinInRun, seen.unshared, 'a join inside run() ends with it')
  t.is(seen.closedInRun, 'nsjs-run-b')
  t.is(seen.afterClosedInRun, seen.unshared, 'a handle closed inside its own run() is left all the same')
})
