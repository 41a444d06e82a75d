// Opening namespaces and their identity: open, current, fromPath, fromFd, owner, parent.
import { closeSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'

import test from 'ava'

import { NAMESPACE_TYPES, Namespace, NamespaceError, spawn } from '../ts/index'
import { binding } from '../ts/loader'
import { nsFdCount, nsLink, target } from './helpers'

/** The process a kept pidfd of ours names (its fdinfo's Pid), or undefined. */
function keptPidfdOf(pid: number): number | undefined {
  return binding()
    .keptDescriptors()
    .find((fd) => {
      try {
        return (
          readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[pidfd]' &&
          new RegExp(`^Pid:\\s+${pid}$`, 'm').test(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))
        )
      } catch {
        return false
      }
    })
}

test('open(pid, type) is the namespace of /proc/<pid>/ns/<type>, for every type', async (t) => {
  const pid = await target(t, ['--uts', '--net', '--ipc', '--cgroup', '--mount', '--time', '--pid', '--fork'])
  for (const type of NAMESPACE_TYPES) {
    using ns = Namespace.open(pid, type)
    t.is(ns.type, type)
    t.is(ns.id, nsLink(pid, type), type)
    t.is(typeof ns.inode, 'bigint')
    t.is(typeof ns.device, 'bigint')
  }
})

test('a target in new namespaces differs from ours; the same namespace compares equal', async (t) => {
  const pid = await target(t, ['--uts', '--net'])
  using theirs = Namespace.open(pid, 'net')
  using again = Namespace.fromPath(`/proc/${pid}/ns/net`)
  using mine = Namespace.current('net')
  t.true(theirs.equals(again))
  t.false(theirs.equals(mine))
  using theirUser = Namespace.open(pid, 'user')
  t.true(theirUser.equals(Namespace.current('user')), 'unshare without --user stays in our user namespace')
})

test('open(pid) keeps the pidfd of the last pid for the next open, listed as kept', async (t) => {
  const pid = await target(t, ['--uts'])
  Namespace.open(pid, 'uts').close()
  const kept = keptPidfdOf(pid)
  t.not(kept, undefined, 'a pidfd on that process, in keptDescriptors()')
  using again = Namespace.open(pid, 'uts')
  t.is(again.id, nsLink(pid, 'uts'))
  t.is(keptPidfdOf(pid), kept, 'the same one, not a second')
  // Another pid's open replaces it: one per thread, never more.
  Namespace.open(process.pid, 'uts').close()
  t.is(keptPidfdOf(pid), undefined)
  t.not(keptPidfdOf(process.pid), undefined)
})

test.serial('open(pid) after that pid went to another process opens the new one', async (t) => {
  t.timeout(60_000)
  // The process whose pidfd is kept exits; its pid is handed to a new process (ns_last_pid, as
  // CRIU does) in a uts namespace of its own. open(pid) must give the new one's namespace.
  const ourChild = (pid: number) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid
    } catch {
      return false
    }
  }
  let outcome: { reused: boolean; hostname?: string; id?: string; expected?: string } = { reused: false }
  for (let i = 0; i < 20 && !outcome.reused; i++) {
    const old = spawn('sleep', ['30'], { unshare: ['uts'], hostname: 'nsjs-old', stdio: 'ignore' })
    const pid = old.pid as number
    using first = Namespace.open(pid, 'uts')
    t.is(
      first.run(() => hostname()),
      'nsjs-old',
    )
    t.not(keptPidfdOf(pid), undefined)
    old.kill('SIGKILL')
    await old.exited
    for (const until = Date.now() + 5000; ourChild(pid) && Date.now() < until; );
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1))
    const reuser = spawn('sleep', ['30'], { unshare: ['uts'], hostname: 'nsjs-new', stdio: 'ignore' })
    if (reuser.pid === pid) {
      using now = Namespace.open(pid, 'uts')
      outcome = { reused: true, hostname: now.run(() => hostname()), id: now.id, expected: nsLink(pid, 'uts') }
    }
    reuser.kill('SIGKILL')
    await reuser.exited
  }
  t.true(outcome.reused, 'the pid was handed to the new process')
  t.like(outcome, { hostname: 'nsjs-new' })
  t.is(outcome.id, outcome.expected)
})

test('openAll(pid, types) opens them in order through one pidfd; else every type', async (t) => {
  const pid = await target(t, ['--uts', '--net'])
  const [net, uts] = Namespace.openAll(pid, ['net', 'uts'])
  t.deepEqual([net.type, net.id, uts.type, uts.id], ['net', nsLink(pid, 'net'), 'uts', nsLink(pid, 'uts')])
  net.close()
  uts.close()
  const all = Namespace.openAll(pid)
  t.deepEqual(
    all.map((h) => h.type),
    [...NAMESPACE_TYPES],
    'this kernel has all eight',
  )
  t.deepEqual(
    all.map((h) => h.id),
    NAMESPACE_TYPES.map((type) => nsLink(pid, type)),
  )
  for (const h of all) h.close()
})

test('openAll validates first and leaves nothing open when it fails', (t) => {
  t.is(t.throws(() => Namespace.openAll(0))?.name, 'RangeError')
  t.is(
    (t.throws(() => Namespace.openAll(process.pid, ['net', 'bogus' as 'net'])) as { code?: string }).code,
    'ERR_INVALID_ARG_VALUE',
  )
  t.is(
    (t.throws(() => Namespace.openAll(process.pid, 'net' as unknown as ['net'])) as { code?: string }).code,
    'ERR_INVALID_ARG_TYPE',
  )
  const before = nsFdCount()
  // 4194304 is the largest pid Linux allows: nobody has it.
  t.is(t.throws<NamespaceError>(() => Namespace.openAll(4194304))?.code, 'ESRCH')
  t.is(nsFdCount(), before)
})

test("current(type) is the calling thread's namespace", (t) => {
  for (const type of NAMESPACE_TYPES) {
    using ns = Namespace.current(type)
    t.is(ns.id, nsLink('thread-self', type))
  }
})

test('fromPath checks the type and that the file is a namespace', (t) => {
  using ok = Namespace.fromPath('/proc/self/ns/uts', 'uts')
  t.is(ok.type, 'uts')
  const mismatch = t.throws(() => Namespace.fromPath('/proc/self/ns/net', 'uts'), { instanceOf: NamespaceError })
  t.is(mismatch?.code, 'ERR_NS_TYPE_MISMATCH')
  t.is(mismatch?.nsType, 'net')
  t.regex(mismatch?.message ?? '', /is a net namespace, not a uts namespace/)
  const notNs = t.throws(() => Namespace.fromPath('/etc/hostname'), { instanceOf: NamespaceError })
  t.is(notNs?.code, 'ERR_NS_NOT_NAMESPACE')
  t.is(notNs?.path, '/etc/hostname')
  const missing = t.throws(() => Namespace.fromPath('/nonexistent/ns'), { instanceOf: NamespaceError })
  t.is(missing?.code, 'ENOENT')
  t.is(missing?.errno, -2)
})

test('fromFd adopts a duplicate and reads the type from the kernel', (t) => {
  const fd = openSync('/proc/self/ns/ipc', 'r')
  try {
    using ns = Namespace.fromFd(fd)
    t.is(ns.type, 'ipc')
    t.not(ns.fd, fd, 'the handle holds its own descriptor')
    t.is(ns.id, nsLink('self', 'ipc'))
    t.is(Namespace.fromFd(fd, 'ipc').type, 'ipc')
    t.is(t.throws<NamespaceError>(() => Namespace.fromFd(fd, 'net'))?.code, 'ERR_NS_TYPE_MISMATCH')
  } finally {
    closeSync(fd)
  }
  const notNs = openSync('/etc/hostname', 'r')
  try {
    t.is(t.throws<NamespaceError>(() => Namespace.fromFd(notNs))?.code, 'ERR_NS_NOT_NAMESPACE')
  } finally {
    closeSync(notNs)
  }
  t.is(t.throws<NamespaceError>(() => Namespace.fromFd(987654))?.code, 'EBADF')
})

test("owner(), parent() and ownerUid() follow the kernel's relations", async (t) => {
  const pid = await target(t, ['--user', '--map-root-user', '--pid', '--fork', '--net'])
  using userNs = Namespace.open(pid, 'user')
  using net = Namespace.open(pid, 'net')
  t.true(net.owner().equals(userNs), 'the net namespace is owned by the new user namespace')
  t.true(userNs.parent().equals(Namespace.current('user')))
  t.is(userNs.ownerUid(), 0)
  using pidNs = Namespace.open(pid, 'pid')
  t.true(pidNs.parent().equals(Namespace.current('pid')))
  const e = t.throws(() => net.parent(), { instanceOf: NamespaceError })
  t.is(e?.code, 'EINVAL')
  t.is(t.throws<NamespaceError>(() => net.ownerUid())?.code, 'ERR_NS_TYPE_MISMATCH')
})

/**
 * Whether descriptor `fd` is open on the namespace `link` names. Not just "is fd open": another
 * thread of this process may be given the same number as soon as it is closed.
 */
function holdsNamespace(fd: number, link: string): boolean {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`) === link
  } catch {
    return false
  }
}

test('close() is idempotent and later use gives ERR_NS_CLOSED', (t) => {
  const ns = Namespace.current('net')
  const fd = ns.fd
  ns.close()
  ns.close()
  t.true(ns.closed)
  t.false(holdsNamespace(fd, nsLink('self', 'net')))
  for (const use of [() => ns.type, () => ns.inode, () => ns.joinSync(), () => ns.run(() => 1), () => ns.owner()]) {
    const e = t.throws(use, { instanceOf: NamespaceError })
    t.is(e?.code, 'ERR_NS_CLOSED')
  }
  t.is(String(require('node:util').inspect(ns)), 'Namespace <closed>')
})

test('using releases the descriptor at the end of the block', (t) => {
  let fd: number
  const uts = nsLink('self', 'uts')
  {
    using ns = Namespace.current('uts')
    fd = ns.fd
    t.true(holdsNamespace(fd, uts))
  }
  t.false(holdsNamespace(fd, uts))
})

test('the constructor is not public', (t) => {
  // @ts-expect-error the constructor takes a private key
  t.throws(() => new Namespace(Symbol('x'), null), { instanceOf: TypeError })
})
