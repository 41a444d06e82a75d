// create(), persist(), unpersist(): new namespaces that outlive their handle, and cleanup.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { NAMESPACE_TYPES, Namespace, NamespaceError } from '../ts/index'
import { nodeScript, nsLink, nsfsMounts, tempDir } from './helpers'

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
  t.deepEqual(ifaces.split('\n').slice(2).filter(Boolean).map((l) => l.trim().split(':')[0]), ['lo'])
})

test('create() copies the calling thread\'s namespaces, as createSync() does, after unshare on the JS thread', (t) => {
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
  t.teardown(() => { if (existsSync(path)) Namespace.unpersistSync(path) })
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

/** A shared tmpfs at a new directory, standing in for a systemd machine's shared / or /run. */
function sharedTmpfs(t: ExecutionContext): string {
  const dir = tempDir(t)
  execFileSync('mount', ['-t', 'tmpfs', '--make-shared', 'nsjs-shared', dir])
  unmountAllAt(t, dir)
  return dir
}

/** Unmounts at `dir` until nothing is mounted there, so a failing run leaves no stacked mount behind. */
function unmountAllAt(t: ExecutionContext, dir: string): void {
  t.teardown(() => {
    const at = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir)
    while (at()) execFileSync('umount', ['-l', dir])
  })
}

test('unpersist leaves nsjs\'s private mount in place when someone else mounted below it meanwhile', async (t) => {
  const dir = sharedTmpfs(t)
  const sub = join(dir, 'sub')
  mkdirSync(sub)
  execFileSync('mount', ['-t', 'tmpfs', 'nsjs-sub0', sub])
  using uts = await Namespace.create('uts')
  const file = join(dir, 'uts')
  await uts.persist(file)
  // Someone replaces the submount inside nsjs's private mount: the kernel may give the new mount
  // the id of the copy it replaces, but not its filesystem.
  execFileSync('umount', [sub])
  execFileSync('mount', ['-t', 'tmpfs', 'nsjs-admin', sub])
  writeFileSync(join(sub, 'admin'), 'theirs')
  await Namespace.unpersist(file)
  t.false(existsSync(file))
  t.is(readFileSync(join(sub, 'admin'), 'utf8'), 'theirs', 'their mount is still there and visible')
})

test('persist() works under a shared mount, by making the parent a private mount, and undoes it', async (t) => {
  const dir = sharedTmpfs(t)
  const sub = join(dir, 'netns')
  mkdirSync(sub)
  for (const type of ['mnt', 'net'] as const) {
    using ns = await Namespace.create(type)
    const file = join(sub, type)
    await ns.persist(file)
    t.is(Namespace.fromPath(file).id, ns.id)
  }
  const info = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === sub)
  t.truthy(info, 'the parent became a mount point')
  t.notRegex(info ?? '', /shared:/, 'and is private')
  await Namespace.unpersist(join(sub, 'mnt'))
  await Namespace.unpersist(join(sub, 'net'))
  const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(sub))
  t.deepEqual(left, [], 'the parent\'s own mount is gone again')
  // Directly in the shared mount point itself: nsjs stacks a private mount of its own on it and
  // never changes the propagation of the existing (shared) one. A submount stands in for
  // /run/lock under a systemd /run: its copy in nsjs's mount must not keep that mount alive.
  const lock = join(dir, 'lock')
  mkdirSync(lock)
  execFileSync('mount', ['-t', 'tmpfs', 'nsjs-lock', lock])
  const mountsUnder = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(dir))
  const before = mountsUnder()
  using uts = await Namespace.create('uts')
  await uts.persist(join(dir, 'uts'))
  t.true(mountsUnder().length > before.length + 1, 'a private mount of dir, with a copy of its submount, holds the file')
  await Namespace.unpersist(join(dir, 'uts'))
  t.deepEqual(mountsUnder(), before, 'unpersist took that mount and its copies away again')
  const own = before.filter((l) => l.split(' ')[4] === dir)
  t.is(own.length, 1, 'only the tmpfs itself is mounted there')
  t.regex(own[0], /shared:/, 'and it is still shared')
})

test('persist/unpersist validate their arguments before any syscall', async (t) => {
  using uts = Namespace.current('uts')
  for (const bad of [undefined, 1, '', 'a\0b']) {
    const e = await t.throwsAsync(uts.persist(bad as string))
    t.true(e instanceof TypeError)
    t.regex((e as unknown as unknown as { code: string }).code, /^ERR_INVALID_ARG_/)
  }
  t.regex((t.throws<NamespaceError>(() => Namespace.unpersistSync(42 as unknown as string)) as unknown as { code: string }).code, /^ERR_INVALID_ARG_/)
  t.regex((await t.throwsAsync<NamespaceError>(Namespace.create('bogus' as 'net')) as unknown as { code: string }).code, /^ERR_INVALID_ARG_/)
})
