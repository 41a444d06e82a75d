// create(), persist(), unpersist(): new namespaces that outlive their handle, and cleanup.
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { NAMESPACE_TYPES, Namespace, NamespaceError } from '../ts/index'
import { nodeScript, nsfsMounts, nsLink, tempDir } from './helpers'

test('create(type) makes a new namespace of every type without moving the caller', async (t) => {
  for (const type of NAMESPACE_TYPES) {
    const before = nsLink('thread-self', type)
    using ns = await Namespace.create(type)
    t.is(ns.type, type)
    t.not(ns.id, before, type)
    t.is(nsLink('thread-self', type), before, `${type}: the caller stayed`)
  }
})

test('createSync(user) works from a multithreaded process and is owned by us', (t) => {
  using user = Namespace.createSync('user')
  t.is(user.ownerUid(), process.getuid!())
  t.true(user.parent().equals(Namespace.current('user')))
})

test('a created net namespace can be run in: it has only a loopback device', async (t) => {
  using net = await Namespace.create('net')
  const ifaces = net.run(() => readFileSync('/proc/self/net/dev', 'utf8'))
  // /proc/self is the thread group leader, i.e. this thread: its net view is the new namespace.
  t.deepEqual(
    ifaces
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(':')[0]),
    ['lo'],
  )
})

test("create() and createSync() copy the JS thread's namespaces after its unshare", (t) => {
  // In a Node process of its own, so the test runner's thread never moves. The JS thread gets its
  // own uts and mnt namespaces, a hostname and a mount there; a namespace created from it must
  // start as a copy of those, not of what a libuv pool thread is still in.
  const dir = tempDir(t)
  const result = nodeScript(`
    const { execFileSync } = require('node:child_process')
    const { readFileSync } = require('node:fs')
    const os = require('node:os')
    const { Namespace } = nsjs
    const mounted = (ns) => ns.run(() => readFileSync('/proc/thread-self/mountinfo', 'utf8')).includes(' nsjs-caller ')
    ;(async () => {
      // libuv starts its pool threads at the first asynchronous call: here before the unshare, as
      // in any program that has done some I/O. They stay in the namespaces they were born in.
      await require('node:fs/promises').stat('/')
      Namespace.unshareSync(['uts', 'mnt'])
      // Children forked from this thread share its namespaces.
      execFileSync('hostname', ['nsjs-caller'])
      execFileSync('mount', ['--make-rprivate', '/'])
      execFileSync('mount', ['-t', 'tmpfs', 'nsjs-caller', ${JSON.stringify(dir)}])
      const uts = await Namespace.create('uts')
      const mnt = await Namespace.create('mnt')
      const utsSync = Namespace.createSync('uts')
      const mntSync = Namespace.createSync('mnt')
      console.log(JSON.stringify({
        here: os.hostname(),
        async: { hostname: uts.run(() => os.hostname()), mounted: mounted(mnt) },
        sync: { hostname: utsSync.run(() => os.hostname()), mounted: mounted(mntSync) },
      }))
    })()
  `) as { here: string; async: { hostname: string; mounted: boolean }; sync: { hostname: string; mounted: boolean } }
  t.is(result.here, 'nsjs-caller')
  t.deepEqual(result.sync, { hostname: 'nsjs-caller', mounted: true })
  t.deepEqual(result.async, { hostname: 'nsjs-caller', mounted: true })
})

test('persist() bind-mounts like ip netns add; fromPath opens it; unpersist removes it', async (t) => {
  const name = `nsjs-test-${process.pid}`
  const path = `/run/netns/${name}`
  t.teardown(() => {
    if (existsSync(path)) Namespace.unpersistSync(path)
  })
  const id = await (async () => {
    using net = await Namespace.create('net')
    await net.persist(path)
    return net.id
  })()
  // The handle is closed: the bind mount keeps the namespace.
  t.true(nsfsMounts().includes(path))
  t.regex(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(`^${name}\\b`, 'm'))
  t.is(execFileSync('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net'], { encoding: 'utf8' }).trim(), id)
  using again = Namespace.fromPath(path, 'net')
  t.is(again.id, id)
  const listed = (await Namespace.list({ type: 'net' })).find((n) => n.id === Number(again.inode))
  t.deepEqual(listed?.paths, [path])
  await Namespace.unpersist(path)
  t.false(existsSync(path))
  t.false(nsfsMounts().includes(path))
  t.is((await t.throwsAsync(Namespace.unpersist(path), { instanceOf: NamespaceError }))?.code, 'ENOENT')
})

test('persist() refuses an existing path and leaves nothing behind on failure', async (t) => {
  const dir = tempDir(t)
  using uts = await Namespace.create('uts')
  const taken = join(dir, 'taken')
  await uts.persist(taken)
  t.teardown(() => Namespace.unpersistSync(taken))
  const e = await t.throwsAsync(uts.persist(taken), { instanceOf: NamespaceError })
  t.is(e?.code, 'EEXIST')
  t.is(nsfsMounts().filter((m) => m === taken).length, 1)
  t.is(t.throws<NamespaceError>(() => Namespace.unpersistSync(join(dir)))?.code, 'ERR_NS_NOT_NAMESPACE')
})

test('persist/unpersist validate their arguments before any syscall', async (t) => {
  using uts = Namespace.current('uts')
  for (const bad of [undefined, 1, '', 'a\0b']) {
    const e = await t.throwsAsync(uts.persist(bad as string))
    t.true(e instanceof TypeError)
    t.regex((e as unknown as unknown as { code: string }).code, /^ERR_INVALID_ARG_/)
  }
  t.regex(
    (t.throws<NamespaceError>(() => Namespace.unpersistSync(42 as unknown as string)) as unknown as { code: string })
      .code,
    /^ERR_INVALID_ARG_/,
  )
  t.regex(
    ((await t.throwsAsync<NamespaceError>(Namespace.create('bogus' as 'net'))) as unknown as { code: string }).code,
    /^ERR_INVALID_ARG_/,
  )
})
