// Sandboxes from spawn() (issue 11): PID 1 of a new pid namespace and `init`, id maps as
// unshare -r makes them. Cases after bubblewrap's tests/test-run.sh, written for spawn().
import { execFileSync, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { type ExecError, exec, fork, type MountEntry, NamespaceError, spawn } from '../ts/index'
import { asNobody, CATCH_FIELDS, denyMkdir, mountsBelow, tempDir, zombieChildren } from './helpers'

/** Milliseconds from now until `child` has exited, with how it ended. */
function exitAfter(
  child: ReturnType<typeof spawn>,
): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const t0 = performance.now()
  return new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ ms: performance.now() - t0, code, signal })),
  )
}

// Timed tests run serially, first: the uid 65534 cases block the event loop while they run.
test.serial('a timeout ends PID 1 of a new pid namespace within 100 ms, reported as SIGKILL', async (t) => {
  // sleep as PID 1 has no handler for SIGTERM: the kernel would drop it.
  const child = spawn('sleep', ['30'], { unshare: ['pid'], timeout: 300, stdio: 'ignore' })
  child.exited.catch(() => {})
  const { ms, code, signal } = await exitAfter(child)
  t.true(ms < 400, `ended ${Math.round(ms - 300)} ms after the deadline`)
  t.deepEqual([code, signal], [null, 'SIGKILL'])
  t.true(child.killed)
  t.like(await t.throwsAsync(child.exited), { code: 'ETIMEDOUT', signal: 'SIGKILL' })
  const e = await t.throwsAsync<ExecError>(exec('sleep', ['30'], { unshare: ['pid'], timeout: 100 }))
  t.like(e, { killed: true, code: null, signal: 'SIGKILL' })
})

test.serial('kill(), abort and dispose end PID 1; a handler it installed still gets SIGTERM', async (t) => {
  const plain = spawn('sleep', ['30'], { unshare: ['pid'], stdio: 'ignore' })
  t.true(plain.kill())
  t.deepEqual(await plain.exited, { code: null, signal: 'SIGKILL' })
  const ac = new AbortController()
  const aborted = exec('sleep', ['30'], { unshare: ['pid'], signal: ac.signal })
  setTimeout(() => ac.abort(), 50)
  t.like(await t.throwsAsync(aborted), { name: 'AbortError', signal: 'SIGKILL' })
  let disposed: ReturnType<typeof spawn>
  {
    using c = spawn('sleep', ['30'], { unshare: ['pid'], stdio: 'ignore' })
    disposed = c
  }
  t.deepEqual(await disposed.exited, { code: null, signal: 'SIGKILL' })
  // An init that handles SIGTERM gets it as sent, not SIGKILL.
  const trapping = spawn('sh', ['-c', 'trap "exit 7" TERM; echo ready; while :; do sleep 0.02; done'], {
    unshare: ['pid'],
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise((r) => trapping.stdout?.once('data', r))
  trapping.kill('SIGTERM')
  t.deepEqual(await trapping.exited, { code: 7, signal: null })
  // A signal whose default is to do nothing is not turned into SIGKILL.
  const ignoring = spawn('sleep', ['0.2'], { unshare: ['pid'], stdio: 'ignore' })
  ignoring.kill('SIGWINCH')
  t.deepEqual(await ignoring.exited, { code: 0, signal: null })
  t.deepEqual(zombieChildren(), [])
})

test('as uid 65534: a rootless PID 1 is ended by timeout and kill()', (t) => {
  const r = asNobody(`
    const { exec, spawn } = nsjs
    const t0 = performance.now()
    exec('sleep', ['30'], { unshare: ['user', 'pid'], uidMap: 'root', timeout: 200 }).catch((e) => {
      const timed = { killed: e.killed, signal: e.signal, ms: performance.now() - t0 }
      const c = spawn('sleep', ['30'], { unshare: ['user', 'pid'], uidMap: 'root', stdio: 'ignore' })
      c.kill()
      c.exited.then((s) => console.log(JSON.stringify([timed, s])))
    })`) as [{ killed: boolean; signal: string; ms: number }, { code: number | null; signal: string }]
  t.like(r[0], { killed: true, signal: 'SIGKILL' })
  t.true(r[0].ms < 1000, `${r[0].ms} ms`)
  t.deepEqual(r[1], { code: null, signal: 'SIGKILL' })
})

test('init: the command is pid 2 and its exit code is passed through', async (t) => {
  const r = await exec('sh', ['-c', 'echo $$; cat /proc/1/cmdline | tr "\\0" " "'], { init: true, mountProc: true })
  const [pid] = r.stdout.split('\n')
  t.is(pid, '2')
  const e = await t.throwsAsync<ExecError>(exec('sh', ['-c', 'exit 5'], { init: true }))
  t.like(e, { code: 5, signal: null })
  const missing = await t.throwsAsync(exec('/nonexistent/cmd', [], { init: true }))
  t.like(missing, { name: 'NamespaceError', code: 'ENOENT', step: 'execve' })
})

test.serial('init forwards signals to the command: kill, timeout, a handled SIGUSR1', async (t) => {
  const sleeper = spawn('sleep', ['30'], { init: true, stdio: 'ignore' })
  sleeper.kill('SIGTERM')
  t.deepEqual(await sleeper.exited, { code: 128 + 15, signal: null }, 'the command died of SIGTERM')
  const child = spawn('sleep', ['30'], { init: true, timeout: 200, killSignal: 'SIGINT', stdio: 'ignore' })
  child.exited.catch(() => {})
  const { ms, code } = await exitAfter(child)
  t.is(code, 128 + 2)
  t.true(ms < 300, `${ms} ms`)
  const handler = spawn('sh', ['-c', 'trap "echo got USR1; exit 3" USR1; echo ready; while :; do sleep 0.02; done'], {
    init: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  handler.stdout?.on('data', (d: Buffer) => {
    out += d
    if (out === 'ready\n') handler.kill('SIGUSR1')
  })
  t.deepEqual(await handler.exited, { code: 3, signal: null })
  t.is(out, 'ready\ngot USR1\n')
})

test('init reaps orphans: no zombie is left in the pid namespace', async (t) => {
  // The inner sh exits at once, leaving its sleep to PID 1, which must reap it when it ends.
  const script = 'sh -c "sleep 0.1 &"; sleep 0.5; grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l'
  const r = await exec('sh', ['-c', script], { init: true, mountProc: true })
  t.is(r.stdout.trim(), '0')
})

test('as uid 65534: init in a rootless sandbox', (t) => {
  const r = asNobody(`
    const { exec } = nsjs
    exec('sh', ['-c', 'echo $$; id -u; exit 4'], { init: true, unshare: ['user', 'mnt'], uidMap: 'root', mountProc: true })
      .catch((e) => console.log(JSON.stringify({ stdout: e.stdout, code: e.code })))`) as {
    stdout: string
    code: number
  }
  t.deepEqual(r, { stdout: '2\n0\n', code: 4 })
})

test("uidMap 'root' or 'current' alone maps the gid too, as unshare -r does", async (t) => {
  const ids = 'id -u; id -g; cat /proc/self/setgroups; cat /proc/self/gid_map'
  const root = await exec('sh', ['-c', ids], { uidMap: 'root' })
  const [uid, gid, setgroups, gidMap] = root.stdout.split('\n')
  t.deepEqual([uid, gid, setgroups], ['0', '0', 'deny'])
  t.deepEqual(gidMap.trim().split(/\s+/), ['0', String(process.getegid?.()), '1'])
  const current = await exec('id', ['-g'], { uidMap: 'current' })
  t.is(current.stdout.trim(), String(process.getegid?.()))
  // An explicit gidMap wins; explicit uid lines imply none.
  const lines = await exec('id', ['-g'], { uidMap: [{ inside: 0, outside: 0, count: 1 }] })
  t.is(lines.stdout.trim(), '65534')
  const r = asNobody(`
    const { exec } = nsjs
    const grab = (p) => p.then((v) => v.stdout.trim(), ${CATCH_FIELDS})
    Promise.all([
      grab(exec('sh', ['-c', 'id -u; id -g; cat /proc/self/setgroups'], { uidMap: 'root' })),
      grab(exec('sh', ['-c', 'id -u; id -g'], { uidMap: 'current' })),
      grab(exec('id', ['-g'], { uidMap: 'root', setgroups: 'allow' })),
    ]).then((v) => console.log(JSON.stringify(v)))`) as string[]
  t.deepEqual(r, ['0\n0\ndeny', '65534\n65534', '65534'])
})

test('init is checked as a boolean before anything starts', (t) => {
  t.throws(() => spawn('true', [], { init: 'yes' as unknown as boolean }), {
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'The "options.init" property must be of type boolean. Received type string (\'yes\')',
  })
})

/** A root of /usr (read-only) and the merged-/usr links, with proc, dev and a small /tmp. */
const USR_BOX: MountEntry[] = [
  { type: 'bind', source: '/usr', target: '/usr', readonly: true },
  { type: 'symlink', target: '/bin', linkTo: 'usr/bin' },
  { type: 'symlink', target: '/lib', linkTo: 'usr/lib' },
  { type: 'symlink', target: '/lib64', linkTo: 'usr/lib64' },
  { type: 'proc', target: '/proc' },
  { type: 'dev', target: '/dev' },
  { type: 'tmpfs', target: '/tmp', size: 1 << 20, mode: 0o1777 },
  { type: 'file', target: '/etc/passwd', data: 'root:x:0:0::/:/bin/sh\n' },
  { type: 'dir', target: '/home/u', mode: 0o700 },
]

const BOX_SCRIPT = [
  'echo $(ls /)',
  'touch /usr/x 2>/dev/null && echo wrote-usr || echo usr-readonly',
  'echo hi > /tmp/f && cat /tmp/f',
  'grep NoNewPrivs /proc/self/status | tr -d "\\t"',
  'stat -c "%a" /tmp /home /home/u /etc/passwd | tr "\\n" " "; echo',
  'stat -f -c "%b %S" /tmp',
  'echo $(ls /dev)',
  'echo x > /dev/null && test -c /dev/null && test -c /dev/urandom && echo dev-ok',
  'echo $(ls /proc | grep -c "^[0-9]")',
  'grep -E "^Cap(Eff|Prm|Bnd|Amb)" /proc/self/status | cut -f2 | tr "\\n" " "; echo',
  'mkdir /tmp/d 2>&1 | grep -o "Operation not permitted"',
  'ulimit -n',
].join('; ')

/** The sandbox's privileges: none, a filter, a limit. */
const LOCKED = { capabilities: [], seccomp: denyMkdir(), rlimits: { nofile: 64 } }

function checkBox(t: import('ava').ExecutionContext, out: string): void {
  const lines = out.split('\n')
  t.is(lines[0], 'bin dev etc home lib lib64 proc tmp usr', 'only what it was given')
  t.is(lines[1], 'usr-readonly')
  t.is(lines[2], 'hi')
  t.is(lines[3], 'NoNewPrivs:1', 'noNewPrivs is the default in a sandbox')
  t.is(lines[4], '1777 700 700 666 ')
  const [blocks, size] = lines[5].split(' ').map(Number)
  t.is(blocks * size, 1 << 20, 'the tmpfs has the size asked for')
  t.is(lines[6], 'core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero')
  t.is(lines[7], 'dev-ok')
  // sh, the subshell of $(...), ls and grep: its own processes, not ours.
  t.true(Number(lines[8]) <= 5, `its /proc shows its own processes (${lines[8]})`)
  t.is(lines[9], `${'0000000000000000 '.repeat(4)}`, 'CapEff, CapPrm, CapBnd, CapAmb are empty')
  t.is(lines[10], 'Operation not permitted', 'mkdir is denied by the seccomp filter')
  t.is(lines[11], '64')
}

test('a tmpfs root sees only its mounts; CapEff 0, NoNewPrivs 1, seccomp EPERM', async (t) => {
  const ours = (): string[] => ['/usr', '/dev', '/proc'].flatMap((d) => mountsBelow(d))
  const before = ours()
  const r = await exec('/bin/sh', ['-c', BOX_SCRIPT], { unshare: ['pid'], root: 'tmpfs', mounts: USR_BOX, ...LOCKED })
  checkBox(t, r.stdout)
  t.deepEqual(ours(), before, 'nothing made in the sandbox reached our mounts')
})

test('as uid 65534: the same rootless sandbox, in a new user namespace', (t) => {
  const out = asNobody(`
    const { exec } = nsjs
    exec('/bin/sh', ['-c', ${JSON.stringify(BOX_SCRIPT)}], {
      unshare: ['user', 'pid'], uidMap: 'root', root: 'tmpfs', mounts: ${JSON.stringify(USR_BOX)},
      capabilities: [], rlimits: { nofile: 64 }, seccomp: Buffer.from(${JSON.stringify([...denyMkdir()])}),
    }).then((r) => console.log(JSON.stringify(r.stdout)), (e) => console.log(JSON.stringify(String(e))))`) as string
  checkBox(t, out)
})

test('a failed mount names its index and target; nothing is left mounted', async (t) => {
  const dir = tempDir(t)
  const mounts: MountEntry[] = [
    { type: 'tmpfs', target: `${dir}/a` },
    { type: 'dir', target: `${dir}/b` },
    { type: 'bind', source: '/nonexistent/source', target: `${dir}/c` },
  ]
  const e = await t.throwsAsync(exec('true', [], { mounts }))
  t.true(e instanceof NamespaceError)
  t.like(e, { code: 'ENOENT', step: 'mount', mountIndex: 2, path: `${dir}/c`, syscall: 'open_tree' })
  t.regex(e?.message ?? '', /step 'mount' \(mounts\[2\] .*\/c\) with ENOENT/)
  t.deepEqual(mountsBelow(dir), [], 'the child mount namespace went with it')
  const link = await t.throwsAsync(
    exec('true', [], { mounts: [{ type: 'symlink', target: `${dir}/b`, linkTo: 'elsewhere' }] }),
  )
  t.like(link, { code: 'EEXIST', step: 'mount', mountIndex: 0 })
})

test("created mount points and directories get bubblewrap's permissions", async (t) => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'some-dir'))
  writeFileSync(join(dir, 'some-file'), '')
  mkdirSync(join(dir, 'existed'), { mode: 0o710 })
  const parents: Array<[number | undefined, string]> = [
    [undefined, '755'],
    [0o1777, '755'],
    [0o644, '755'],
    [0o750, '750'],
    [0o710, '750'],
    [0o640, '750'],
    [0o700, '700'],
    [0o705, '705'],
    [0o604, '705'],
    [0o000, '700'],
  ]
  const mounts: MountEntry[] = [
    { type: 'bind', source: join(dir, 'some-dir'), target: `${dir}/new-dir-mountpoint` },
    { type: 'bind', source: join(dir, 'some-file'), target: `${dir}/new-file-mountpoint` },
    { type: 'dir', target: `${dir}/set-perms`, mode: 0o1741 },
    { type: 'dir', target: `${dir}/existed`, mode: 0o755 },
    { type: 'dir', target: `${dir}/default-perms` },
    ...parents.map(([mode], i): MountEntry => ({ type: 'dir', target: `${dir}/parent-${i}/dir`, mode })),
  ]
  await exec('true', [], { mounts })
  const mode = (p: string): string => (statSync(join(dir, p)).mode & 0o7777).toString(8)
  t.is(mode('new-dir-mountpoint'), '755')
  t.is(mode('new-file-mountpoint'), '444')
  t.is(mode('set-perms'), '1741')
  t.is(mode('existed'), '710', 'an existing directory is left as it is')
  t.is(mode('default-perms'), '755')
  for (const [i, [m, want]] of parents.entries()) t.is(mode(`parent-${i}`), want, `parent of ${m?.toString(8)}`)
})

test('symlinks: made, idempotent, and a bind onto a link lands where it points', async (t) => {
  const dir = tempDir(t)
  const link: MountEntry = { type: 'symlink', target: `${dir}/symlink`, linkTo: '/dev/null' }
  await exec('true', [], { mounts: [link] })
  t.is(readlinkSync(join(dir, 'symlink')), '/dev/null')
  await exec('true', [], { mounts: [link] })
  const r = await exec('sh', ['-c', `ls ${dir}/dir`], {
    mounts: [
      { type: 'dir', target: `${dir}/dir` },
      { type: 'symlink', target: `${dir}/link`, linkTo: 'dir' },
      { type: 'bind', source: '/etc', target: `${dir}/link` },
    ],
  })
  t.regex(r.stdout, /passwd/)
})

test('an absolute link inside a tmpfs root resolves inside it, never to our files', async (t) => {
  const r = await exec('/bin/sh', ['-c', 'cat /data/hostname-link/x; ls /etc'], {
    root: 'tmpfs',
    mounts: [
      ...USR_BOX.slice(0, 4),
      { type: 'dir', target: '/etc' },
      { type: 'symlink', target: '/data', linkTo: '/etc' },
      // /etc of the sandbox, not ours: the file lands in the tmpfs.
      { type: 'file', target: '/data/hostname-link/x', data: 'inside\n' },
    ],
  })
  t.is(r.stdout, 'inside\nhostname-link\n')
  t.throws(() => statSync('/etc/hostname-link'), { code: 'ENOENT' })
})

test('sysfs: a new /sys of its net namespace replaces ours, as ip netns exec does', async (t) => {
  const before = mountsBelow('/sys')
  // One mount left at /sys, nothing below it (ours had cgroup and others), only its lo.
  const script = 'ls /sys/class/net; grep -c " /sys " /proc/self/mountinfo; grep -c " /sys/" /proc/self/mountinfo; true'
  const sysfs: MountEntry[] = [{ type: 'sysfs', target: '/sys' }]
  const r = await exec('sh', ['-c', script], { unshare: ['net'], mounts: sysfs })
  t.is(r.stdout, 'lo\n1\n0\n')
  t.deepEqual(mountsBelow('/sys'), before, 'ours is untouched')
  // Where nothing is mounted: made and mounted (in a tmpfs root, as another entry).
  const boxed = await exec('/usr/bin/ls', ['/s/class/net'], {
    unshare: ['net'],
    root: 'tmpfs',
    mounts: [
      { type: 'bind', source: '/usr', target: '/usr' },
      { type: 'symlink', target: '/lib64', linkTo: 'usr/lib64' },
      { type: 'symlink', target: '/lib', linkTo: 'usr/lib' },
      { type: 'sysfs', target: '/s' },
    ],
  })
  t.is(boxed.stdout, 'lo\n')
  // Unprivileged, ours is locked to the new user namespace: the new sysfs goes on top of it.
  const rootless = asNobody(`
    nsjs.exec('sh', ['-c', ${JSON.stringify(script)}], { unshare: ['user', 'net'], uidMap: 'root', mounts: ${JSON.stringify(sysfs)} })
      .then((r) => console.log(JSON.stringify(r.stdout)), ${CATCH_FIELDS})`) as string
  t.is(rootless.split('\n')[0], 'lo')
  t.is(rootless.split('\n')[1], '2', 'ours stays under it')
  for (const bad of [{ type: 'sysfs', target: 'sys' }, { type: 'sysfs' }]) {
    t.throws(() => spawn('true', [], { mounts: [bad as MountEntry] }), { name: 'TypeError' }, JSON.stringify(bad))
  }
})

test('mounts and root are checked before anything starts', (t) => {
  const bad: Array<[unknown, string]> = [
    ['nope', 'ERR_INVALID_ARG_TYPE'],
    [[null], 'ERR_INVALID_ARG_TYPE'],
    [[{ type: 'overlay', target: '/x' }], 'ERR_INVALID_ARG_VALUE'],
    [[{ type: 'dir', target: 'relative' }], 'ERR_INVALID_ARG_VALUE'],
    [[{ type: 'dir', target: '/' }], 'ERR_INVALID_ARG_VALUE'],
    [[{ type: 'dir', target: '/a/../b' }], 'ERR_INVALID_ARG_VALUE'],
    [[{ type: 'bind', target: '/x' }], 'ERR_INVALID_ARG_TYPE'],
    [[{ type: 'tmpfs', target: '/x', size: 0 }], 'ERR_OUT_OF_RANGE'],
    [[{ type: 'dir', target: '/x', mode: 0o10000 }], 'ERR_OUT_OF_RANGE'],
    [[{ type: 'file', target: '/x', data: 5 }], 'ERR_INVALID_ARG_TYPE'],
    [[{ type: 'symlink', target: '/x', linkTo: '' }], 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [mounts, code] of bad) {
    t.throws(() => spawn('true', [], { mounts: mounts as MountEntry[] }), { code }, JSON.stringify(mounts))
  }
  t.throws(() => spawn('true', [], { root: 'tmpfs', propagation: 'shared' }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /options.propagation' must be 'private' or 'slave'/,
  })
})

test('capabilities: a keep-list survives, as root and as another uid (ambient)', async (t) => {
  const caps = 'grep -E "^Cap(Eff|Bnd|Amb)" /proc/self/status | cut -f2 | tr "\\n" " "'
  const kept = '0000000000000400 ' // CAP_NET_BIND_SERVICE
  const root = await exec('sh', ['-c', caps], { capabilities: ['CAP_NET_BIND_SERVICE'] })
  t.is(root.stdout, `${kept}${kept}${kept}`)
  const other = await exec('sh', ['-c', caps], { capabilities: ['net_bind_service'], uid: 65534, gid: 65534 })
  t.is(other.stdout, `${kept}${kept}${kept}`)
  const nnp = await exec('grep', ['NoNewPrivs', '/proc/self/status'], { rlimits: { core: 0 } })
  t.is(nnp.stdout, 'NoNewPrivs:\t1\n', 'a sandbox option makes noNewPrivs the default')
  const limits = await exec('sh', ['-c', 'ulimit -c; ulimit -Hn; ulimit -Sn'], {
    rlimits: { core: 0, nofile: { soft: 32, hard: 48 }, cpu: Number.POSITIVE_INFINITY },
  })
  t.is(limits.stdout, '0\n48\n32\n')
})

test('as uid 65534: dropping capabilities needs a user namespace', (t) => {
  const r = asNobody(`
    const { exec } = nsjs
    const grab = (p) => p.then((v) => v.stdout.trim(), ${CATCH_FIELDS})
    Promise.all([
      grab(exec('true', [], { capabilities: [] })),
      grab(exec('sh', ['-c', 'grep CapBnd /proc/self/status | cut -f2'], { unshare: ['user'], capabilities: [] })),
      grab(exec('sh', ['-c', 'ulimit -Hn'], { rlimits: { nofile: 1 << 30 } })),
    ]).then((v) => console.log(JSON.stringify(v)))`) as [
    { code: string; step: string },
    string,
    { code: string; step: string },
  ]
  t.like(r[0], { code: 'EPERM', step: 'capabilities' })
  t.is(r[1], '0000000000000000')
  t.like(r[2], { code: 'EPERM', step: 'rlimits' }, 'raising a hard limit needs CAP_SYS_RESOURCE')
})

test('capabilities, rlimits and seccomp are checked before anything starts', (t) => {
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ capabilities: 'all' }, 'ERR_INVALID_ARG_TYPE'],
    [{ capabilities: ['CAP_FLY'] }, 'ERR_INVALID_ARG_VALUE'],
    [{ capabilities: [10] }, 'ERR_INVALID_ARG_TYPE'],
    [{ rlimits: { files: 1 } }, 'ERR_INVALID_ARG_VALUE'],
    [{ rlimits: { nofile: -1 } }, 'ERR_OUT_OF_RANGE'],
    [{ rlimits: { nofile: { soft: 9, hard: 8 } } }, 'ERR_INVALID_ARG_VALUE'],
    [{ rlimits: { nofile: '5' } }, 'ERR_INVALID_ARG_TYPE'],
    [{ seccomp: 'filter' }, 'ERR_INVALID_ARG_TYPE'],
    [{ seccomp: Buffer.alloc(12) }, 'ERR_INVALID_ARG_VALUE'],
    [{ seccomp: Buffer.alloc(0) }, 'ERR_INVALID_ARG_VALUE'],
  ]
  for (const [options, code] of bad) t.throws(() => spawn('true', [], options), { code }, JSON.stringify(options))
})

test.serial("join { pid, root, cwd } takes the target's root and cwd, as nsenter -r -w", async (t) => {
  const box = spawn('/bin/sleep', ['30'], {
    unshare: ['pid'],
    root: 'tmpfs',
    mounts: USR_BOX,
    cwd: '/home/u',
    stdio: 'ignore',
  })
  t.teardown(() => box.kill('SIGKILL'))
  const pid = box.pid as number
  const script = 'pwd; echo $(ls /)'
  const both = await exec('/bin/sh', ['-c', script], { join: { pid, types: ['mnt'], root: true, cwd: true } })
  t.is(both.stdout, '/home/u\nbin dev etc home lib lib64 proc tmp usr\n')
  const util = execFileSync('nsenter', ['-t', String(pid), '-m', '-r', '-w', '/bin/sh', '-c', script], {
    encoding: 'utf8',
  })
  t.is(both.stdout, util, 'the same as util-linux nsenter -r -w')
  const rootOnly = await exec('/bin/sh', ['-c', 'pwd'], { join: { pid, types: ['mnt'], root: true } })
  t.is(rootOnly.stdout, '/\n')
  // The descriptors of its root and cwd were closed after the spawn.
  const cwdLink = readlinkSync(`/proc/${pid}/cwd`)
  const open = readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === cwdLink
    } catch {
      return false
    }
  })
  t.deepEqual(open, [])
  t.throws(() => spawn('true', [], { join: { pid, root: 'yes' as unknown as boolean } }), {
    code: 'ERR_INVALID_ARG_TYPE',
  })
  const dead = spawnSync('true').pid as number
  const gone = await t.throwsAsync(exec('true', [], { join: { pid: dead, root: true } }))
  t.like(gone, { code: 'ESRCH' })
})

test('stdio past the third: pipe, descriptors, inherit and ignore; ipc refused', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'out')
  const fd = openSync(file, 'w')
  t.teardown(() => closeSync(fd))
  const script =
    'echo three >&3; echo five >&5; for n in 4 6; do [ -e /proc/self/fd/$n ] && echo open$n || echo closed$n; done'
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit', fd, 'ignore', { fd }, null] })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d
  })
  const closed = once(child, 'close')
  t.deepEqual(await child.exited, { code: 0, signal: null })
  await closed
  t.is(out, 'closed4\nclosed6\n')
  t.is(readFileSync(file, 'utf8'), 'three\nfive\n')
  // 'pipe' there is a socket pair, a Duplex at child.stdio[3], as child_process makes it.
  const duplex = spawn('sh', ['-c', 'echo hi >&3; read x <&3; echo got $x'], {
    stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
  })
  const extra = duplex.stdio[3]
  const said = await new Promise<string>((resolve) => extra?.once('data', (d: Buffer) => resolve(String(d))))
  t.is(said, 'hi\n')
  extra?.write('yo\n')
  let got = ''
  duplex.stdout?.on('data', (d: Buffer) => {
    got += d
  })
  const duplexClosed = once(duplex, 'close')
  t.deepEqual(await duplex.exited, { code: 0, signal: null })
  await duplexClosed
  t.is(got, 'got yo\n')
  extra?.destroy()
  t.throws(() => spawn('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'bogus' as 'pipe'] }), {
    code: 'ERR_INVALID_ARG_VALUE',
  })
})

test('seccomp rules compile natively: errno by name, argument conditions, allow-lists', async (t) => {
  const probe = 'mkdir /tmp/x 2>&1 | grep -o "Operation not permitted"; echo done'
  const denied = await exec('sh', ['-c', probe], {
    seccomp: {
      defaultAction: 'allow',
      rules: [
        { syscall: 'mkdirat', action: { errno: 'EPERM' } },
        { syscall: 'mkdir', action: { errno: 'EPERM' } },
      ],
    },
  })
  t.is(denied.stdout, 'Operation not permitted\ndone\n')
  // socket(AF_UNIX, ...) fails, socket(AF_INET, ...) does not.
  const py = (family: string) =>
    `import socket\ntry:\n socket.socket(socket.${family})\n print("ok")\nexcept OSError as e:\n print(e.errno)`
  const socketRule = {
    defaultAction: 'allow' as const,
    rules: [{ syscall: 'socket', args: [{ index: 0, op: 'eq' as const, value: 1 }], action: { errno: 'EACCES' } }],
  }
  t.is((await exec('python3', ['-c', py('AF_UNIX')], { seccomp: socketRule })).stdout, '13\n')
  t.is((await exec('python3', ['-c', py('AF_INET')], { seccomp: socketRule })).stdout, 'ok\n')
  const unknown = await t.throwsAsync(
    exec('true', [], { seccomp: { defaultAction: 'allow', rules: [{ syscall: 'nosuchcall', action: 'kill' }] } }),
  )
  t.like(unknown, { code: 'EINVAL', step: 'seccomp' })
  t.regex(unknown?.message ?? '', /nosuchcall/)
  const bad: Array<[unknown, string]> = [
    [{ defaultAction: 'allow', rules: [] }, 'ERR_INVALID_ARG_VALUE'],
    [{ defaultAction: 'deny', rules: [{ syscall: 'read', action: 'allow' }] }, 'ERR_INVALID_ARG_VALUE'],
    [{ defaultAction: { errno: 'EPERM' }, rules: [{ syscall: 'read', action: 'kill' }] }, 'ERR_INVALID_ARG_VALUE'],
    [{ defaultAction: 'allow', rules: [{ syscall: 'read', action: 'allow' }] }, 'ERR_INVALID_ARG_VALUE'],
    [
      {
        defaultAction: 'allow',
        rules: [{ syscall: 'read', args: [{ index: 6, op: 'eq', value: 1 }], action: 'kill' }],
      },
      'ERR_OUT_OF_RANGE',
    ],
    [
      {
        defaultAction: 'allow',
        rules: [{ syscall: 'read', args: [{ index: 0, op: 'eq', value: -1 }], action: 'kill' }],
      },
      'ERR_OUT_OF_RANGE',
    ],
    [{ defaultAction: 'allow', rules: 'read' }, 'ERR_INVALID_ARG_TYPE'],
  ]
  for (const [seccomp, code] of bad) {
    t.throws(() => spawn('true', [], { seccomp: seccomp as never }), { code }, JSON.stringify(seccomp))
  }
})

test('fork: a Node module in user, pid and net namespaces talks back over IPC', async (t) => {
  const dir = tempDir(t)
  const worker = join(dir, 'worker.js')
  writeFileSync(
    worker,
    `process.on('message', (m) => process.send({ got: m, pid: process.pid, uid: process.getuid(), argv: process.argv.slice(2) }))
     process.on('disconnect', () => process.exit(0))`,
  )
  const child = fork(worker, ['a', 'b'], { unshare: ['user', 'pid', 'net'], uidMap: 'root' })
  const reply = new Promise((resolve) => child.once('message', resolve))
  t.true(child.connected)
  t.true(child.send({ hello: [1, 'two'] }))
  t.deepEqual(await reply, { got: { hello: [1, 'two'] }, pid: 1, uid: 0, argv: ['a', 'b'] })
  const disconnected = new Promise((resolve) => child.once('disconnect', resolve))
  child.disconnect()
  await disconnected
  t.false(child.connected)
  t.deepEqual(await child.exited, { code: 0, signal: null })
  t.false(child.send('late', () => {}))
  t.throws(() => fork(worker, [], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] }), {
    code: 'ERR_CHILD_PROCESS_IPC_REQUIRED',
  })
  t.throws(() => fork(5 as unknown as string), { code: 'ERR_INVALID_ARG_TYPE' })
})
