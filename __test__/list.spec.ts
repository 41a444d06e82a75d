// list(): compared with util-linux lsns on the same system.
import { execFileSync } from 'node:child_process'

import test from 'ava'

import { Namespace } from '../ts/index'
import { nsLink, target } from './helpers'

interface LsnsRow { ns: number; type: string; nprocs: number; pid: number; command: string; user?: string }

function lsns(args: string[]): LsnsRow[] {
  const out = JSON.parse(execFileSync('lsns', ['--json', '--output', 'NS,TYPE,NPROCS,PID,USER,COMMAND', ...args], { encoding: 'utf8' }))
  return out.namespaces
}

test('list({ pid }) gives the namespaces lsns -p gives, with the same counts and lowest pid', async (t) => {
  const pid = await target(t, ['--uts', '--net', '--ipc'])
  const ours = await Namespace.list({ pid })
  const theirs = lsns(['-p', String(pid)])
  t.is(ours.length, 8)
  for (const row of theirs) {
    const mine = ours.find((n) => n.id === Number(row.ns) && n.type === row.type)
    t.truthy(mine, `${row.type}:[${row.ns}]`)
    t.is(mine?.pid, Number(row.pid), `${row.type} pid`)
    // The host's namespaces gain processes while the test runs (lsns itself); the target's own do not.
    if (['uts', 'net', 'ipc'].includes(row.type)) t.is(mine?.nprocs, Number(row.nprocs), `${row.type} nprocs`)
    t.is(mine?.user, row.user)
  }
  const uts = ours.find((n) => n.type === 'uts')
  t.is(uts?.pid, pid)
  t.is(uts?.nprocs, 1)
  t.is(uts?.command, 'sleep 600')
  t.is(uts?.uid, 0)
})

test('list({ type }) finds every namespace of that type lsns finds', async (t) => {
  const pid = await target(t, ['--net'])
  // Other tests in this file make and drop namespaces meanwhile: what lsns sees both before and
  // after nsjs looked must be in what nsjs found.
  const before = lsns(['-t', 'net'])
  const ours = Namespace.listSync({ type: 'net' })
  const after = new Set(lsns(['-t', 'net']).map((r) => r.ns))
  t.true(ours.every((n) => n.type === 'net'))
  const ids = new Set(ours.map((n) => n.id))
  for (const row of before.filter((r) => after.has(r.ns))) t.true(ids.has(Number(row.ns)), `net:[${row.ns}]`)
  t.true(ids.has(Number(/\[(\d+)\]/.exec(nsLink(pid, 'net'))?.[1])), 'the target\'s own net namespace')
})

test('list() includes namespaces held only by a bind mount, with their path', async (t) => {
  const path = `/run/nsjs-list-${process.pid}`
  using uts = await Namespace.create('uts')
  await uts.persist(path)
  t.teardown(() => Namespace.unpersistSync(path))
  const row = (await Namespace.list({ type: 'uts' })).find((n) => n.id === Number(uts.inode))
  t.deepEqual(row?.paths, [path])
  t.is(row?.nprocs, 0)
  t.is(row?.pid, undefined)
})

test('list() validates its options', async (t) => {
  t.is((await t.throwsAsync(Namespace.list({ type: 'bogus' as 'net' })))?.constructor, TypeError)
  t.is((await t.throwsAsync(Namespace.list({ pid: 0 })))?.constructor, RangeError)
  t.is((await t.throwsAsync(Namespace.list('net' as never)))?.constructor, TypeError)
  t.deepEqual(await Namespace.list({ pid: 4000000 }), [], 'a pid that does not exist holds no namespaces')
})
