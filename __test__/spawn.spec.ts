// spawn() and exec(): commands inside existing namespaces (nsenter) and new ones (unshare).
import { spawn as cpSpawn, execFileSync } from 'node:child_process'
import { once } from 'node:events'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs'
import { dirname, join } from 'node:path'
import { Worker } from 'node:worker_threads'

import test from 'ava'

import {
  type ExecError,
  type ExecOptions,
  exec,
  Namespace,
  NamespaceError,
  NsChildProcess,
  type SpawnOptions,
  spawn,
} from '../ts/index'
import { binding } from '../ts/loader'
import { SPAWN_KEYS } from '../ts/spawn/keys'
import { PROCESS_KEYS, processGiven, SETUP_KEYS, setupGiven } from '../ts/spawn/options-more'
import {
  asNobody,
  CATCH_FIELDS,
  fdsLeftSince,
  nsFdCount,
  nsjsFds,
  nsLink,
  procStat,
  ROOT,
  target,
  tempDir,
  zombieChildren,
} from './helpers'

test('exec in a new uts namespace with a hostname, leaving ours alone', async (t) => {
  const mine = readFileSync('/proc/sys/kernel/hostname', 'utf8')
  const r = await exec('hostname', [], { unshare: ['uts'], hostname: 'nsjs-box' })
  t.deepEqual(r, { stdout: 'nsjs-box\n', stderr: '', code: 0, signal: null })
  t.is(readFileSync('/proc/sys/kernel/hostname', 'utf8'), mine)
  const implied = await exec('hostname', [], { hostname: 'implied' })
  t.is(implied.stdout, 'implied\n', 'a hostname implies a new uts namespace')
  t.is(
    (await exec('hostname', [], { hostname: 'h'.repeat(64) })).stdout,
    `${'h'.repeat(64)}\n`,
    'the longest the kernel takes',
  )
  t.is(readFileSync('/proc/sys/kernel/hostname', 'utf8'), mine)
})

test('new pid namespace: the command is PID 1; with mountProc ps sees only its own', async (t) => {
  t.is((await exec('sh', ['-c', 'echo $$'], { unshare: ['pid'] })).stdout, '1\n')
  const ls = await exec('ls', ['/proc'], { unshare: ['pid', 'mnt'], mountProc: true })
  t.deepEqual(
    ls.stdout.split('\n').filter((l) => /^\d+$/.test(l)),
    ['1'],
    'ls, as PID 1, is the only process it sees',
  )
  t.true(readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length > 10, 'our own /proc is untouched')
})

test('user namespace maps as root: root, current and an explicit range', async (t) => {
  t.is((await exec('id', ['-u'], { unshare: ['user'], uidMap: 'root', gidMap: 'root' })).stdout, '0\n')
  t.is((await exec('id', ['-u'], { unshare: ['user'], uidMap: 'current' })).stdout, `${process.getuid!()}\n`)
  const r = await exec('sh', ['-c', 'id -u; cat /proc/self/uid_map; cat /proc/self/setgroups'], {
    unshare: ['user'],
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    gidMap: [{ inside: 0, outside: 100000, count: 65536 }],
  })
  const [uid, map, setgroups] = r.stdout.trim().split('\n')
  t.is(uid, '0')
  t.deepEqual(map.trim().split(/\s+/), ['0', '100000', '65536'])
  t.is(setgroups, 'allow', 'root may keep setgroups allowed with an explicit gid map')
  const nobody = await exec('id', ['-u'], {
    unshare: ['user'],
    uidMap: [{ inside: 0, outside: 100000, count: 65536 }],
    uid: 1000,
  })
  t.is(nobody.stdout, '1000\n', 'uid option switches inside the user namespace')
})

test('as uid 65534: root and current maps work, other ids fail with EPERM at uid_map', async (t) => {
  const r = asNobody(`
    const { exec } = nsjs
    const grab = (p) => p.then((v) => v.stdout.trim(), ${CATCH_FIELDS})
    Promise.all([
      grab(exec('id', ['-u'], { unshare: ['user', 'net'], uidMap: 'root', gidMap: 'root' })),
      grab(exec('id', ['-u'], { unshare: ['user'], uidMap: 'current', gidMap: 'current' })),
      grab(exec('id', ['-u'], { unshare: ['user'], uidMap: [{ inside: 0, outside: 0, count: 1 }] })),
      grab(exec('hostname', [], { unshare: ['uts'], hostname: 'x' })),
      grab(exec('sh', ['-c', 'hostname; cat /proc/self/setgroups'], { unshare: ['user', 'uts'], uidMap: 'root', gidMap: 'root', hostname: 'rootless' })),
    ]).then((v) => console.log(JSON.stringify(v)))`) as [
    string,
    string,
    { code: string; step: string; name: string; message: string },
    { code: string; step: string },
    string,
  ]
  t.is(r[0], '0')
  t.is(r[1], '65534')
  t.is(r[2].name, 'NamespaceError')
  t.is(r[2].code, 'EPERM')
  t.is(r[2].step, 'uid_map')
  t.regex(r[2].message, /CAP_SETUID/)
  t.is(r[3].code, 'EPERM', 'a new uts namespace without a user namespace needs CAP_SYS_ADMIN')
  t.is(r[3].step, 'unshare')
  t.is(r[4], 'rootless\ndeny')
})

test('time namespace offsets are visible inside', async (t) => {
  const host = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
  const r = await exec('cat', ['/proc/uptime'], { unshare: ['time'], timeOffsets: { monotonic: 3600, boottime: 7200 } })
  const inside = Number(r.stdout.split(' ')[0])
  t.true(inside - host > 7190 && inside - host < 7210, `uptime shifted by ${inside - host}s`)
})

test("join a target's namespaces: handles, { pid, types }, and the handle shorthands", async (t) => {
  const pid = await target(t, ['--net', '--uts', '--mount'], 'nsjs-target')
  const want = nsLink(pid, 'net')
  using net = Namespace.open(pid, 'net')
  t.is((await exec('readlink', ['/proc/self/ns/net'], { join: [net] })).stdout.trim(), want)
  t.is((await net.exec('readlink', ['/proc/self/ns/net'])).stdout.trim(), want)
  const both = await exec('sh', ['-c', 'readlink /proc/self/ns/net /proc/self/ns/mnt; hostname'], {
    join: { pid, types: ['net', 'mnt'] },
  })
  t.deepEqual(both.stdout.trim().split('\n'), [
    want,
    nsLink(pid, 'mnt'),
    readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(),
  ])
  const all = await exec('hostname', [], { join: { pid } })
  t.is(all.stdout, 'nsjs-target\n', 'without types every namespace the target does not share is entered')
  const child = net.spawn('readlink', ['/proc/self/ns/net'])
  // As with child_process, 'exit' can come before the last output: 'close' comes after both.
  const closed = new Promise((r) => child.once('close', r))
  let out = ''
  child.stdout?.on('data', (d) => (out += d))
  t.deepEqual(await child.exited, { code: 0, signal: null })
  await closed
  t.is(out.trim(), want)
})

test('joining all of openAll(pid) leaves out our own user namespace, as nsenter does', async (t) => {
  const pid = await target(t, ['--net', '--uts'], 'nsjs-same-user')
  const handles = Namespace.openAll(pid)
  t.teardown(() => {
    for (const h of handles) h.close()
  })
  using ownUser = Namespace.current('user')
  t.true(
    handles.some((h) => h.type === 'user' && h.equals(ownUser)),
    'the target shares our user namespace',
  )
  // setns to the user namespace one is in is EINVAL: this failed at step setns (user).
  const r = await exec('sh', ['-c', 'hostname; readlink /proc/self/ns/net /proc/self/ns/user'], { join: handles })
  t.deepEqual(r.stdout.trim().split('\n'), ['nsjs-same-user', nsLink(pid, 'net'), nsLink('self', 'user')])
  // Named twice, or through the handle shorthand: the same.
  const user = handles.find((h) => h.type === 'user') as Namespace
  const uts = handles.find((h) => h.type === 'uts') as Namespace
  t.is((await exec('hostname', [], { join: [user, user, uts] })).stdout, 'nsjs-same-user\n')
  t.is((await uts.exec('hostname', [], { join: [user] })).stdout, 'nsjs-same-user\n')
})

test('a sandbox in a joined net namespace: new user, pid and mnt, /proc mounted', async (t) => {
  // The joined namespace is entered with our privileges, then the new user namespace owns the
  // new pid namespace, which is what lets the sandbox mount its /proc.
  using net = await Namespace.create('net')
  const before = nsLink('thread-self', 'net')
  const r = await exec('sh', ['-c', 'id -u; echo $$; readlink /proc/self/ns/net; ls /proc | grep -c "^[0-9]"'], {
    join: [net],
    unshare: ['user', 'pid', 'mnt'],
    uidMap: 'root',
    gidMap: 'root',
    mountProc: true,
  })
  const [uid, pid, netId, procs] = r.stdout.trim().split('\n')
  t.is(uid, '0')
  t.is(pid, '1')
  t.is(netId, net.id)
  t.true(Number(procs) <= 3, `the sandbox's /proc shows its own few processes (${procs})`)
  t.is(nsLink('thread-self', 'net'), before, 'the calling thread is back in its own namespace')
})

test('joining a user namespace with others works from a multithreaded parent', async (t) => {
  const pid = await target(t, ['--user', '--map-root-user', '--uts'], 'in-userns')
  const r = await exec('sh', ['-c', 'id -u; hostname'], { join: { pid, types: ['user', 'uts'] } })
  t.is(r.stdout, '0\nin-userns\n')
})

test('entering a user namespace runs the command as root there, as nsenter -U does', async (t) => {
  // Root inside is uid/gid 100000 outside: our own ids are not mapped in these namespaces.
  const holder = (inside: number): NsChildProcess => {
    const map = [{ inside, outside: 100000, count: 1 }]
    const c = spawn('sleep', ['600'], { unshare: ['user', 'net'], uidMap: map, gidMap: map, stdio: 'ignore' })
    t.teardown(async () => {
      c.kill('SIGKILL')
      await c.exited
    })
    return c
  }
  const join = { pid: holder(0).pid as number }
  const r = await exec('sh', ['-c', 'id -u; id -g; id -G; ip link set lo up && ip -br link show lo | cut -d" " -f1'], {
    join,
  })
  t.is(r.stdout, '0\n0\n0\nlo\n', 'root with no other groups, and CAP_NET_ADMIN over the joined net namespace')
  const unmapped = await t.throwsAsync<NamespaceError>(exec('id', ['-u'], { join, uid: 7 }))
  t.like(unmapped, { code: 'EINVAL', step: 'setuid' })
  t.regex(unmapped?.message ?? '', /not mapped/)
  // A namespace that does not map 0: the default fails as nsenter does; explicit ids work.
  const other = { pid: holder(1).pid as number }
  t.like(await t.throwsAsync(exec('id', ['-u'], { join: other })), { code: 'EINVAL', step: 'setgid' })
  t.is((await exec('id', ['-u'], { join: other, uid: 1, gid: 1 })).stdout, '1\n')
})

// Serial: another test sets our supplementary groups for a while, and this one compares them.
test.serial('preserveCredentials keeps our ids in a joined user namespace, as nsenter', async (t) => {
  const startFds = nsjsFds()
  // Our uid and gid 0 are 1000 in there; in the other, where root is 100000 outside, unmapped.
  const mapped = { pid: await target(t, ['--user', '--map-user=1000', '--map-group=1000']), types: ['user' as const] }
  const map = [{ inside: 0, outside: 100000, count: 1 }]
  const holder = spawn('sleep', ['600'], { unshare: ['user'], uidMap: map, gidMap: map, stdio: 'ignore' })
  t.teardown(() => holder.kill('SIGKILL'))
  const unmapped = { pid: holder.pid as number, types: ['user' as const] }
  const who = ['-c', 'id -u; id -g; grep -E "^(Groups|CapEff):" /proc/self/status']
  // Our supplementary groups are kept, seen through the map (only 0 is mapped, to 1000); the
  // kernel ends the line with a space. Not process.getgroups(), which adds our egid.
  const ours = /^Groups:\t(.*) $/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? ''
  const groups = (zero: number) => (ours ? ours.split(' ').map((g) => (g === '0' ? zero : 65534)) : [])
  const lines = (uid: number, gid: number, zero: number) =>
    `${uid}\n${gid}\nGroups:\t${groups(zero).join(' ')} \nCapEff:\t0000000000000000\n`
  const kept = await exec('sh', who, { join: mapped, preserveCredentials: true })
  t.is(kept.stdout, lines(1000, 1000, 1000), 'our ids as mapped, no capabilities there')
  const overflow = await exec('sh', who, { join: unmapped, preserveCredentials: true })
  t.is(overflow.stdout, lines(65534, 65534, 65534), 'unmapped ids show as the overflow id')
  // false: root there, which this namespace does not map, as `nsenter -U` without the flag.
  const root = await t.throwsAsync<NamespaceError>(exec('id', ['-u'], { join: mapped, preserveCredentials: false }))
  t.like(root, { code: 'EINVAL', step: 'setgid' })
  t.regex(root?.message ?? '', /preserveCredentials/)
  // uid/gid given still apply, as nsenter's -S does with --preserve-credentials; the gid stays.
  const both = await exec('sh', ['-c', 'id -u; id -g'], { join: unmapped, preserveCredentials: true, uid: 0 })
  t.is(both.stdout, '0\n65534\n')
  // Nothing to keep them from without a user namespace joined: our ids, as without the option.
  const plain = await exec('id', ['-u'], { unshare: ['uts'], preserveCredentials: true })
  t.is(plain.stdout, `${process.getuid!()}\n`)
  const bad = t.throws(() => spawn('id', [], { join: mapped, preserveCredentials: 1 as unknown as boolean }))
  t.like(bad, { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
  holder.kill('SIGKILL')
  await holder.exited.catch(() => undefined)
  t.deepEqual(zombieChildren(), [])
  t.deepEqual(await fdsLeftSince(startFds), [], 'no join handle, pipe or pidfd is left')
})

test('as uid 65534, preserveCredentials keeps its ids in its own user namespace', (t) => {
  // A namespace that maps only 65534 to itself: without the option the command would be root
  // there, which is unmapped (EINVAL at setgid); with it, it stays 65534.
  const r = asNobody(`
    const { exec, spawn } = nsjs
    const grab = (p) => p.then((v) => v.stdout, ${CATCH_FIELDS})
    const holder = spawn('sleep', ['600'], { unshare: ['user'], uidMap: 'current', stdio: 'ignore' })
    const join = { pid: holder.pid, types: ['user'] }
    const who = ['-c', 'id -u; id -g; readlink /proc/self/ns/user']
    Promise.all([
      grab(exec('sh', who, { join, preserveCredentials: true })),
      grab(exec('sh', who, { join })),
      Promise.resolve(require('node:fs').readlinkSync('/proc/' + holder.pid + '/ns/user')),
    ]).then((v) => { holder.kill('SIGKILL'); console.log(JSON.stringify(v)) })`) as [
    string,
    { code: string; step: string },
    string,
  ]
  t.is(r[0], `65534\n65534\n${r[2]}\n`, 'its own ids, inside the joined namespace')
  t.like(r[1], { code: 'EINVAL', step: 'setgid' })
})

test('the child acts like a ChildProcess: events, fields, stdio, kill by pidfd', async (t) => {
  const events: string[] = []
  const child = spawn('sh', ['-c', 'read line; echo "got $line"; echo err >&2; exec sleep 30'], { unshare: ['uts'] })
  t.true(child instanceof NsChildProcess)
  t.true(child.pid! > 0)
  child.on('spawn', () => events.push('spawn'))
  child.on('exit', (code, signal) => events.push(`exit ${code} ${signal}`))
  const closed = new Promise((r) => child.on('close', (code, signal) => r([code, signal])))
  let out = ''
  let err = ''
  child.stdout?.on('data', (d) => (out += d))
  child.stderr?.on('data', (d) => (err += d))
  child.stdin?.end('hello\n')
  while (!err) await new Promise((r) => setTimeout(r, 10))
  const ns = child.namespaces()
  t.is(ns.uts!.id, nsLink(child.pid!, 'uts'))
  t.not(ns.uts!.id, nsLink('self', 'uts'))
  t.is((t.throws(() => child.kill('SIGFOO' as 'SIGTERM')) as { code?: string }).code, 'ERR_UNKNOWN_SIGNAL')
  t.false(child.killed)
  t.true(child.kill(0), 'signal 0 probes')
  t.true(child.killed, 'and counts as a kill, as in child_process')
  t.true(child.kill('SIGTERM'))
  t.deepEqual(await child.exited, { code: null, signal: 'SIGTERM' })
  t.deepEqual(await closed, [null, 'SIGTERM'])
  t.is(out, 'got hello\n')
  t.is(err, 'err\n')
  t.true(child.killed)
  t.is(child.exitCode, null)
  t.is(child.signalCode, 'SIGTERM')
  t.false(child.kill('SIGKILL'), 'signalling an exited child is a no-op, never a reused pid')
  t.deepEqual(events, ['spawn', 'exit null SIGTERM'])
  t.is(t.throws<NamespaceError>(() => child.namespaces())?.code, 'ESRCH')
})

test('stdio inherit gives the child our fds 0-2, which Node keeps close-on-exec', async (t) => {
  // A child whose stdout and stderr were closed would fail its writes (sh exits non-zero).
  t.deepEqual(
    await spawn('sh', ['-c', 'echo "# stdio inherit: stdout reached"; echo "# stdio inherit: stderr reached" >&2'], {
      stdio: 'inherit',
    }).exited,
    { code: 0, signal: null },
  )
  const mixed = spawn('sh', ['-c', 'echo to-pipe; echo "# stdio inherit: stderr reached" >&2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  mixed.stdout?.on('data', (d) => (out += d))
  t.deepEqual(await mixed.exited, { code: 0, signal: null })
  await new Promise((r) => (mixed.stdout?.readableEnded ? r(null) : mixed.stdout?.once('close', r)))
  t.is(out, 'to-pipe\n')
})

test('the child starts with default signal handlers and an empty signal mask', async (t) => {
  const r = await exec('grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status'])
  t.deepEqual(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/)[1]),
    ['0000000000000000', '0000000000000000'],
  )
  const pipe = await exec('sh', ['-c', 'yes | head -n 1'])
  t.is(pipe.stderr, '', 'yes died of SIGPIPE quietly instead of reporting EPIPE')
})

test.serial('no descriptor of the parent reaches the child except stdio', async (t) => {
  using held = Namespace.current('net')
  t.true(held.fd > 2)
  const r = await exec('sh', ['-c', 'ls /proc/$$/fd'])
  t.deepEqual(r.stdout.trim().split('\n').map(Number).sort(), [0, 1, 2])
})

test.serial("'ignore' uses one /dev/null kept per thread, closed with a worker", async (t) => {
  const nulls = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === '/dev/null'
      } catch {
        return false
      }
    })
  await spawn('true', [], { stdio: 'ignore' }).exited
  const before = nulls()
  t.true(
    binding()
      .keptDescriptors()
      .some((fd) => before.includes(String(fd))),
    'listed, and open on /dev/null',
  )
  for (let i = 0; i < 20; i++) await spawn('true', [], { stdio: 'ignore' }).exited
  // (Workers of earlier tests may still be ending: their descriptors may go meanwhile.)
  t.deepEqual(
    nulls().filter((fd) => !before.includes(fd)),
    [],
    'no descriptor per spawn',
  )
  // A worker keeps its own while it lives (the one its spawn added); it goes with the thread.
  const worker = new Worker(
    `const { spawn } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
     const { binding } = require(${JSON.stringify(join(ROOT, 'ts', 'loader.ts'))})
     const { parentPort } = require('node:worker_threads')
     const had = binding().keptDescriptors()
     spawn('true', [], { stdio: 'ignore' }).exited.then(() =>
       parentPort.postMessage(binding().keptDescriptors().filter((fd) => !had.includes(fd))))
     // Alive until terminated: a worker that ends by itself takes its descriptor with it.
     parentPort.on('message', () => {})`,
    { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] },
  )
  const [added] = (await once(worker, 'message')) as [number[]]
  t.is(added.length, 1)
  t.is(readlinkSync(`/proc/self/fd/${added[0]}`), '/dev/null')
  await worker.terminate()
  t.false(binding().keptDescriptors().includes(added[0]), 'unlisted once the worker has ended')
  t.deepEqual(
    nulls().filter((fd) => !before.includes(fd)),
    [],
    'and closed',
  )
})

test.serial('a kept /dev/null closed behind our back is never given to a child', async (t) => {
  // In a worker of its own, so that the descriptor closed is that thread's kept one.
  const secret = join(tempDir(t), 'secret')
  const worker = new Worker(
    `const { exec, spawn } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
     const { binding } = require(${JSON.stringify(join(ROOT, 'ts', 'loader.ts'))})
     const fs = require('node:fs')
     const { parentPort } = require('node:worker_threads')
     ;(async () => {
       const had = binding().keptDescriptors()
       await spawn('true', [], { stdio: 'ignore' }).exited
       const [kept] = binding().keptDescriptors().filter((fd) => !had.includes(fd))
       // As careless code would: close a descriptor it does not own, then open a file there.
       fs.closeSync(kept)
       // Files are opened until one gets that number (the lowest free ones go first).
       const extra = []
       let file = fs.openSync(${JSON.stringify(secret)}, 'w+')
       while (file !== kept && extra.length < 1000) {
         extra.push(file)
         file = fs.openSync(${JSON.stringify(secret)}, 'r+')
       }
       for (const fd of extra) fs.closeSync(fd)
       fs.writeSync(file, 'not for the child')
       const r = await exec('sh', ['-c', 'readlink /proc/self/fd/0; cat'], { stderr: 'ignore' })
       const left = fs.readlinkSync('/proc/self/fd/' + file)
       fs.closeSync(file)
       parentPort.postMessage({ reused: file === kept, stdout: r.stdout, left })
     })()`,
    { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] },
  )
  const [got] = (await once(worker, 'message')) as [{ reused: boolean; stdout: string; left: string }]
  await worker.terminate()
  t.true(got.reused, 'a file got the kept number')
  t.is(got.stdout, '/dev/null\n')
  t.is(got.left, secret, 'the file at that number is left alone')
})

test('failing steps reject with a NamespaceError naming the step', async (t) => {
  const missing = await t.throwsAsync(exec('/nonexistent/binary', []), { instanceOf: NamespaceError })
  t.is(missing?.code, 'ENOENT')
  t.is(missing?.step, 'execve')
  t.is(missing?.errno, -2)
  const noPath = await t.throwsAsync(exec('nsjs-no-such-command', []), { instanceOf: NamespaceError })
  t.is(noPath?.step, 'execve')
  const cwd = await t.throwsAsync(exec('true', [], { cwd: '/nonexistent-dir' }), { instanceOf: NamespaceError })
  t.is(cwd?.step, 'chdir')
  t.is(cwd?.code, 'ENOENT')
  t.regex(cwd?.message ?? '', /no such directory/)
  // Overlapping ranges: the kernel says EINVAL, which must not be explained by the EPERM rule.
  const overlap = await t.throwsAsync<NamespaceError>(
    exec('true', [], {
      uidMap: [
        { inside: 0, outside: 0, count: 2 },
        { inside: 1, outside: 5, count: 1 },
      ],
    }),
  )
  t.like(overlap, { code: 'EINVAL', step: 'uid_map' })
  t.regex(overlap?.message ?? '', /overlap/)
  t.notRegex(overlap?.message ?? '', /CAP_SETUID/)
  const events: unknown[] = []
  const child = spawn('/nonexistent/binary')
  child.on('error', (e) => events.push(e))
  await t.throwsAsync(child.exited, { instanceOf: NamespaceError })
  await new Promise((r) => child.once('close', r))
  t.is(events.length, 1)
  t.is(child.pid, undefined)
  t.regex(t.throws<NamespaceError>(() => child.namespaces())?.message ?? '', /never started/)
})

test('without env the child gets process.env as it is now; with env exactly that', async (t) => {
  process.env.NSJS_TEST_VAR = 'set here'
  t.teardown(() => delete process.env.NSJS_TEST_VAR)
  t.is((await exec('sh', ['-c', 'echo "$NSJS_TEST_VAR"'])).stdout, 'set here\n')
  delete process.env.NSJS_TEST_VAR
  t.is((await exec('sh', ['-c', 'echo "${NSJS_TEST_VAR-unset}"'])).stdout, 'unset\n')
  const only = await exec('/usr/bin/env', [], { env: { ONLY: '1' } })
  t.is(only.stdout, 'ONLY=1\n')
  // A worker's process.env is its own copy: what it sets reaches its children.
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads')
    const { exec } = require(${JSON.stringify(require.resolve('../ts/index'))})
    process.env.NSJS_WORKER_VAR = 'from worker'
    exec('sh', ['-c', 'echo "$NSJS_WORKER_VAR"']).then((r) => parentPort.postMessage(r.stdout))`,
    { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] },
  )
  t.is(
    await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    }),
    'from worker\n',
  )
  await w.terminate()
})

test('a worker spawning while the main thread rewrites process.env does not crash', async (t) => {
  t.timeout(60_000)
  // Every spawn of a bare name with an env that has no PATH needs our PATH. Native code that read
  // it with getenv on the worker raced Node's setenv on the main thread, which grows (reallocs
  // and frees) the environ array that getenv walks: a SIGSEGV within seconds. A large environment
  // without PATH makes each walk long, so the race shows quickly.
  const index = JSON.stringify(join(ROOT, 'ts', 'index.ts'))
  const script = `
    const { Worker } = require('node:worker_threads')
    const code = \`
      const { parentPort, workerData } = require('node:worker_threads')
      const { spawn } = require(${index})
      let n = 0
      let failed = 0
      const end = Date.now() + workerData
      const next = () => spawn('true', [], { env: { ONLY: '1' }, stdio: 'ignore' }).exited.then((s) => {
        n++
        if (s.code !== 0) failed++
        if (Date.now() < end) next()
        else parentPort.postMessage({ n, failed })
      }, (e) => parentPort.postMessage({ error: String(e) }))
      next()\`
    const results = []
    let stop = false
    for (let k = 0; k < 2; k++) {
      const w = new Worker(code, { eval: true, workerData: 3000, execArgv: process.execArgv })
      w.once('message', (r) => {
        results.push(r)
        w.terminate()
        if (results.length === 2) {
          stop = true
          console.log(JSON.stringify(results))
        }
      })
    }
    let i = 0
    const churn = () => {
      for (let k = 0; k < 200; k++) process.env['NSJS_CHURN_' + i++] = 'x'
      if (i % 4000 === 0) for (let j = i - 4000; j < i; j++) delete process.env['NSJS_CHURN_' + j]
      if (!stop) setImmediate(churn)
    }
    churn()`
  const env: Record<string, string> = { TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') }
  for (let i = 0; i < 3000; i++) env[`NSJS_FILL_${i}`] = 'y'.repeat(12)
  const { execFile } = await import('node:child_process')
  const run = await new Promise<{ err: (Error & { code?: unknown; signal?: unknown }) | null; out: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        ['--require', require.resolve('tsx/cjs'), '-e', script],
        { env, encoding: 'utf8' },
        (err, out) => resolve({ err, out }),
      )
    },
  )
  t.is(run.err?.signal ?? null, null, 'the process was not killed by a signal')
  t.is(run.err, null)
  const results = JSON.parse(run.out) as Array<{ n: number; failed: number }>
  for (const r of results) {
    t.true(r.n > 0)
    t.is(r.failed, 0, 'without any PATH of ours, true is found in the default path')
  }
})

test.serial('a worker ending right after spawning leaves no pipe open, no child waiting', async (t) => {
  const startFds = nsjsFds()
  const { Worker } = await import('node:worker_threads')
  // The built package: tsx in a worker keeps pipes of its own open, which would blur the count.
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads')
    const { spawn } = require(${JSON.stringify(join(ROOT, 'dist', 'cjs', 'index.js'))})
    const pids = Array.from({ length: 10 }, () => spawn('cat', []).pid)
    parentPort.postMessage(pids)
    process.exit(0)`,
    { eval: true },
  )
  const exited = once(w, 'exit')
  const pids = await new Promise<number[]>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  await exited
  // Each cat reads its stdin to EOF: that only comes when our end of the pipe is closed.
  const alive = (pid: number): boolean => (procStat(pid)?.state ?? 'Z') !== 'Z'
  for (let i = 0; i < 200 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 20))
  const left = pids.filter(alive)
  for (const pid of left) process.kill(pid, 'SIGKILL')
  t.deepEqual(left, [], 'every cat saw EOF and ended')
  t.deepEqual(await fdsLeftSince(startFds), [], 'no pipe end or pidfd of the worker is left')
})

test('a uid alone drops our supplementary groups, as child_process does', async (t) => {
  const before = process.getgroups!()
  // Earlier spawns started the reaper thread: glibc's setgroups, which signals every thread of
  // the process, must still complete (a thread blocking glibc's internal signals hangs it).
  process.setgroups!([0, 6, 27])
  t.teardown(() => process.setgroups!(before))
  const r = await exec('grep', ['^Groups:', '/proc/self/status'], { uid: 65534 })
  t.is(r.stdout.trim(), 'Groups:')
})

test('noNewPrivs: a set-user-ID program run as uid 65534 gains nothing', async (t) => {
  // A set-user-ID-root copy of id(1): without no_new_privs execve makes its effective uid 0.
  const dir = tempDir(t)
  chmodSync(dir, 0o755)
  const suid = join(dir, 'id')
  copyFileSync('/usr/bin/id', suid)
  chmodSync(suid, 0o4755)
  const euid = async (noNewPrivs?: boolean) => (await exec(suid, ['-u'], { uid: 65534, noNewPrivs })).stdout.trim()
  t.is(await euid(), '0', 'the set-user-ID bit works here')
  t.is(await euid(false), '0')
  t.is(await euid(true), '65534')
  const status = await exec('grep', ['^NoNewPrivs:', '/proc/self/status'], { noNewPrivs: true })
  t.is(status.stdout.trim(), 'NoNewPrivs:\t1')
  // It comes after every step that needs privilege: a rootless sandbox still builds.
  const boxed = await exec('id', ['-u'], {
    unshare: ['user', 'pid', 'mnt'],
    uidMap: 'root',
    mountProc: true,
    noNewPrivs: true,
  })
  t.is(boxed.stdout, '0\n')
})

test('exec rejects a non-zero exit with its output and status, like execFile', async (t) => {
  const e = await t.throwsAsync(exec('sh', ['-c', 'echo out; echo err >&2; exit 3']))
  t.like(e, { stdout: 'out\n', stderr: 'err\n', code: 3, signal: null })
  const b = await exec('printf', ['\\x00\\xff'], { encoding: 'buffer' })
  t.deepEqual([...b.stdout], [0, 255])
  t.is((await exec('cat', [], { input: 'fed to stdin' })).stdout, 'fed to stdin')
  t.is((await exec('echo', ['$HOME; ls'])).stdout, '$HOME; ls\n', 'argv is never passed through a shell')
})

test('exec: a stream the command left empty is an empty string, or a Buffer of its own', async (t) => {
  t.deepEqual(await exec('true'), { stdout: '', stderr: '', code: 0, signal: null })
  const [a, b] = await Promise.all([
    exec('true', [], { encoding: 'buffer' }),
    exec('echo', ['x'], { encoding: 'buffer' }),
  ])
  t.true(Buffer.isBuffer(a.stdout) && Buffer.isBuffer(a.stderr) && Buffer.isBuffer(b.stderr))
  t.deepEqual([a.stdout.length, a.stderr.length, b.stderr.length], [0, 0, 0])
  t.is(b.stdout.toString(), 'x\n')
  t.true(a.stdout !== a.stderr && a.stderr !== b.stderr, 'no Buffer is shared between results')
})

test('exec checks encoding before starting; every Buffer encoding and buffer work', async (t) => {
  const marker = `nsjs-encoding-${process.pid}`
  for (const encoding of ['bogus', 'UTF-9', 42, null]) {
    // An unknown encoding used to start the command and then throw, uncaught, from the 'close'
    // listener, leaving the promise pending for ever: it must reject before any child exists.
    const p = exec('sh', ['-c', `exec -a ${marker} sleep 5`], { encoding: encoding as 'utf8' })
    const e = await t.throwsAsync(
      Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error('exec did not settle')), 2000))]),
    )
    t.like(e, { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' }, String(encoding))
    t.regex(e?.message ?? '', /^The property 'options\.encoding' is invalid encoding\. Received /)
  }
  const started = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker)
      } catch {
        return false
      }
    })
  t.deepEqual(started, [], 'no command was started')
  for (const [encoding, want] of [
    ['hex', '6162'],
    ['base64', 'YWI='],
    ['latin1', 'ab'],
    ['UTF-8', 'ab'],
    ['ucs2', '\u6261'],
  ] as const) {
    t.is((await exec('printf', ['ab'], { encoding: encoding as BufferEncoding })).stdout, want, encoding)
  }
})

test('AbortSignal and timeout kill the child and reject', async (t) => {
  const ac = new AbortController()
  const p = exec('sleep', ['30'], { signal: ac.signal, unshare: ['uts'] })
  setTimeout(() => ac.abort(), 50)
  const aborted = await t.throwsAsync(p)
  t.is(aborted?.name, 'AbortError')
  t.like(aborted, { signal: 'SIGTERM' })
  // exec reports a timeout as promisified execFile does: a failed command that was killed.
  const timedOut = await t.throwsAsync(exec('sleep', ['30'], { timeout: 50, killSignal: 'SIGKILL' }))
  t.like(timedOut, { code: null, signal: 'SIGKILL', killed: true, cmd: 'sleep 30' })
  t.regex(timedOut?.message ?? '', /^Command failed: sleep 30/)
  // spawn's `exited` says why it rejects.
  const slow = spawn('sleep', ['30'], { timeout: 50 })
  t.like(await t.throwsAsync(slow.exited), { code: 'ETIMEDOUT', signal: 'SIGTERM' })
  // Already aborted: not started at all, so the command never runs (child_process starts it and
  // kills it at once, which leaves it a moment to run).
  const pre = new AbortController()
  pre.abort()
  const events: string[] = []
  const marker = join(tempDir(t), 'ran')
  const child = spawn('touch', [marker], { signal: pre.signal })
  child.on('spawn', () => events.push('spawn'))
  child.on('error', (e) => events.push(e.name))
  // Not events.once: it rejects on the 'error' that comes first.
  const closed = new Promise((resolve) => child.once('close', resolve))
  t.is((await t.throwsAsync(child.exited))?.name, 'AbortError')
  await closed
  t.deepEqual(events, ['AbortError'])
  t.is(child.pid, undefined)
  t.false(existsSync(marker), 'the command did not run')
  t.is((await t.throwsAsync(exec('touch', [marker], { signal: pre.signal })))?.name, 'AbortError')
  t.false(existsSync(marker))
  // The first of timeout and abort is what is reported (sh and sleep ignore SIGTERM here).
  const both = await t.throwsAsync<ExecError>(
    exec('sh', ['-c', 'trap "" TERM; sleep 1'], { timeout: 100, signal: AbortSignal.timeout(400) }),
  )
  t.like(both, { name: 'Error', killed: true })
  t.regex(both?.message ?? '', /^Command failed/)
})

test('exec settles when the command is killed, not when its children close output', async (t) => {
  // Each background sleep gets a duration of its own (30.0<n> seconds), so the test finds and
  // ends exactly its own, whether or not sh had printed its pid when the kill came.
  let n = 0
  const mark = () => `30.0${process.pid}${n++}`
  const cmdline = (pid: string) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      return '' // exited while we looked
    }
  }
  const own = (token: string) =>
    readdirSync('/proc').filter((d) => /^\d+$/.test(d) && cmdline(d).endsWith(`\0${token}\0`))
  t.teardown(() => {
    for (let i = 0; i < n; i++) for (const pid of own(`30.0${process.pid}${i}`)) process.kill(Number(pid), 'SIGKILL')
  })
  // Killed by timeout, and by an abort sent once the background sleep runs.
  for (const kill of ['timeout', 'signal'] as const) {
    const token = mark()
    const controller = new AbortController()
    const started = Date.now()
    const run = exec(
      'sh',
      ['-c', `sleep ${token} & echo $!; wait`],
      kill === 'timeout' ? { timeout: 1000 } : { signal: controller.signal },
    )
    if (kill === 'signal') {
      while (own(token).length === 0) await new Promise((r) => setTimeout(r, 10))
      setTimeout(() => controller.abort(), 200)
    }
    const e = await t.throwsAsync<ExecError>(run)
    const elapsed = Date.now() - started
    t.true(elapsed < 5000, `${kill}: settled after ${elapsed} ms, not when the sleep ended`)
    t.is(e?.signal, 'SIGTERM')
    const sleepers = own(token)
    if (sleepers.length > 0) t.is(e?.stdout.trim(), sleepers[0], `${kill}: the output before the kill is kept`)
  }
  // The command itself exits at once; as with execFile, the timeout still ends the wait for
  // the output its child keeps open, and the result is the command's own.
  const token = mark()
  const started = Date.now()
  const r = await exec('sh', ['-c', `sleep ${token} & echo $!`], { timeout: 300 })
  t.like(r, { code: 0, signal: null })
  t.is(r.stdout.trim(), own(token)[0])
  t.true(Date.now() - started < 5000)
})

test('exec maxBuffer: keeps what fits, names the stream, kills the child', async (t) => {
  const out = await t.throwsAsync<ExecError<string>>(exec('head', ['-c', '2000', '/dev/zero'], { maxBuffer: 100 }))
  t.like(out, {
    name: 'RangeError',
    code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER',
    message: 'stdout maxBuffer length exceeded',
    cmd: 'head -c 2000 /dev/zero',
  })
  t.is(out?.stdout.length, 100)
  const err = await t.throwsAsync<ExecError<Buffer>>(
    exec('sh', ['-c', 'head -c 5000 /dev/zero >&2'], { maxBuffer: 1000, encoding: 'buffer' }),
  )
  t.like(err, { code: 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', message: 'stderr maxBuffer length exceeded' })
  t.is(err?.stderr.length, 1000)
  t.is(
    (await exec('head', ['-c', '100', '/dev/zero'], { maxBuffer: 100 })).stdout.length,
    100,
    'exactly maxBuffer is fine',
  )
  t.is(
    (await t.throwsAsync<ExecError>(exec('printf', ['a\u00e9'], { maxBuffer: 2 })))?.stdout,
    'a',
    'a character cut in two is dropped, not U+FFFD',
  )
  for (const [bad, code] of [
    [-3, 'ERR_OUT_OF_RANGE'],
    [Number.NaN, 'ERR_OUT_OF_RANGE'],
    ['1', 'ERR_INVALID_ARG_TYPE'],
  ] as const) {
    t.like(await t.throwsAsync(exec('true', [], { maxBuffer: bad as number })), { code })
  }
  t.like(
    await t.throwsAsync(exec('cat', [], { input: 42 as unknown as string })),
    { code: 'ERR_INVALID_ARG_TYPE' },
    'input is checked before anything starts',
  )
  t.is((await exec('cat', [], { input: new Uint8Array([104, 105]) })).stdout, 'hi')
})

test('with no error listener, a failure rejects exited and throws nothing', async (t) => {
  // An 'error' nobody listens for would be an uncaught exception that fails this test file.
  t.like(await t.throwsAsync(spawn('nsjs-no-such-command').exited), { code: 'ENOENT', step: 'execve' })
  t.is((await t.throwsAsync(spawn('sleep', ['30'], { signal: AbortSignal.abort() }).exited))?.name, 'AbortError')
  // With a listener, 'error' is emitted as child_process does.
  const c = spawn('nsjs-no-such-command')
  const [e] = await once(c, 'error')
  t.is(e.code, 'ENOENT')
  await t.throwsAsync(c.exited)
})

test('root: chroot into a directory and pivotRoot into it in a new mount namespace', async (t) => {
  const rootfs = join(tempDir(t), 'rootfs')
  for (const d of ['usr', 'proc', 'etc', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true })
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(rootfs, l))
  // The binaries come from the host's /usr, bound read-only by the test (and unmounted after).
  execFileSync('mount', ['--bind', '-o', 'ro', '/usr', join(rootfs, 'usr')])
  t.teardown(() => execFileSync('umount', ['-l', join(rootfs, 'usr')]))
  const chroot = await exec('sh', ['-c', 'ls / | tr "\\n" " "; pwd'], { root: rootfs, cwd: '/tmp' })
  t.is(chroot.stdout, 'bin etc lib lib64 proc sbin tmp usr /tmp\n')
  const pivot = await exec('sh', ['-c', 'ls / | tr "\\n" " "; echo; echo $$'], {
    unshare: ['mnt', 'pid'],
    root: rootfs,
    pivotRoot: true,
    mountProc: true,
  })
  const [ls, pid1] = pivot.stdout.trim().split('\n')
  t.is(ls, 'bin etc lib lib64 proc sbin tmp usr ')
  t.is(pid1, '1')
  // Rootless, /proc has to be mounted before the old root is detached: the kernel refuses an
  // unprivileged proc mount when no other proc is visible in the mount namespace.
  chmodSync(dirname(rootfs), 0o755)
  const options = { unshare: ['user', 'mnt', 'pid'], uidMap: 'root', gidMap: 'root', root: rootfs, mountProc: true }
  const rootless = asNobody(`
    const grab = (p) => p.then((v) => v.stdout, ${CATCH_FIELDS})
    const options = ${JSON.stringify(options)}
    const script = ['-c', 'echo $$; id -u; cat /proc/1/comm; set -- /proc/[0-9]*; echo $#']
    Promise.all([grab(nsjs.exec('sh', script, { ...options, pivotRoot: true })), grab(nsjs.exec('sh', script, options))])
      .then((r) => console.log(JSON.stringify(r)))`)
  t.deepEqual(
    rootless,
    ['1\n0\nsh\n1\n', '1\n0\nsh\n1\n'],
    'pid 1 is sh, root inside, and /proc shows only sh once cat is gone',
  )
  // A symbolic link at root/proc would be followed out of the new root before the pivot.
  const linked = join(dirname(rootfs), 'linked')
  for (const d of ['usr', 'tmp']) mkdirSync(join(linked, d), { recursive: true })
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(linked, l))
  symlinkSync(join(rootfs, 'proc'), join(linked, 'proc'))
  const escaped = await t.throwsAsync<NamespaceError>(
    exec('true', [], { unshare: ['mnt', 'pid'], root: linked, pivotRoot: true, mountProc: true }),
  )
  t.like(escaped, { code: 'ENOTDIR', step: 'mount /proc' })
  t.regex(escaped?.message ?? '', /must be a directory/)
})

test.serial('hundreds of spawns beside child_process: all reaped, no zombies, no fd leak', async (t) => {
  // The reaper's epoll descriptor and libuv's SIGCHLD pipe are made once, on first use.
  await spawn('true', [], { stdio: 'ignore' }).exited
  await new Promise((resolve) => cpSpawn('true').on('close', resolve))
  // Counted over the kinds of descriptor a spawn makes: the runner opens and closes its own.
  const startFds = nsjsFds()
  const ours = Array.from(
    { length: 300 },
    (_, i) => spawn('true', [], { unshare: i % 2 ? ['uts'] : [], stdio: 'ignore' }).exited,
  )
  const theirs = Array.from(
    { length: 50 },
    () => new Promise<number | null>((resolve) => cpSpawn('true').on('close', resolve)),
  )
  const results = await Promise.all(ours)
  t.true(results.every((r) => r.code === 0 && r.signal === null))
  t.true(
    (await Promise.all(theirs)).every((c) => c === 0),
    'node:child_process children still exit and are reaped by Node',
  )
  t.deepEqual(zombieChildren(), [])
  t.deepEqual(await fdsLeftSince(startFds), [])
})

test('close comes after exit even when nobody reads the output, as with child_process', async (t) => {
  const c = spawn('sh', ['-c', 'echo out; echo err >&2'])
  const [code] = (await once(c, 'close')) as [number | null]
  t.is(code, 0)
  t.true(c.stdout?.destroyed && c.stderr?.destroyed)
})

test('each option of the groups read apart from normalize() alone gets its group read', (t) => {
  // readSetup/readProcess can only read the options their key lists name (the compiler sees to
  // that); a spawn giving just one of them must still have that group read, not skipped.
  for (const [keys, given] of [
    [SETUP_KEYS, setupGiven],
    [PROCESS_KEYS, processGiven],
  ] as const) {
    t.false(given({}))
    for (const k of keys) t.true(given({ [k]: false }), k)
  }
  t.deepEqual(
    [...SETUP_KEYS, ...PROCESS_KEYS].filter((k) => !SPAWN_KEYS.includes(k)),
    [],
    'spawn options, each read once by readSpawnOptions',
  )
})

test('spawn validates its arguments before anything starts', (t) => {
  const bad: Array<[() => unknown, string]> = [
    [() => spawn(42 as unknown as string), 'ERR_INVALID_ARG_TYPE'],
    [() => spawn('true', 'x' as unknown as string[]), 'ERR_INVALID_ARG_TYPE'],
    [() => spawn('true', [], { unshare: ['bogus' as 'net'] }), 'ERR_INVALID_ARG_VALUE'],
    [() => spawn('true', [], { uidMap: 'nobody' as 'root' }), 'ERR_INVALID_ARG_VALUE'],
    [() => spawn('true', [], { uidMap: [{ inside: 0, outside: -1, count: 1 }] }), 'ERR_INVALID_ARG_VALUE'],
    [() => spawn('true', [], { stdio: ['pipe', 'bogus' as 'pipe', 'pipe'] }), 'ERR_INVALID_ARG_VALUE'],
    [() => spawn('true', [], { join: { pid: -5 } }), 'ERR_INVALID_ARG_VALUE'],
    [() => spawn('true', [], { join: [{} as Namespace] }), 'ERR_INVALID_ARG_TYPE'],
    [() => spawn('true', [], { killSignal: 'SIGNOPE' as 'SIGTERM' }), 'ERR_UNKNOWN_SIGNAL'],
    [() => spawn('true', [], { timeout: -1 }), 'ERR_OUT_OF_RANGE'],
    [() => spawn('true', [], { hostname: 'h'.repeat(65) }), 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [fn, code] of bad) t.is((t.throws(fn) as { code?: string }).code, code, String(fn))
  const closed = Namespace.current('net')
  closed.close()
  t.is(t.throws<NamespaceError>(() => spawn('true', [], { join: [closed] }))?.code, 'ERR_NS_CLOSED')
})

test("spawn refuses bad options with Node's codes and wording before any syscall", (t) => {
  const bad: Array<[() => unknown, typeof TypeError | typeof RangeError, string, RegExp]> = [
    // A hole was skipped by the check and reached the binding as undefined (a plain Error).
    [
      // biome-ignore lint/suspicious/noSparseArray: the hole is what is checked
      () => spawn('true', ['a', , 'b'] as string[]),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'args' must be an array without holes \(index 1 is empty\)\. Received \[ 'a', <1 empty item>, 'b' \]$/,
    ],
    [
      () => spawn('true', ['a', 5 as unknown as string]),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "args\[1\]" argument must be of type string\. Received type number \(5\)$/,
    ],
    [
      () => spawn('true', ['a\0b']),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The argument 'args\[0\]' must be a string without null bytes\./,
    ],
    // A plain Error 'StringExpected' from napi before.
    [
      () => spawn('true', [], { argv0: 5 as unknown as string }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "options\.argv0" property must be of type string\. Received type number \(5\)$/,
    ],
    [
      () => spawn('true', [], { argv0: 'a\0b' }),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.argv0' must be a string without null bytes\./,
    ],
    // 2**32 + 1 wrapped through int32 to 1: the child got our stdout.
    [
      () => spawn('true', [], { stdio: ['pipe', 2 ** 32 + 1, 'pipe'] }),
      RangeError,
      'ERR_OUT_OF_RANGE',
      /^The value of "options\.stdio\[1\]" is out of range\. It must be >= 0 && <= 2147483647\. Received 4_294_967_297$/,
    ],
    [
      () => spawn('true', [], { stdio: ['pipe', { fd: 2 ** 31 }, 'pipe'] }),
      RangeError,
      'ERR_OUT_OF_RANGE',
      /Received 2147483648$/,
    ],
    [
      () => spawn('true', [], { stdio: ['pipe', 1.5, 'pipe'] }),
      RangeError,
      'ERR_OUT_OF_RANGE',
      /It must be an integer\. Received 1\.5$/,
    ],
    [() => spawn('true', [], { stdio: [-1, 'pipe', 'pipe'] }), RangeError, 'ERR_OUT_OF_RANGE', /Received -1$/],
    // 'A=B' reached the command as A with the value 'B=x'.
    [
      () => spawn('true', [], { env: { 'A=B': 'x' } }),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.env' must have names .*Received 'A=B'$/,
    ],
    [
      () => spawn('true', [], { env: { 'A\0': 'x' } }),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.env' must have names/,
    ],
    [
      () => spawn('true', [], { env: { '': 'x' } }),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.env' must have names/,
    ],
    [
      () => spawn('true', [], { env: { A: 'x\0' } }),
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      /^The property 'options\.env\['A'\]' must be a string without null bytes/,
    ],
    // setTimeout turns a longer delay into 1 ms: the child was killed at once.
    [
      () => spawn('true', [], { timeout: 2 ** 31 }),
      RangeError,
      'ERR_OUT_OF_RANGE',
      /^The value of "options\.timeout" is out of range\. It must be >= 0 && <= 2147483647\. Received 2147483648$/,
    ],
    [
      () => spawn('true', [], { timeout: 1.5 }),
      RangeError,
      'ERR_OUT_OF_RANGE',
      /^The value of "options\.timeout" is out of range\. It must be an integer\./,
    ],
    // A truthy non-boolean was read as false: no /proc, no pivot, no new session, privileges kept.
    ...(['mountProc', 'pivotRoot', 'detached', 'noNewPrivs', 'preserveCredentials'] as const).map(
      (k): [() => unknown, typeof TypeError, string, RegExp] => [
        () => spawn('true', [], { [k]: 'yes' as unknown as boolean }),
        TypeError,
        'ERR_INVALID_ARG_TYPE',
        new RegExp(`^The "options\\.${k}" property must be of type boolean\\. Received type string \\('yes'\\)$`),
      ],
    ),
    [
      () => spawn('true', [], { timeout: '5' as unknown as number }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
      /^The "options\.timeout" property must be of type number\. Received type string \('5'\)$/,
    ],
  ]
  for (const [fn, Ctor, code, message] of bad) {
    const e = t.throws(fn, { instanceOf: Ctor, code }, String(fn))
    t.regex(e?.message ?? '', message, String(fn))
  }
  // Checked before the join handles are opened (a bad hostname came after that, and left them
  // to the collector).
  const before = nsFdCount()
  t.throws(() => spawn('true', [], { join: { pid: process.pid, types: ['net', 'uts'] }, hostname: 'h'.repeat(65) }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
  t.throws(() => spawn('true', [], { join: { pid: process.pid, types: ['net'] }, timeout: -1 }), {
    code: 'ERR_OUT_OF_RANGE',
  })
  t.is(nsFdCount(), before, 'no namespace was opened')
})

test('spawn and exec read each option exactly once', async (t) => {
  // A getter answering differently the second time: a signal that was checked as an AbortSignal
  // and then read again as something else made spawn() throw after its child had started,
  // leaving it running with no handle.
  const counted = (values: Record<string, unknown>, reads: Map<string, number>): object => {
    const o = {}
    for (const [k, v] of Object.entries(values)) {
      Object.defineProperty(o, k, {
        enumerable: true,
        get() {
          const n = (reads.get(k) ?? 0) + 1
          reads.set(k, n)
          return n === 1 ? v : { changed: true }
        },
      })
    }
    return o
  }
  const values = {
    signal: new AbortController().signal,
    timeout: 60_000,
    killSignal: 'SIGKILL',
    argv0: 'renamed',
    env: { ONLY: '1' },
    unshare: ['uts'],
    hostname: 'once',
    uidMap: [{ inside: 0, outside: 0, count: 1 }],
    gidMap: [{ inside: 0, outside: 0, count: 1 }],
    uid: 0,
    gid: 0,
    setgroups: 'allow',
    propagation: 'private',
    cwd: '/',
    dieWithParent: true,
    detached: false,
    mountProc: false,
    pivotRoot: false,
  }
  const reads = new Map<string, number>()
  const child = spawn(
    '/bin/sh',
    ['-c', 'echo "$0 $ONLY $(hostname)"'],
    counted({ ...values, stdio: ['ignore', 'pipe', 'inherit'] }, reads) as SpawnOptions,
  )
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d))
  const closed = once(child, 'close')
  t.deepEqual(await child.exited, { code: 0, signal: null })
  t.deepEqual(
    [...reads].filter(([, n]) => n !== 1),
    [],
    'no option was read twice',
  )
  t.is(reads.size, Object.keys(values).length + 1)
  await closed
  t.is(out, 'renamed 1 once\n')

  const execReads = new Map<string, number>()
  const r = await exec(
    '/bin/sh',
    ['-c', 'cat; echo " $0 $ONLY $(hostname)"'],
    counted({ ...values, input: 'in', encoding: 'utf8', maxBuffer: 1 << 20, stderr: 'pipe' }, execReads) as ExecOptions,
  )
  t.is(r.stdout, 'in renamed 1 once\n')
  t.deepEqual(
    [...execReads].filter(([, n]) => n !== 1),
    [],
    'no exec option was read twice',
  )

  const ns = Namespace.current('uts')
  t.teardown(() => ns.close())
  const nsReads = new Map<string, number>()
  const viaHandle = await ns.exec(
    '/bin/sh',
    ['-c', 'echo $ONLY'],
    counted({ env: { ONLY: '2' }, join: [] }, nsReads) as ExecOptions,
  )
  t.is(viaHandle.stdout, '2\n')
  t.deepEqual(
    [...nsReads],
    [
      ['env', 1],
      ['join', 1],
    ],
  )
})

test('using: a running child gets SIGTERM when its scope ends, like a ChildProcess', async (t) => {
  let held: NsChildProcess | undefined
  {
    using child = spawn('sleep', ['30'], { stdio: 'ignore' })
    held = child
    await once(child, 'spawn')
  }
  t.true(held.killed)
  t.deepEqual(await held.exited, { code: null, signal: 'SIGTERM' })
  // One that has ended is left alone.
  const done = spawn('true', [], { stdio: 'ignore' })
  await done.exited
  done[Symbol.dispose]()
  t.false(done.killed)
  // The same contract as child_process's own (Node 20+).
  const cp = cpSpawn('sleep', ['30'], { stdio: 'ignore' })
  const cpExit = once(cp, 'exit')
  ;(cp as unknown as Disposable)[Symbol.dispose]()
  t.deepEqual(await cpExit, [null, 'SIGTERM'])
})

test('a thread id is named as one, with the process to use instead', async (t) => {
  const { Worker } = await import('node:worker_threads')
  // The worker's own thread: /proc/thread-self names it as <pid>/task/<tid>.
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads')
    parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self'))
    setInterval(() => {}, 1000)`,
    { eval: true },
  )
  t.teardown(() => w.terminate())
  const link = await new Promise<string>((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  const tid = Number(link.split('/').pop())
  t.not(tid, process.pid)
  t.regex(readFileSync(`/proc/${tid}/status`, 'utf8'), new RegExp(`^Tgid:\\s+${process.pid}$`, 'm'), 'a thread of ours')
  const check = (e: NamespaceError | undefined, what: string): void => {
    t.like(
      e,
      {
        name: 'NamespaceError',
        code: 'ERR_NS_THREAD_ID',
        errno: 0,
        syscall: 'pidfd_open',
        pid: tid,
        tgid: process.pid,
      },
      what,
    )
    t.true(
      e?.message.startsWith(`${tid} is the id of a thread of process ${process.pid}, not of a process`),
      e?.message,
    )
    t.true(e?.message.includes(`use its process id ${process.pid}`), what)
  }
  check(
    t.throws<NamespaceError>(() => Namespace.open(tid, 'net')),
    'open',
  )
  check(
    t.throws<NamespaceError>(() => Namespace.openAll(tid)),
    'openAll',
  )
  check(
    t.throws<NamespaceError>(() => spawn('true', [], { join: { pid: tid } })),
    'spawn join by pid',
  )
  // The process it names works.
  Namespace.open(process.pid, 'net').close()
})

test.serial("namespaces() uses the child's pidfd: a reused pid never gives another's", async (t) => {
  t.timeout(60_000)
  // In a worker the reaper thread reaps at once while the worker's JS is busy, so the child is
  // gone (its pid free) while `exited` has not settled yet. The pid is then handed to a new
  // process (ns_last_pid, as CRIU does), in a uts namespace of its own: by pid number,
  // namespaces() would give that process's namespaces.
  const { Worker } = await import('node:worker_threads')
  const w = new Worker(
    `
    const { parentPort } = require('node:worker_threads')
    const { readFileSync, writeFileSync } = require('node:fs')
    const { spawn } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
    const ourChild = (pid) => {
      try {
        const stat = readFileSync('/proc/' + pid + '/stat', 'utf8')
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid
      } catch {
        return false
      }
    }
    const tries = []
    const attempt = async () => {
      const old = spawn('true', [], { stdio: 'ignore' })
      const pid = old.pid
      const until = Date.now() + 5000
      while (ourChild(pid) && Date.now() < until) {}
      if (ourChild(pid)) return { error: 'not reaped' }
      writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1))
      const reuser = spawn('sleep', ['30'], { unshare: ['uts'], hostname: 'nsjs-reused', stdio: 'ignore' })
      const reused = reuser.pid === pid
      let outcome
      if (reused) {
        try {
          const ns = old.namespaces()
          outcome = { got: Object.keys(ns) }
          for (const h of Object.values(ns)) h.close()
        } catch (e) {
          outcome = { code: e.code, name: e.name, pid: e.pid }
        }
      }
      reuser.kill('SIGKILL')
      await reuser.exited
      await old.exited
      return { reused, ...outcome }
    }
    ;(async () => {
      for (let i = 0; i < 20; i++) {
        const r = await attempt()
        tries.push(r)
        if (r.reused || r.error) break
      }
      parentPort.postMessage(tries)
    })().catch((e) => parentPort.postMessage([{ error: String(e && e.stack || e) }]))`,
    { eval: true, execArgv: ['--require', require.resolve('tsx/cjs')] },
  )
  t.teardown(() => w.terminate())
  const tries = await new Promise<
    Array<{ reused?: boolean; code?: string; name?: string; pid?: number; got?: string[]; error?: string }>
  >((resolve, reject) => {
    w.once('message', resolve)
    w.once('error', reject)
  })
  const last = tries[tries.length - 1]
  t.is(last.error, undefined)
  t.true(last.reused, `the pid was handed to the new process (${tries.length} tries)`)
  t.like(last, { name: 'NamespaceError', code: 'ESRCH' }, 'the exited child has no namespaces, whoever has its pid now')
})
