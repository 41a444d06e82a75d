// spawn's `cgroup` (issue 11): the child is born in a cgroup v2 directory (clone3 with
// CLONE_INTO_CGROUP), falls back to writing itself into cgroup.procs where clone3 is refused, and
// works for an unprivileged caller in a delegated subtree.
import { chownSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { exec } from '../ts/index'
import { AS_NOBODY, asNobody, fdsLeftSince, nodeScript, nsjsFds, ROOT, tempDir } from './helpers'

/** Where cgroup v2 is mounted (the unified hierarchy), from our mountinfo. */
function cgroup2(): string | undefined {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
  return line?.split(' ')[4]
}

/** A fresh cgroup below `base` (and `subdirs` in it), removed when the test ends. */
function testCgroup(t: ExecutionContext, base: string, tag: string, subdirs: string[] = []): string {
  const dir = join(base, `nsjs-test-${tag}-${process.pid}`)
  mkdirSync(dir)
  for (const s of subdirs) mkdirSync(join(dir, s))
  t.teardown(() => {
    for (const s of subdirs) rmdirSync(join(dir, s))
    rmdirSync(dir)
  })
  return dir
}

/** Our descriptors that lead into `dir`: what a spawn into it must not leave open. */
function fdsInto(dir: string): string[] {
  return readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)
    } catch {
      return false
    }
  })
}

/** The cgroup v2 line of /proc/self/cgroup in `out`. */
const v2Line = (out: string) => out.split('\n').find((l) => l.startsWith('0::'))

/** Node with nsjs loaded from source running `script`, as argv for a wrapper such as strace. */
function nodeArgv(script: string): string[] {
  const code = `const nsjs = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))});\n${script}`
  return [process.execPath, '--require', require.resolve('tsx/cjs'), '-e', code]
}

const TSX_ENV = { ...process.env, HOME: '/tmp', TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') }

test.serial('cgroup: the command is in it from its first instruction, nothing left open', async (t) => {
  const base = cgroup2()
  if (base === undefined) return t.pass('no cgroup v2 here')
  const dir = testCgroup(t, base, 'born')
  const before = nsjsFds()
  // cat's first action is reading where it is; with and without vfork (a new user namespace
  // makes the child wait for its maps), under an init, and handed to the spawner thread in a burst.
  const runs = [
    {},
    { unshare: ['user', 'pid'] as const, uidMap: 'root' as const },
    { unshare: ['pid'] as const, init: true },
    {},
    {},
  ]
  const outs = await Promise.all(runs.map((o) => exec('cat', ['/proc/self/cgroup'], { cgroup: dir, ...o })))
  for (const r of outs) t.is(v2Line(r.stdout), `0::/${dir.slice(base.length + 1)}`)
  t.is(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '', 'they left with their exit')
  t.deepEqual(fdsInto(dir), [])
  t.deepEqual(await fdsLeftSince(before), [])
})

test.serial('cgroup: clone3 puts the child there; no process opens its cgroup.procs', (t) => {
  const base = cgroup2()
  if (base === undefined) return t.pass('no cgroup v2 here')
  const dir = testCgroup(t, base, 'clone3')
  const log = join(tempDir(t), 'strace')
  const out = nodeScript(`nsjs.exec('true', [], { cgroup: ${JSON.stringify(dir)} }).then(() => console.log('null'))`, [
    'strace',
    '-f',
    '-qq',
    '-o',
    log,
    '-e',
    'trace=clone3,openat,open',
  ])
  t.is(out, null)
  const trace = readFileSync(log, 'utf8')
  t.regex(trace, /clone3\(\{flags=[^}]*CLONE_VFORK\|CLONE_INTO_CGROUP, [^}]*cgroup=\d+\}/)
  t.false(trace.includes('cgroup.procs'), 'neither the parent nor the child opened cgroup.procs')
})

test.serial('cgroup: where seccomp makes clone3 ENOSYS, the child writes itself in', async (t) => {
  const base = cgroup2()
  if (base === undefined) return t.pass('no cgroup v2 here')
  const dir = testCgroup(t, base, 'fallback')
  const log = join(tempDir(t), 'strace')
  const script = `nsjs.exec('cat', ['/proc/self/cgroup'], { cgroup: ${JSON.stringify(dir)} })
    .then((r) => console.log(JSON.stringify(r.stdout)))`
  // The profile of an older container runtime, with nsjs's own seccomp option.
  const noClone3 = { defaultAction: 'allow', rules: [{ syscall: 'clone3', action: { errno: 'ENOSYS' } }] } as const
  const strace = ['-f', '-qq', '-o', log, '-e', 'trace=clone3,openat,write', ...nodeArgv(script)]
  const r = await exec('strace', strace, { seccomp: noClone3, env: TSX_ENV })
  t.is(v2Line(JSON.parse(r.stdout)), `0::/${dir.slice(base.length + 1)}`)
  const trace = readFileSync(log, 'utf8')
  t.regex(trace, /clone3\(\{flags=[^}]*CLONE_INTO_CGROUP[^)]*\) = -1 ENOSYS/)
  const opened = trace.match(new RegExp(`openat\\(AT_FDCWD, "${dir}/cgroup.procs", O_WRONLY\\|O_CLOEXEC\\) = (\\d+)`))
  t.truthy(opened, 'the parent opened cgroup.procs')
  t.regex(trace, new RegExp(`write\\(${opened?.[1]}, "0", 1\\) *= 1`), 'and the child wrote itself there')
  t.is(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), '')
})

test.serial('cgroup: a missing directory, a file and a cgroup v1 one are refused', async (t) => {
  const base = cgroup2()
  if (base === undefined) return t.pass('no cgroup v2 here')
  const dir = testCgroup(t, base, 'bad')
  const before = nsjsFds()
  const missing = join(dir, 'nope')
  const e1 = await t.throwsAsync(exec('true', [], { cgroup: missing }))
  t.like(e1, { code: 'ENOENT', step: 'cgroup', path: join(missing, 'cgroup.procs') })
  const file = join(dir, 'cgroup.procs')
  const e2 = await t.throwsAsync(exec('true', [], { cgroup: file }))
  t.like(e2, { code: 'ENOTDIR', step: 'cgroup', path: file })
  t.regex(e2?.message ?? '', /not a directory/)
  const e3 = await t.throwsAsync(exec('true', [], { cgroup: '/tmp' }))
  t.like(e3, { code: 'EBADF', step: 'cgroup', syscall: 'clone3', path: '/tmp' })
  t.regex(e3?.message ?? '', /cgroup v2/)
  const v1 = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' - ')[1]?.startsWith('cgroup '))
    ?.split(' ')[4]
  if (v1 !== undefined) {
    const e4 = await t.throwsAsync(exec('true', [], { cgroup: v1 }))
    t.like(e4, { code: 'EBADF', step: 'cgroup', path: v1 })
  }
  t.deepEqual(fdsInto(dir), [])
  t.deepEqual(await fdsLeftSince(before), [])
})

test.serial('cgroup: uid 65534 joins a subtree delegated to it, not one of root', async (t) => {
  const base = cgroup2()
  if (base === undefined) return t.pass('no cgroup v2 here')
  // cgroup v2 delegation: the subtree's root and its cgroup.procs belong to the user, who may
  // then move its processes between the cgroups below (here from `start` into `job`).
  const deleg = testCgroup(t, base, 'deleg', ['start', 'job'])
  for (const p of [deleg, join(deleg, 'cgroup.procs'), join(deleg, 'job'), join(deleg, 'job', 'cgroup.procs')]) {
    chownSync(p, 65534, 65534)
  }
  const rootOwned = testCgroup(t, base, 'root-owned')
  const script = `const tryIn = (cgroup) => nsjs.exec('cat', ['/proc/self/cgroup'], { cgroup })
      .then((r) => r.stdout, (e) => ({ code: e.code, step: e.step, path: e.path }))
    Promise.all([tryIn(${JSON.stringify(join(deleg, 'job'))}), tryIn(${JSON.stringify(rootOwned)})])
      .then((r) => console.log(JSON.stringify(r)))`
  // Started by root in `start` and made 65534 by setpriv (as asNobody does): the Node binaries of
  // the other lines of test:all live under /root, whose search permission spawn's uid 65534 lacks.
  const r = await exec('setpriv', [...AS_NOBODY, ...nodeArgv(script)], {
    cwd: '/',
    env: TSX_ENV,
    cgroup: join(deleg, 'start'),
  })
  const [joined, refused] = JSON.parse(r.stdout)
  t.is(v2Line(joined), `0::/${deleg.slice(base.length + 1)}/job`)
  t.deepEqual(refused, { code: 'EACCES', step: 'cgroup', path: join(rootOwned, 'cgroup.procs') })
  // Outside any delegated subtree (setpriv, in our cgroup), the common ancestor is root's.
  const nobody = asNobody(`
    nsjs.exec('true', [], { cgroup: ${JSON.stringify(join(deleg, 'job'))} }).then(() => console.log('null'), (e) => console.log(JSON.stringify({ code: e.code, step: e.step })))`)
  t.deepEqual(nobody, { code: 'EACCES', step: 'cgroup' })
})
