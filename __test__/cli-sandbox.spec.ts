// nsjs run's sandbox options (bubblewrap's --bind, --ro-bind, --tmpfs, --dev, --proc, --dir,
// --symlink, --cap-drop, --seccomp; --rlimit, --cgroup-dir, --init): rootless sandboxes as root and
// as uid 65534, side by side with bwrap where it is installed.
import { type SpawnSyncOptions, spawnSync } from 'node:child_process'
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { AS_NOBODY, denyMkdir, ROOT, tempDir } from './helpers'

const CLI = join(ROOT, 'dist', 'cjs', 'cli.js')
const BWRAP = '/usr/bin/bwrap'

interface Run {
  status: number | null
  stdout: string
  stderr: string
}

/** `cmd ARGS` as root, or as uid 65534 without capabilities (setpriv). */
function run(as: 'root' | 'nobody', cmd: string[], options: SpawnSyncOptions = {}): Run {
  const [file, ...args] = as === 'root' ? cmd : ['setpriv', ...AS_NOBODY, ...cmd]
  const r = spawnSync(file, args, { encoding: 'utf8', cwd: '/', timeout: 30_000, ...options })
  if (r.error) throw r.error
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) }
}

/** `nsjs ARGS`, the built CLI. */
function nsjs(as: 'root' | 'nobody', args: string[], options?: SpawnSyncOptions): Run {
  return run(as, [process.execPath, CLI, ...args], options)
}

/**
 * A classic-BPF program as `bwrap --seccomp` reads one: mkdir and mkdirat fail with EPERM, the
 * rest is allowed, another architecture is killed. Written to a file uid 65534 can read.
 */
function denyMkdirFile(t: ExecutionContext): string {
  const dir = tempDir(t, 'nsjs-cli-sandbox-')
  chmodSync(dir, 0o755)
  const file = join(dir, 'deny-mkdir.bpf')
  writeFileSync(file, denyMkdir(), { mode: 0o644 })
  return file
}

/** bwrap's usual rootless box: /usr read-only, the merged-/usr links, proc, dev, a small /tmp. */
const BOX = [
  '--ro-bind',
  '/usr',
  '/usr',
  '--symlink',
  'usr/bin',
  '/bin',
  '--symlink',
  'usr/lib',
  '/lib',
  '--symlink',
  'usr/lib64',
  '/lib64',
  '--proc',
  '/proc',
  '--dev',
  '/dev',
  '--perms',
  '0700',
  '--dir',
  '/d',
  '--size',
  '65536',
  '--tmpfs',
  '/tmp',
  '--cap-drop',
  'ALL',
]

/** What the box shows of itself, the same under bwrap and nsjs. */
const LOOK = [
  'echo $(ls /)',
  'echo $(ls /dev)',
  'stat -c "%a %u" / /tmp /usr /d | tr "\\n" " "; echo',
  'stat -f -c "%b %S" /tmp',
  'echo pid $$',
  'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status | tr -d "\\t" | tr "\\n" " "; echo',
  'id -u',
  'touch /usr/x 2>/dev/null && echo wrote-usr || echo usr-readonly',
  'echo x > /tmp/f && cat /tmp/f',
].join('; ')

function checkLook(t: ExecutionContext, r: Run, uid: number): void {
  t.is(r.status, 0, r.stderr)
  const lines = r.stdout.split('\n')
  t.is(lines[0], 'bin d dev lib lib64 proc tmp usr', 'only what it was given')
  t.is(lines[1], 'core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero')
  t.is(lines[2], `755 0 755 0 755 ${uid} 700 0 `, '--perms 0700 applies to the next --dir')
  const [blocks, size] = lines[3].split(' ').map(Number)
  t.is(blocks * size, 65536, '--size applies to the next --tmpfs')
  t.is(lines[4], 'pid 2', '--init is PID 1, the command pid 2')
  t.is(lines[5], 'CapEff:0000000000000000 CapBnd:0000000000000000 NoNewPrivs:1 ')
  t.is(lines[6], '0')
  t.is(lines[7], 'usr-readonly')
  t.is(lines[8], 'x')
}

for (const as of ['root', 'nobody'] as const) {
  const uid = as === 'root' ? 0 : 65534
  test(`as ${as}: a rootless --root tmpfs box sees only its mounts, caps dropped`, (t) => {
    const r = nsjs(as, ['run', '-r', '-p', '-n', '--root', 'tmpfs', '--init', ...BOX, '--', 'sh', '-c', LOOK])
    checkLook(t, r, uid)
  })

  test(`as ${as}: --rlimit shows in /proc/self/limits, --seccomp FILE denies mkdir`, (t) => {
    const file = denyMkdirFile(t)
    const script =
      'grep "open files" /proc/self/limits | tr -s " "; grep "core file" /proc/self/limits | tr -s " "; mkdir /tmp/d 2>&1 | grep -o "Operation not permitted"'
    const r = nsjs(as, [
      'run',
      '-r',
      '--rlimit',
      'nofile=64',
      '--rlimit',
      'core=0:unlimited',
      '--seccomp',
      file,
      '--tmpfs',
      '/tmp',
      '--',
      'sh',
      '-c',
      script,
    ])
    t.is(r.status, 0, r.stderr)
    t.deepEqual(r.stdout.split('\n'), [
      'Max open files 64 64 files ',
      'Max core file size 0 unlimited bytes ',
      'Operation not permitted',
      '',
    ])
  })

  test(`as ${as}: --seccomp FD reads the program from a descriptor, as bwrap does`, (t) => {
    const fd = openSync(denyMkdirFile(t), 'r')
    t.teardown(() => closeSync(fd))
    const r = nsjs(as, ['run', '-r', '--seccomp', '3', '--', 'mkdir', '/tmp/nsjs-never'], {
      stdio: ['ignore', 'pipe', 'pipe', fd],
    })
    t.is(r.status, 1)
    t.regex(r.stderr, /Operation not permitted/)
    t.false(existsSync('/tmp/nsjs-never'))
  })

  test(`as ${as}: the same box under bwrap prints the same`, (t) => {
    if (!existsSync(BWRAP)) return t.pass('bwrap is not installed')
    const bwrap = run(as, [
      BWRAP,
      '--unshare-user',
      '--uid',
      '0',
      '--gid',
      '0',
      '--unshare-pid',
      '--unshare-net',
      ...BOX,
      '--',
      'sh',
      '-c',
      LOOK,
    ])
    checkLook(t, bwrap, uid)
    const ours = nsjs(as, ['run', '-r', '-p', '-n', '--root', 'tmpfs', '--init', ...BOX, '--', 'sh', '-c', LOOK])
    t.is(ours.stdout, bwrap.stdout)
  })
}

test('as root without a user namespace: the box is built, our mounts unchanged', (t) => {
  const before = readFileSync('/proc/self/mountinfo', 'utf8')
  const r = nsjs('root', ['run', '-p', '--root', 'tmpfs', '--init', ...BOX, '--', 'sh', '-c', LOOK])
  checkLook(t, r, 0)
  t.is(readFileSync('/proc/self/mountinfo', 'utf8'), before)
  if (!existsSync(BWRAP)) return
  // bwrap run by root itself (no user namespace) keeps its bounding set; `capabilities` drops it too.
  const bwrap = run('root', [BWRAP, '--unshare-pid', ...BOX, '--', 'sh', '-c', LOOK]).stdout
  const bounding = /CapBnd:0+ /
  t.regex(r.stdout, bounding)
  t.is(bwrap.replace(/CapBnd:[0-9a-f]+ /, 'CapBnd:0000000000000000 '), r.stdout)
})

test('mounts are made in the order typed, as bwrap makes them', (t) => {
  const a = nsjs('root', ['run', '-r', '--tmpfs', '/mnt', '--dir', '/mnt/a', '--', 'ls', '/mnt'])
  t.deepEqual([a.status, a.stdout], [0, 'a\n'], a.stderr)
  const b = nsjs('root', ['run', '-r', '--dir', '/mnt/a', '--tmpfs', '/mnt', '--', 'ls', '/mnt'])
  t.deepEqual([b.status, b.stdout], [0, ''], b.stderr)
  const bind = nsjs('root', [
    'run',
    '-r',
    '--ro-bind',
    '/etc',
    '/mnt',
    '--symlink',
    '/mnt/hostname',
    '/tmp/h',
    '--tmpfs',
    '/tmp',
    '--',
    'cat',
    '/tmp/h',
  ])
  t.is(bind.stdout, '', 'the tmpfs on /tmp, made after it, hides the link')
  t.is(bind.status, 1)
})

test('--bind-try leaves out a missing SRC; --file writes FD or FILE; --chdir', (t) => {
  const dir = tempDir(t, 'nsjs-cli-sandbox-')
  const data = join(dir, 'data')
  writeFileSync(data, 'from a file\n')
  const fd = openSync(data, 'r')
  t.teardown(() => closeSync(fd))
  const script = 'ls /mnt; cat /etc/a /etc/b; stat -c %a /etc/a /etc/b; pwd'
  const r = nsjs(
    'root',
    [
      'run',
      '-r',
      '--tmpfs',
      '/mnt',
      '--ro-bind-try',
      '/nonexistent',
      '/mnt/gone',
      '--bind-try',
      dir,
      '/mnt/here',
      '--file',
      '3',
      '/etc/a',
      '--perms',
      '0600',
      '--file',
      data,
      '/etc/b',
      '--chdir',
      '/mnt/here',
      '--',
      'sh',
      '-c',
      script,
    ],
    { stdio: ['ignore', 'pipe', 'pipe', fd] },
  )
  t.is(r.status, 0, r.stderr)
  t.is(r.stdout, 'here\nfrom a file\nfrom a file\n666\n600\n/mnt/here\n')
})

test("the command's own arguments are never read as sandbox options", (t) => {
  const r = nsjs('root', [
    'run',
    '-r',
    '--ro-bind',
    '/etc',
    '/mnt',
    'sh',
    '-c',
    'test -f /mnt/hostname && echo "$@"',
    'sh',
    '--bind',
    'a',
    'b',
  ])
  t.deepEqual([r.status, r.stdout], [0, '--bind a b\n'], r.stderr)
  const after = nsjs('root', ['run', '-r', '--', 'echo', '--tmpfs', '/x'])
  t.is(after.stdout, '--tmpfs /x\n')
})

test('--init makes the command pid 2; without it, it is PID 1', (t) => {
  t.is(nsjs('root', ['run', '-r', '--init', '--', 'sh', '-c', 'echo $$']).stdout, '2\n', 'init implies pid')
  t.is(nsjs('root', ['run', '-r', '-p', '--', 'sh', '-c', 'echo $$']).stdout, '1\n')
  t.is(nsjs('root', ['run', '-r', '--init', '--', 'sh', '-c', 'exit 7']).status, 7)
})

test('--cap-add keeps a capability after --cap-drop ALL, in bwrap order', (t) => {
  const caps = (args: string[]) =>
    nsjs('nobody', ['run', '-r', ...args, '--', 'grep', '^CapEff', '/proc/self/status']).stdout.trim()
  t.is(
    caps(['--cap-drop', 'ALL', '--cap-add', 'CAP_NET_ADMIN']),
    `CapEff:\t${(1n << 12n).toString(16).padStart(16, '0')}`,
  )
  t.is(caps(['--cap-add', 'CAP_NET_ADMIN', '--cap-drop', 'ALL']), 'CapEff:\t0000000000000000')
  t.not(caps(['--cap-drop', 'ALL', '--cap-add', 'ALL']), 'CapEff:\t0000000000000000')
})

test('--cgroup-dir starts the command inside the directory; -C is still a namespace', (t) => {
  const base = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
    ?.split(' ')[4]
  if (base === undefined) return t.pass('no cgroup v2 here')
  const dir = join(base, `nsjs-cli-test-${process.pid}`)
  mkdirSync(dir)
  t.teardown(() => rmdirSync(dir))
  const r = nsjs('root', ['run', '-r', '--cgroup-dir', dir, '--', 'grep', '^0::', '/proc/self/cgroup'])
  t.deepEqual([r.status, r.stdout], [0, `0::/${dir.slice(base.length + 1)}\n`], r.stderr)
  t.is(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '')
  const ours = readlinkSync('/proc/self/ns/cgroup')
  for (const flag of ['-C', '--cgroup']) {
    const ns = nsjs('root', ['run', flag, '--', 'readlink', '/proc/self/ns/cgroup'])
    t.is(ns.status, 0, ns.stderr)
    t.regex(ns.stdout, /^cgroup:\[\d+\]\n$/)
    t.not(ns.stdout, `${ours}\n`, `${flag} makes a new cgroup namespace`)
  }
})

test('bad usage exits 1 with one line saying what is wrong, and runs nothing', (t) => {
  const marker = '/tmp/nsjs-cli-sandbox-ran'
  const cases: Array<[string[], string]> = [
    [['--bind', '/usr'], '--bind takes SRC DEST: DEST is missing'],
    [['--ro-bind', '/usr', '--', 'touch'], '--ro-bind takes SRC DEST: DEST is missing'],
    [['--symlink'], '--symlink takes SRC DEST: SRC is missing'],
    [['--tmpfs'], "ERR_PARSE_ARGS_INVALID_OPTION_VALUE: Option '--tmpfs' argument is ambiguous"],
    [['--rlimit', 'nofle=3'], "--rlimit: unknown resource 'nofle' (one of cpu, fsize,"],
    [['--rlimit', 'nofile'], "--rlimit takes NAME=N or NAME=SOFT:HARD, not 'nofile'"],
    [['--rlimit', 'nofile=9:3'], '--rlimit nofile=9:3: the soft limit is above the hard one'],
    [['--perms', '0700', '--proc', '/proc'], '--perms must be followed by --tmpfs, --dir or --file, not --proc'],
    [['--perms', '999', '--dir', '/x'], "--perms takes an octal mode such as 0700, not '999'"],
    [['--size', '100', '--dir', '/x'], '--size must be followed by --tmpfs, not --dir'],
    [['--cap-drop', 'CAP_SYS_ADMIN'], '--cap-drop CAP_SYS_ADMIN: drop ALL, then --cap-add what the command keeps'],
  ]
  for (const [args, message] of cases) {
    const r = nsjs('root', ['run', '-r', ...args, '--', 'touch', marker])
    t.is(r.status, 1, args.join(' '))
    const [line, usage, end] = r.stderr.split('\n')
    t.true(line.startsWith(`nsjs: ${message.startsWith('ERR_') ? '' : 'ERR_USAGE: '}${message}`), r.stderr)
    t.deepEqual([usage.slice(0, 15), end], ['usage: nsjs run', ''], 'the message, then the usage line')
    t.false(existsSync(marker), args.join(' '))
  }
  const target = nsjs('root', ['run', '-r', '--tmpfs', 'tmp', '--', 'true'])
  t.is(target.status, 1)
  t.regex(target.stderr, /^nsjs: ERR_INVALID_ARG_VALUE: .*must be an absolute path inside the sandbox.*\n$/)
  const seccomp = nsjs('root', ['run', '-r', '--seccomp', '/nonexistent.bpf', '--', 'true'])
  t.is(seccomp.status, 1)
  t.regex(seccomp.stderr, /^nsjs: ENOENT: .*\/nonexistent\.bpf.*\n$/)
})

test('run --help lists the sandbox options; completion offers them', (t) => {
  const help = nsjs('root', ['run', '--help']).stdout
  for (const o of [
    '--bind SRC DEST',
    '--ro-bind SRC DEST',
    '--tmpfs DEST',
    '--dev DEST',
    '--proc DEST',
    '--dir DEST',
    '--symlink SRC DEST',
    '--cap-drop ALL',
    '--cap-add CAP',
    '--seccomp FD|FILE',
    '--rlimit NAME=N',
    '--cgroup-dir DIR',
    '--file FD DEST',
    '--bind-try SRC DEST',
    '--init',
    '--root tmpfs',
  ])
    t.true(help.includes(o), o)
  const bash = nsjs('root', ['completion', 'bash']).stdout
  const runWords = bash.split('\n').find((l) => l.trim().startsWith('run)'))
  for (const o of ['--bind', '--ro-bind', '--tmpfs', '--cap-drop', '--seccomp', '--rlimit', '--init'])
    t.true(runWords?.split(/[" ]/).includes(o), o)
})
