// Errors: argument validation before any syscall, NamespaceError fields, and the unprivileged
// (EPERM) path, run for real as uid 65534 with no capabilities.
import test from 'ava'

import { errnoCode, fromNative, namespaceError } from '../ts/errors'
import { Namespace, NamespaceError } from '../ts/index'
import { asNobody, CATCH_FIELDS, target } from './helpers'

test("bad arguments throw TypeError/RangeError with Node's codes and wording", (t) => {
  const cases: Array<[() => unknown, typeof TypeError | typeof RangeError, string, RegExp]> = [
    [
      () => Namespace.open(-1, 'net'),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'pid' must be an integer from 1 to 4194304\. Received -1$/,
    ],
    [() => Namespace.open(0, 'net'), RangeError, 'ERR_INVALID_ARG_VALUE', /Received 0$/],
    [() => Namespace.open(1.5, 'net'), RangeError, 'ERR_INVALID_ARG_VALUE', /Received 1\.5$/],
    [() => Namespace.open(2 ** 23, 'net'), RangeError, 'ERR_INVALID_ARG_VALUE', /Received 8388608$/],
    [
      () => Namespace.open('12' as unknown as number, 'net'),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "pid" argument must be of type number\. Received type string \('12'\)$/,
    ],
    [
      () => Namespace.open(process.pid, 'bogus' as 'net'),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'type' must be one of: 'user', 'cgroup', .*'time'\. Received 'bogus'$/,
    ],
    [
      () => Namespace.open(process.pid, undefined as unknown as 'net'),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "type" argument must be of type string\. Received undefined$/,
    ],
    [() => Namespace.current('Net' as 'net'), TypeError, 'ERR_INVALID_ARG_VALUE', /Received 'Net'$/],
    [
      () => Namespace.fromPath(''),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'path' must be a non-empty string without null bytes\. Received ''$/,
    ],
    [
      () => Namespace.fromPath('/proc/self/ns/net', 'x' as 'net'),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'type' must be one of: /,
    ],
    [
      () => Namespace.fromFd(-3),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'fd' must be a non-negative integer file descriptor\. Received -3$/,
    ],
    [
      () => Namespace.current('net').run('x' as unknown as () => void),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "fn" argument must be of type function\. Received type string \('x'\)$/,
    ],
    [
      () => Namespace.current('net').equals({} as Namespace),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "other" argument must be an instance of Namespace\. Received an instance of Object$/,
    ],
    [
      () => Namespace.unshareSync(['net', 'nope' as 'net']),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'types\[1\]' must be one of: .*Received 'nope'$/,
    ],
    [
      () => Namespace.listSync({ pid: 0 }),
      RangeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.pid' must be an integer from 1 to 4194304\. Received 0$/,
    ],
  ]
  for (const [fn, Ctor, code, message] of cases) {
    const e = t.throws(fn, { instanceOf: Ctor }) as Error & { code: string }
    t.is(e.code, code, String(fn))
    t.regex(e.message, message, String(fn))
    t.false(e instanceof NamespaceError)
  }
})

test("errno codes are Node's names, E<number> where Node has none", (t) => {
  const names: Array<[number, string]> = [
    [1, 'EPERM'],
    [11, 'EAGAIN'],
    [95, 'ENOTSUP'], // libuv's name for EOPNOTSUPP, as Node's own system errors give it
    [10, 'ECHILD'], // not in libuv: os.constants.errno
    [8, 'ENOEXEC'],
    [87, 'E87'], // EUSERS: Node names it nowhere
    [0, 'E0'],
  ]
  for (const [errno, code] of names) t.is(errnoCode(errno), code, String(errno))
  // What the binding throws, as crates/node/src/error.rs builds it; errno 0 without a rule code
  // must still give a NamespaceError, not a RangeError from getSystemErrorName.
  const native = Object.assign(new Error('x'), { name: 'NativeNamespaceError', errno: 0, syscall: 'ioctl' })
  const e = fromNative(native) as NamespaceError
  t.true(e instanceof NamespaceError)
  t.like(e, { code: 'E0', errno: 0, syscall: 'ioctl' })
  const eusers = fromNative(
    Object.assign(new Error('x'), {
      name: 'NativeNamespaceError',
      errno: 87,
      syscall: 'unshare',
      step: 'unshare',
      nsType: 'user',
    }),
  ) as NamespaceError
  t.like(eusers, { code: 'E87', errno: -87, step: 'unshare' })
  t.regex(eusers.message, /^spawn failed at step 'unshare' \(user\) with E87$/)
})

test('a pid that does not exist gives ESRCH as a NamespaceError with the pid', (t) => {
  const e = t.throws(() => Namespace.open(4_000_000, 'net'), { instanceOf: NamespaceError })
  t.is(e?.code, 'ESRCH')
  t.is(e?.errno, -3)
  t.is(e?.pid, 4_000_000)
  t.is(e?.nsType, 'net')
  t.is(e?.syscall, 'pidfd_open')
  t.regex(e?.message ?? '', /no process with pid 4000000/)
  t.true(e instanceof Error)
})

test("as uid 65534: opening root's process namespaces is refused, naming ptrace", async (t) => {
  const pid = await target(t, ['--net'])
  const r = asNobody(`
    const out = {}
    try { nsjs.Namespace.open(${pid}, 'net'); out.open = 'opened' } catch (e) { out.open = (${CATCH_FIELDS})(e) }
    console.log(JSON.stringify(out))`) as { open: { name: string; code: string; message: string; nsType: string } }
  t.is(r.open.name, 'NamespaceError')
  t.true(['EACCES', 'EPERM'].includes(r.open.code), r.open.code)
  t.is(r.open.nsType, 'net')
  t.regex(r.open.message, /ptrace/)
})

test('as uid 65534: join, unshare, create, persist: EPERM naming CAP_SYS_ADMIN', (t) => {
  const r = asNobody(`
    const { Namespace } = nsjs
    const grab = (fn) => { try { const v = fn(); return v === undefined ? 'ok' : v } catch (e) { return (${CATCH_FIELDS})(e) } }
    const net = Namespace.current('net')
    const sync = {
      join: grab(() => net.joinSync()),
      unshare: grab(() => Namespace.unshareSync(['net'])),
      create: grab(() => Namespace.createSync('uts')),
      createPid: grab(() => Namespace.createSync('pid')),
      createUser: grab(() => Namespace.createSync('user').type),
      persist: grab(() => net.persistSync('/tmp/nsjs-nobody-' + process.pid)),
      // The test run's /run is a mount of its own, root's, mode 755: creating the file there is
      // what is refused (in a directory that is not a mount point, binding it onto itself is).
      persistUnwritable: grab(() => net.persistSync('/run/nsjs-nobody-' + process.pid)),
    }
    nsjs.exec('true', [], { unshare: ['pid'] }).then(() => 'ok', ${CATCH_FIELDS})
      .then((spawnPid) => console.log(JSON.stringify({ ...sync, spawnPid })))`) as Record<
    string,
    { code: string; syscall: string; message: string; step?: string } | string
  >
  const join = r.join as { code: string; syscall: string; message: string }
  t.is(join.code, 'EPERM')
  t.is(join.syscall, 'setns')
  t.regex(join.message, /CAP_SYS_ADMIN/)
  const unshare = r.unshare as { code: string; message: string }
  t.is(unshare.code, 'EPERM')
  t.regex(unshare.message, /CAP_SYS_ADMIN.*uidMap: 'current'/)
  t.is((r.create as { code: string }).code, 'EPERM')
  t.is(r.createUser, 'user', 'an unprivileged user may still create a user namespace')
  const persist = r.persist as { code: string; message: string }
  t.is(persist.code, 'EPERM')
  t.regex(persist.message, /CAP_SYS_ADMIN/)
  // A new pid namespace comes from clone(): the same rule and advice as for the other types.
  t.like(r.createPid, { code: 'EPERM', syscall: 'clone' })
  t.regex((r.createPid as { message: string }).message, /CAP_SYS_ADMIN.*'user'/)
  t.like(r.spawnPid, { code: 'EPERM', step: 'clone' })
  t.regex((r.spawnPid as { message: string }).message, /CAP_SYS_ADMIN.*'user'/)
  // A file that may not be created is a permission on its directory, not a ptrace rule.
  t.like(r.persistUnwritable, { code: 'EACCES', syscall: 'openat' })
  t.regex((r.persistUnwritable as { message: string }).message, /write access to its directory/)
  t.notRegex((r.persistUnwritable as { message: string }).message, /ptrace/)
})

test('EINVAL at step setns is explained for the namespace type it happened with', (t) => {
  const at = (nsType: string): string =>
    namespaceError({ code: 'EINVAL', errno: 22, syscall: 'setns', step: 'setns', nsType: nsType as 'user' }).message
  t.regex(
    at('user'),
    /^spawn failed at step 'setns' \(user\) with EINVAL: the kernel refuses to enter a user namespace the process is already in; nsjs leaves out the caller's own/,
  )
  t.regex(
    at('pid'),
    /^spawn failed at step 'setns' \(pid\) with EINVAL: a pid namespace can only be entered from its parent or an ancestor/,
  )
  t.regex(at('net'), /^spawn failed at step 'setns' \(net\) with EINVAL: the kernel refused to enter that namespace/)
  // Other errnos keep their own hint.
  t.regex(
    namespaceError({ code: 'EPERM', errno: 1, syscall: 'setns', step: 'setns', nsType: 'user' }).message,
    /CAP_SYS_ADMIN/,
  )
})
