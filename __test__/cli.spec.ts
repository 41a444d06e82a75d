// The nsjs CLI (dist/cjs/cli.js, the package's "bin"), side by side with util-linux lsns,
// nsenter and unshare and with iproute2's ip netns, on the same targets.
import { spawn as cpSpawn, type SpawnSyncReturns, spawnSync } from 'node:child_process'
import {
  accessSync,
  existsSync,
  constants as fsConstants,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import type { LsEntry } from '../ts/cli/format'
import { Namespace } from '../ts/index'
import { AS_NOBODY, nsfsMounts, nsLink, ROOT, target, tempDir } from './helpers'

const CLI = join(ROOT, 'dist', 'cjs', 'cli.js')

interface Run {
  status: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

function done(r: SpawnSyncReturns<string>): Run {
  if (r.error) throw r.error
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }
}

/** `nsjs ARGS`, the built CLI, run by node. */
function nsjs(args: string[], input?: string): Run {
  return done(spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', input, timeout: 30_000 }))
}

/** A util-linux (or other) tool. */
function tool(cmd: string, args: string[], input?: string): Run {
  return done(spawnSync(cmd, args, { encoding: 'utf8', input, timeout: 30_000 }))
}

interface LsnsRow {
  ns: number
  type: string
  nprocs: number
  pid: number
  user: string
  command: string
  pns?: number
  ons?: number
}

/**
 * lsns's rows, flattened: its JSON nests a namespace under the one whose process is the parent of
 * its own (`children`), whenever the target's parent is listed, so the rows of one answer
 * depend on the process tree. lsns also gives up (empty output) when a process it is reading
 * exits under it, which a busy machine makes likely: it is then asked again, a few times.
 */
function lsns(args: string[]): LsnsRow[] {
  const flat = (rows: Array<LsnsRow & { children?: LsnsRow[] }>): LsnsRow[] =>
    rows.flatMap(({ children, ...row }) => [row, ...flat(children ?? [])])
  let r: Run | undefined
  for (let i = 0; i < 5; i++) {
    r = tool('lsns', ['--json', '--output', 'NS,TYPE,NPROCS,PID,USER,PNS,ONS,COMMAND', ...args])
    if (r.status === 0 && r.stdout.trim() !== '') return flat(JSON.parse(r.stdout).namespaces)
  }
  throw new Error(`lsns ${args.join(' ')}: status ${r?.status}, stderr ${r?.stderr}`)
}

function nsjsLs(args: string[]): LsEntry[] {
  const r = nsjs(['ls', '--json', ...args])
  if (r.status !== 0) throw new Error(`nsjs ls: ${r.stderr}`)
  // --tree nests them in children, as lsns --tree -J: flattened here.
  const flat = (list: Array<LsEntry & { children?: LsEntry[] }>): LsEntry[] =>
    list.flatMap(({ children, ...e }) => [e, ...flat(children ?? [])])
  return flat(JSON.parse(r.stdout).namespaces)
}

/** Exactly one line on stderr, `nsjs: <CODE>: <message>`; returns the code. */
function errorCode(
  t: { is: (a: unknown, b: unknown, m?: string) => void; regex: (s: string, r: RegExp, m?: string) => void },
  r: Run,
): string {
  t.is(r.stderr.split('\n').filter(Boolean).length, 1, `one line: ${JSON.stringify(r.stderr)}`)
  t.regex(r.stderr, /^nsjs: [A-Z_]+: \S.*\n$/)
  return r.stderr.split(': ')[1]
}

test.before("the CLI is built, executable, with a shebang, and is the package's bin", (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.deepEqual(pkg.bin, { nsjs: 'dist/cjs/cli.js' })
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:ts`)
  const sources = [
    join(ROOT, 'ts', 'cli.ts'),
    ...readdirSync(join(ROOT, 'ts', 'cli'), { recursive: true, encoding: 'utf8' }).map((f) =>
      join(ROOT, 'ts', 'cli', f),
    ),
  ]
  const newest = sources.reduce((a, f) => (statSync(f).mtimeMs > statSync(a).mtimeMs ? f : a))
  if (statSync(CLI).mtimeMs < statSync(newest).mtimeMs)
    throw new Error(`${CLI} is older than ${newest}: run npm run build:ts`)
  t.true(readFileSync(CLI, 'utf8').startsWith('#!/usr/bin/env node\n'))
  accessSync(CLI, fsConstants.X_OK)
})

test('the bin runs as a program: --version, --help', (t) => {
  const v = done(spawnSync(CLI, ['--version'], { encoding: 'utf8' }))
  t.is(v.status, 0)
  t.is(v.stdout, `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}\n`)
  const h = nsjs(['--help'])
  t.is(h.status, 0)
  for (const cmd of ['ls', 'exec', 'run', 'create', 'delete', 'id']) t.regex(h.stdout, new RegExp(`^  ${cmd} `, 'm'))
  t.deepEqual(nsjs(['-h']).stdout, h.stdout)
  t.deepEqual(nsjs(['help']).stdout, h.stdout)
})

test('every subcommand has --help and -h, with its usage line', (t) => {
  for (const cmd of ['ls', 'exec', 'run', 'create', 'delete', 'id']) {
    const r = nsjs([cmd, '--help'])
    t.is(r.status, 0, cmd)
    t.true(r.stdout.startsWith(`Usage: nsjs ${cmd}`), cmd)
    t.is(nsjs([cmd, '-h']).stdout, r.stdout)
    t.is(nsjs(['help', cmd]).stdout, r.stdout)
  }
  t.regex(
    nsjs(['ls', '--help']).stdout,
    /"namespaces":\[\{"ns":N,"type":"net","nprocs":N,"pid":N\|null,"user":"root"\|null/,
    'ls documents its JSON',
  )
  t.regex(
    nsjs(['id', '--help']).stdout,
    /\{"pid":N,"namespaces":\{"cgroup":"cgroup:\[4026531835\]"/,
    'id documents its JSON',
  )
})

test('bad usage: a short usage line and exit status 1, as util-linux', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /a command is needed/],
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['ls', '--bogus'], /Unknown option '--bogus'/],
    [['ls', '--type', 'nett'], /unknown namespace type 'nett'/],
    [['ls', '--pid', 'abc'], /--pid must be a process id/],
    [['ls', '--type'], /argument missing/],
    [['exec', '--net', '--', 'true'], /add --target PID/],
    [['exec', '--target', String(process.pid), '--', 'true'], /no namespace to enter: name the types .* use --all/],
    [['exec', '--target', String(process.pid), '--net'], /no command given/],
    [['exec', '--target', 'x', '--net', '--', 'true'], /--target must be a process id/],
    [['exec', '--target', String(process.pid), '--all', '--net', '--', 'true'], /--all enters every namespace/],
    [['run', '--', 'true'], /no namespace to create/],
    [['run', '--unshare', 'net'], /no command given/],
    [['run', '--unshare', 'net,bogus', '--', 'true'], /unknown namespace type 'bogus'/],
    [['run', '--map-root', '--map-current', '--', 'true'], /exclude each other/],
    [['create', 'net'], /create takes a TYPE and a PATH/],
    [['delete'], /delete takes the PATH/],
    [['id'], /id takes one PID/],
    [['id', '0'], /PID must be a process id/],
  ]
  for (const [args, message] of cases) {
    const r = nsjs(args)
    t.is(r.status, 1, `nsjs ${args.join(' ')}: ${r.stderr}`)
    t.is(r.stdout, '')
    const [problem, usage, ...more] = r.stderr.split('\n')
    t.regex(problem, /^nsjs: [A-Z_]+: /)
    t.regex(problem, message, args.join(' '))
    t.regex(usage, /^usage: nsjs /)
    t.deepEqual(more, [''])
  }
  // The command begins at the first non-option: its own options are not nsjs's.
  const pid = String(process.pid)
  t.is(nsjs(['exec', '--target', pid, '--net', 'sh', '-c', 'exit 3']).status, 3)
})

test('ls --json --type net finds the net namespaces lsns --json --type net finds', async (t) => {
  const pid = await target(t, ['--net', '--uts'])
  // Other tests in this file make and drop namespaces meanwhile: what lsns sees both before and
  // after nsjs looked must be in what nsjs found.
  const before = lsns(['--type', 'net'])
  const ours = nsjsLs(['--type', 'net'])
  const after = new Set(lsns(['--type', 'net']).map((r) => r.ns))
  const theirs = before.filter((r) => after.has(r.ns))
  t.true(ours.every((r) => r.type === 'net'))
  for (const row of ours) {
    t.deepEqual(
      Object.keys(row),
      ['ns', 'type', 'nprocs', 'pid', 'user', 'command', 'path', 'paths'],
      'the documented keys, in order',
    )
  }
  const ids = new Set(ours.map((r) => r.ns))
  for (const row of theirs) t.true(ids.has(row.ns), `net:[${row.ns}] from lsns`)
  const netId = Number(/\[(\d+)\]/.exec(nsLink(pid, 'net'))?.[1])
  const mine = ours.find((r) => r.ns === netId)
  const lsnsRow = theirs.find((r) => r.ns === netId)
  t.truthy(lsnsRow)
  t.like(mine, {
    type: 'net',
    nprocs: lsnsRow?.nprocs,
    pid: lsnsRow?.pid,
    user: lsnsRow?.user,
    command: lsnsRow?.command,
    path: null,
    paths: [],
  })
  t.like(mine, { nprocs: 1, pid, command: 'sleep 600' })
})

test('ls --pid (JSON and table) gives the namespaces lsns -p gives', async (t) => {
  const pid = await target(t, ['--net', '--uts', '--ipc'])
  const ours = nsjsLs(['--pid', String(pid)])
  const theirs = lsns(['-p', String(pid)])
  t.is(ours.length, theirs.length, JSON.stringify([ours.map((o) => o.type + o.ns), theirs.map((o) => o.type + o.ns)]))
  for (const row of theirs) {
    const mine = ours.find((r) => r.ns === row.ns && r.type === row.type)
    t.truthy(mine, `${row.type}:[${row.ns}]`)
    t.is(mine?.pid, row.pid, `${row.type} pid`)
    t.is(mine?.user, row.user)
    // The host's namespaces gain processes while the test runs (lsns itself); the target's own do not.
    if (['net', 'uts', 'ipc'].includes(row.type)) t.is(mine?.nprocs, row.nprocs, `${row.type} nprocs`)
  }
  // The table: lsns's columns, plus PATH; one row per namespace.
  const table = nsjs(['ls', '-p', String(pid)])
    .stdout.trimEnd()
    .split('\n')
  t.deepEqual(table[0].trim().split(/\s+/), ['NS', 'TYPE', 'NPROCS', 'PID', 'USER', 'PATH', 'COMMAND'])
  t.is(table.length, 1 + theirs.length)
  const utsId = /\[(\d+)\]/.exec(nsLink(pid, 'uts'))?.[1]
  t.deepEqual(
    table
      .find((l) => l.trim().startsWith(`${utsId} `))
      ?.trim()
      .split(/\s+/),
    [String(utsId), 'uts', '1', String(pid), 'root', 'sleep', '600'],
  )
})

test('ls --tree: user namespaces own what lsns says they own (ONS, PNS)', async (t) => {
  const pid = await target(t, ['--user', '--map-root-user', '--net', '--uts'])
  // lsns prints 0 where the kernel does not say (above our own user namespace).
  const expected = (row: LsnsRow) => (row.type === 'user' ? row.pns : row.ons) ?? -1
  const mineOf = (ours: LsEntry[], row: LsnsRow) => ours.find((r) => r.ns === row.ns && r.type === row.type)
  // Read again (up to five times) while they differ: lsns reads each owner through a process of
  // that namespace, and other test files start and end processes meanwhile. A real difference
  // stays.
  let ours = nsjsLs(['--tree', '--pid', String(pid)])
  let theirs = lsns(['-p', String(pid)])
  for (let i = 1; i < 5 && !theirs.every((row) => (mineOf(ours, row)?.owner ?? 0) === expected(row)); i++) {
    ours = nsjsLs(['--tree', '--pid', String(pid)])
    theirs = lsns(['-p', String(pid)])
  }
  for (const row of theirs) {
    const mine = mineOf(ours, row)
    t.truthy(mine, `${row.type}:[${row.ns}]`)
    t.is(mine?.owner ?? 0, expected(row), `owner of ${row.type}:[${row.ns}]`)
  }
  const userId = Number(/\[(\d+)\]/.exec(nsLink(pid, 'user'))?.[1])
  const netId = Number(/\[(\d+)\]/.exec(nsLink(pid, 'net'))?.[1])
  t.is(ours.find((r) => r.ns === netId)?.owner, userId, "the target's net namespace belongs to its user namespace")
  // The tree drawing: the target's user namespace, and under it its uts and net namespaces, in
  // the order lsns draws them: by ns (not by creation: the kernel reuses the lowest free number,
  // so a namespace another test let go of meanwhile may give the net namespace the lower one).
  const utsId = Number(/\[(\d+)\]/.exec(nsLink(pid, 'uts'))?.[1])
  const lines = nsjs(['ls', '--tree', '--pid', String(pid)]).stdout.split('\n')
  const at = lines.findIndex((l) => new RegExp(`^[├└]─${userId} +user `).test(l))
  t.true(at > 0, lines.join('\n'))
  const [first, second] = [
    [utsId, 'uts'],
    [netId, 'net'],
  ].sort((a, b) => Number(a[0]) - Number(b[0]))
  // Under it, indented by "│ " while another user namespace follows ours (one a concurrent test
  // made), by two spaces when ours is the last.
  const under = lines[at].startsWith('├') ? '│ ' : ' {2}'
  t.regex(lines[at + 1], new RegExp(`^${under}├─${first[0]} +${first[1]} +1 +${pid} `))
  t.regex(lines[at + 2], new RegExp(`^${under}└─${second[0]} +${second[1]} +1 +${pid} `))
})

test('exec --target PID --net prints what nsenter -t PID -n prints', async (t) => {
  const pid = await target(t, ['--net', '--uts'], 'nsjs-cli-t')
  const ours = nsjs(['exec', '--target', String(pid), '--net', '--', 'readlink', '/proc/self/ns/net'])
  const theirs = tool('nsenter', ['-t', String(pid), '-n', 'readlink', '/proc/self/ns/net'])
  t.is(ours.status, 0, ours.stderr)
  t.is(ours.stdout, theirs.stdout)
  t.is(ours.stdout, `${nsLink(pid, 'net')}\n`)
  // Short options and several types, as nsenter spells them.
  const cmd = ['sh', '-c', 'hostname; readlink /proc/self/ns/net /proc/self/ns/uts']
  t.is(
    nsjs(['exec', '-t', String(pid), '-n', '-u', '--', ...cmd]).stdout,
    tool('nsenter', ['-t', String(pid), '-n', '-u', ...cmd]).stdout,
  )
  // stdin and stderr pass through too.
  const cat = nsjs(['exec', '-t', String(pid), '-n', '--', 'sh', '-c', 'cat; echo to-stderr >&2'], 'from stdin\n')
  t.deepEqual([cat.stdout, cat.stderr], ['from stdin\n', 'to-stderr\n'])
})

test('exec --all and --pid enter what nsenter -a and -p enter', async (t) => {
  const pid = await target(t, ['--net', '--uts', '--ipc', '--mount', '--pid', '--fork', '--mount-proc'], 'nsjs-cli-all')
  const show = [
    'sh',
    '-c',
    'hostname; for t in ipc mnt net pid uts; do readlink /proc/self/ns/$t; done; set -- /proc/[0-9]*; echo "$# processes"',
  ]
  const ours = nsjs(['exec', '--target', String(pid), '--all', '--', ...show])
  const theirs = tool('nsenter', ['-t', String(pid), '-a', ...show])
  t.is(ours.status, 0, ours.stderr)
  t.is(ours.stdout, theirs.stdout)
  t.is(ours.stdout.split('\n')[0], 'nsjs-cli-all')
  t.is(ours.stdout.split('\n')[6], '2 processes', "the target and the shell, in the target's /proc")
  const pidShow = ['sh', '-c', 'readlink /proc/self/ns/pid']
  t.is(nsjs(['exec', '-t', String(pid), '-p', '--', ...pidShow]).stdout, `${nsLink(pid, 'pid')}\n`)
  t.is(
    nsjs(['exec', '-t', String(pid), '-p', '--', ...pidShow]).stdout,
    tool('nsenter', ['-t', String(pid), '-p', ...pidShow]).stdout,
  )
  // --wd=DIR: that working directory, taken inside the entered mount namespace.
  t.is(
    nsjs(['exec', '-t', String(pid), '-m', '--wd=/proc', '--', 'pwd']).stdout,
    tool('nsenter', ['-t', String(pid), '-m', '-w/proc', 'pwd']).stdout,
  )
})

test('exec exits as nsenter does: the status, not found, not executable, killed', async (t) => {
  const pid = String(await target(t, ['--net']))
  const both = (cmd: string[]): [Run, Run] => [
    nsjs(['exec', '-t', pid, '-n', '--', ...cmd]),
    tool('nsenter', ['-t', pid, '-n', ...cmd]),
  ]

  const [seven, seven2] = both(['sh', '-c', 'exit 7'])
  t.deepEqual([seven.status, seven2.status], [7, 7])

  const [missing, missing2] = both(['nsjs-no-such-command'])
  t.deepEqual([missing.status, missing2.status], [127, 127])
  t.is(errorCode(t, missing), 'ENOENT')
  t.regex(missing.stderr, /execve.*nsjs-no-such-command.*not found/)

  const plain = join(tempDir(t, 'nsjs-cli-'), 'not-executable')
  writeFileSync(plain, 'echo hi\n', { mode: 0o644 })
  const [noexec, noexec2] = both([plain])
  t.deepEqual([noexec.status, noexec2.status], [126, 126])
  t.is(errorCode(t, noexec), 'EACCES')

  // nsenter execs the command, so a shell sees 128+15 from either.
  const [killed, killed2] = both(['sh', '-c', 'kill -TERM $$'])
  t.is(killed.status, 128 + 15)
  t.is(killed2.signal, 'SIGTERM')
  t.is(tool('sh', ['-c', `nsenter -t ${pid} -n sh -c 'kill -TERM $$'; echo $?`]).stdout, '143\n')

  const [ok, ok2] = both(['true'])
  t.deepEqual([ok.status, ok2.status, ok.stderr], [0, 0, ''])
})

test("run exits with the command's status too", (t) => {
  t.is(nsjs(['run', '--unshare', 'uts', '--', 'sh', '-c', 'exit 7']).status, 7)
  t.is(tool('unshare', ['--uts', 'sh', '-c', 'exit 7']).status, 7)
  const missing = nsjs(['run', '--unshare', 'uts', '--', 'nsjs-no-such-command'])
  t.is(missing.status, 127)
  t.is(tool('unshare', ['--uts', 'nsjs-no-such-command']).status, 127)
  t.is(errorCode(t, missing), 'ENOENT')
  t.is(nsjs(['run', '--unshare', 'uts', '--', 'sh', '-c', 'kill -KILL $$']).status, 128 + 9)
  t.is(tool('sh', ['-c', `unshare --uts sh -c 'kill -KILL $$'; echo $?`]).stdout, '137\n')
})

test('a command killed by a signal sent to nsjs: forwarded, exit 128+N', async (t) => {
  const child = cpSpawn(process.execPath, [CLI, 'run', '--unshare', 'uts', '--', 'sleep', '600'], { stdio: 'ignore' })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  // Wait for the sleep, nsjs's child.
  let sleeper: number | undefined
  for (let i = 0; i < 500 && sleeper === undefined; i++) {
    await new Promise((r) => setTimeout(r, 10))
    const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
    sleeper = kids.map(Number).find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'sleep')
  }
  t.truthy(sleeper)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  child.kill('SIGTERM')
  t.is(await exited, 128 + 15)
  t.false(
    existsSync(`/proc/${sleeper}/comm`) && readFileSync(`/proc/${sleeper}/comm`, 'utf8').trim() === 'sleep',
    'the sleep is gone',
  )
})

test('run --unshare uts --hostname x -- hostname prints x, as unshare does', (t) => {
  const ours = nsjs(['run', '--unshare', 'uts', '--hostname', 'x', '--', 'hostname'])
  t.deepEqual([ours.status, ours.stdout, ours.stderr], [0, 'x\n', ''])
  t.is(tool('unshare', ['--uts', 'sh', '-c', 'hostname x; hostname']).stdout, ours.stdout)
  t.is(nsjs(['run', '--hostname', 'implied', '--', 'hostname']).stdout, 'implied\n', '--hostname implies uts')
  t.not(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'x')
})

test('run --unshare user,pid --map-root --mount-proc matches unshare', (t) => {
  const cmd = ['sh', '-c', 'id -u; echo $$']
  const ours = nsjs(['run', '--unshare', 'user,pid', '--map-root', '--mount-proc', '--', ...cmd])
  const theirs = tool('unshare', ['--user', '--map-root-user', '--pid', '--fork', '--mount-proc', ...cmd])
  t.is(ours.status, 0, ours.stderr)
  t.is(ours.stdout, '0\n1\n')
  t.is(ours.stdout, theirs.stdout)
  // Its /proc is the new pid namespace's: the shell (expanding the glob itself) is all there is.
  const ps = ['sh', '-c', 'echo /proc/[0-9]*']
  const procs = nsjs(['run', '-s', 'user', '-s', 'pid', '-r', '--mount-proc', '--', ...ps]).stdout
  t.is(procs, '/proc/1\n')
  t.is(procs, tool('unshare', ['-U', '-r', '-p', '-f', '--mount-proc', ...ps]).stdout)
  // --map-current keeps our uid; --fork is accepted.
  t.is(
    nsjs(['run', '--unshare', 'user', '--map-current', '--fork', '--', 'id', '-u']).stdout,
    `${process.getuid?.()}\n`,
  )
})

test('create net in /run/netns: ip netns, exec --ns and ls see it; delete removes it', async (t) => {
  const name = `nsjs-cli-test-${process.pid}`
  const path = `/run/netns/${name}`
  t.teardown(() => {
    if (existsSync(path)) {
      try {
        Namespace.unpersistSync(path)
      } catch {
        // not a mount any more
      }
    }
  })
  const created = nsjs(['create', 'net', path])
  t.is(created.status, 0, created.stderr)
  t.regex(created.stdout, /^net:\[\d+\]\n$/)
  const id = created.stdout.trim()
  t.true(
    tool('ip', ['netns', 'list'])
      .stdout.split('\n')
      .some((l) => l.split(' ')[0] === name),
    'ip netns list shows it',
  )
  t.is(tool('ip', ['netns', 'exec', name, 'readlink', '/proc/self/ns/net']).stdout, `${id}\n`)
  t.is(
    nsjs(['exec', '--ns', path, '--', 'readlink', '/proc/self/ns/net']).stdout,
    `${id}\n`,
    'exec --ns PATH enters it',
  )
  t.is(readlinkSync('/proc/self/ns/net') === id, false)
  const row = nsjsLs(['--type', 'net']).find((r) => `net:[${r.ns}]` === id)
  // lsns 2.41 shows the user that owns such a row (root here), where 2.38 found no such row.
  t.like(row, { nprocs: 0, pid: null, user: 'root', command: null, path, paths: [path] })
  t.true(nsfsMounts().includes(path), 'an nsfs bind mount at the path')

  const again = nsjs(['create', 'net', path])
  t.is(again.status, 1)
  t.is(errorCode(t, again), 'EEXIST')

  const deleted = nsjs(['delete', path])
  t.deepEqual([deleted.status, deleted.stdout, deleted.stderr], [0, '', ''])
  t.false(tool('ip', ['netns', 'list']).stdout.includes(name))
  t.false(existsSync(path))
  t.false(nsfsMounts().includes(path), 'the mount is gone')
  t.false(nsjsLs(['--type', 'net']).some((r) => r.paths.includes(path)))
})

test('create and delete any type at any path; delete refuses what is not persisted', (t) => {
  const dir = tempDir(t, 'nsjs-cli-')
  const path = join(dir, 'uts')
  t.teardown(() => {
    try {
      Namespace.unpersistSync(path)
    } catch {
      // deleted by the test
    }
  })
  const created = nsjs(['create', 'uts', path])
  t.is(created.status, 0, created.stderr)
  t.is(nsjs(['exec', '--ns', path, '--', 'readlink', '/proc/self/ns/uts']).stdout, created.stdout)
  t.is(nsjs(['delete', path]).status, 0)
  writeFileSync(path, '')
  const notNs = nsjs(['delete', path])
  t.is(notNs.status, 1)
  t.is(errorCode(t, notNs), 'ERR_NS_NOT_NAMESPACE')
  t.regex(notNs.stderr, /is not a namespace file/)
})

test('id PID matches readlink /proc/PID/ns/*, in text and JSON', async (t) => {
  const pid = await target(t, ['--net', '--uts', '--ipc'])
  const types = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts']
  const links = Object.fromEntries(types.map((type) => [type, readlinkSync(`/proc/${pid}/ns/${type}`)]))
  const json = nsjs(['id', String(pid), '--json'])
  t.is(json.status, 0, json.stderr)
  t.deepEqual(JSON.parse(json.stdout), { pid, namespaces: links })
  t.deepEqual(Object.keys(JSON.parse(json.stdout).namespaces), types)
  const text = nsjs(['id', String(pid)])
    .stdout.trimEnd()
    .split('\n')
  t.deepEqual(text[0].split(/\s+/), ['TYPE', 'NS'])
  t.deepEqual(Object.fromEntries(text.slice(1).map((l) => l.split(/\s+/))), links)
  // The same as lsns -p, which names them by inode number.
  for (const row of lsns(['-p', String(pid)])) t.is(links[row.type], `${row.type}:[${row.ns}]`)
})

test('errors print one line with the NamespaceError code and exit 1', (t) => {
  const esrch = nsjs(['exec', '--target', '4000000', '--net', '--', 'true'])
  t.is(esrch.status, 1)
  t.is(errorCode(t, esrch), 'ESRCH')
  t.regex(esrch.stderr, /^nsjs: ESRCH: no process with pid 4000000 exists/)
  t.is(tool('nsenter', ['-t', '4000000', '-n', 'true']).status, 1, 'nsenter says 1 too')
  const id = nsjs(['id', '4000000'])
  t.is(id.status, 1)
  t.is(errorCode(t, id), 'ESRCH')
  const missing = nsjs(['exec', '--ns', '/nonexistent/nsjs', '--', 'true'])
  t.is(missing.status, 1)
  t.is(errorCode(t, missing), 'ENOENT')
  const notNs = nsjs(['exec', '--ns', '/etc/hostname', '--', 'true'])
  t.is(errorCode(t, notNs), 'ERR_NS_NOT_NAMESPACE')
  const hostname = nsjs(['run', '--unshare', 'uts', '--hostname', 'a\u0001'.repeat(40), '--', 'true'])
  t.true(hostname.status === 1 || hostname.status === 2)
  t.is(hostname.stderr.split('\n').filter(Boolean).length, 1, hostname.stderr)
})

test('as uid 65534: rootless run works, privileged steps fail naming the rule', (t) => {
  const asNobody = (args: string[]): Run =>
    done(
      spawnSync('setpriv', [...AS_NOBODY, process.execPath, CLI, ...args], {
        encoding: 'utf8',
        cwd: '/',
        timeout: 30_000,
      }),
    )
  const sandbox = asNobody([
    'run',
    '--unshare',
    'user,pid,net',
    '--map-root',
    '--mount-proc',
    '--',
    'sh',
    '-c',
    'id -u; echo $$',
  ])
  t.deepEqual([sandbox.status, sandbox.stdout], [0, '0\n1\n'], sandbox.stderr)
  const uts = asNobody(['run', '--unshare', 'uts', '--', 'true'])
  t.is(uts.status, 1)
  t.is(errorCode(t, uts), 'EPERM')
  t.regex(uts.stderr, /step 'unshare'.*CAP_SYS_ADMIN/)
  const create = asNobody(['create', 'net', '/tmp/nsjs-cli-nobody'])
  t.is(create.status, 1)
  t.is(errorCode(t, create), 'EPERM')
  t.false(existsSync('/tmp/nsjs-cli-nobody'))
  const ls = asNobody(['ls', '--json', '--tree'])
  t.is(ls.status, 0, ls.stderr)
})
