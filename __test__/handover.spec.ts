// Spawns handed to the native spawner thread: what a burst of spawns started in one synchronous
// loop gets (ts/spawn/pending.ts). Every test here starts more spawns in one turn than the JS thread
// clones itself, so most of them go through the spawner thread.
import { execFileSync } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync, realpathSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { exec, Namespace, NamespaceError, type NsChildProcess, type SpawnOptions, spawn } from '../ts/index'
import {
  asNobody,
  CATCH_FIELDS,
  fdsLeftSince,
  nsjsFds,
  nsLink,
  procStat,
  ROOT,
  target,
  tempDir,
  zombieChildren,
} from './helpers'

function threadNames(): string[] {
  return readdirSync('/proc/self/task').map((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim()
    } catch {
      return ''
    }
  })
}

/** `n` spawns in one synchronous loop, as a user starting a batch of commands writes it. */
function burst(n: number, file: string, args: (i: number) => string[], options: SpawnOptions = {}): NsChildProcess[] {
  const kids: NsChildProcess[] = []
  for (let i = 0; i < n; i++) kids.push(spawn(file, args(i), options))
  return kids
}

async function output(c: NsChildProcess): Promise<string> {
  let out = ''
  c.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d))
  await once(c, 'close')
  return out
}

test.serial('a burst is handed to the spawner thread; every child runs, exits and is reaped', async (t) => {
  t.false(threadNames().includes('nsjs-spawner'), 'no spawner thread before the first burst')
  const startFds = nsjsFds()
  const kids = burst(200, 'sh', (i) => ['-c', `exit ${i % 7}`], { unshare: ['uts'], stdio: 'ignore' })
  const spawned = kids.map((k) => once(k, 'spawn'))
  const results = await Promise.all(kids.map((k) => k.exited))
  await Promise.all(spawned)
  // The thread is started only by a hand-over, and names itself once running: look after the
  // children started, not right after the hand-over, when it may still be called "node".
  t.true(threadNames().includes('nsjs-spawner'), 'the queue was handed over to the spawner thread')
  t.deepEqual(
    results.map((r) => r.code),
    kids.map((_, i) => i % 7),
  )
  t.is(new Set(kids.map((k) => k.pid)).size, 200, 'each child has its own pid')
  t.true(kids.every((k) => typeof k.pid === 'number' && k.pid > 1))
  t.deepEqual(zombieChildren(), [])
  t.deepEqual(await fdsLeftSince(startFds), [], 'no pipe, pidfd or duplicate is left behind')
})

test.serial('untouched pipes get their streams in the background; nothing is left open', async (t) => {
  const startFds = nsjsFds()
  const kids = burst(200, 'sh', (i) => ['-c', `echo out ${i}; echo err ${i} >&2`], {})
  const closed = kids.map((k) => new Promise((resolve) => k.once('close', (code) => resolve(code))))
  t.deepEqual(
    await Promise.all(closed),
    kids.map(() => 0),
  )
  t.true(
    kids.every((k) => k.stdout?.destroyed),
    'each child had its stdout stream, now closed',
  )
  t.deepEqual(await fdsLeftSince(startFds), [], 'every pipe end is closed')
  t.deepEqual(zombieChildren(), [])
})

test.serial('EMFILE in a burst of spawns: clean failures, every child closes, no fd left', (t) => {
  // In a process limited to 200 descriptors; a third of the children have their stdout asked for
  // at once (their pipes open then), the others open them at the hand-over.
  const code = `
    const { spawn } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
    const fs = require('node:fs')
    // What nsjs makes (pipes, pidfds, /dev/null), not the runtime's own descriptors.
    const count = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
      try { return /^(pipe:|anon_inode:\\[pidfd\\]|\\/dev\\/null)/.test(fs.readlinkSync('/proc/self/fd/' + fd)) } catch { return false }
    }).length
    const before = count()
    const kids = [], closed = []
    for (let i = 0; i < 300; i++) {
      const k = spawn('sh', ['-c', 'echo ' + i])
      k.on('error', () => {})
      if (i % 3 === 0) k.stdout.on('data', () => {})
      closed.push(new Promise((r) => { k.once('close', () => r(true)); setTimeout(() => r(false), 10000).unref() }))
      kids.push(k)
    }
    Promise.allSettled(kids.map((k) => k.exited)).then(async (res) => {
      const tally = { ok: 0, emfile: 0, other: [] }
      for (const r of res) {
        if (r.status === 'fulfilled') tally.ok++
        else if (r.reason.code === 'EMFILE') tally.emfile++
        else tally.other.push(r.reason.code)
      }
      const closes = await Promise.all(closed)
      console.log(JSON.stringify({ ...tally, unclosed: closes.filter((c) => !c).length, leaked: count() - before }))
    })`
  const out = execFileSync(
    'sh',
    ['-c', `ulimit -n 200 && exec "$0" "$@"`, process.execPath, '--require', require.resolve('tsx/cjs'), '-e', code],
    {
      encoding: 'utf8',
      env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
    },
  )
  const r = JSON.parse(out) as { ok: number; emfile: number; other: string[]; unclosed: number; leaked: number }
  t.true(r.ok > 0, `some children ran: ${out}`)
  t.true(r.emfile > 0, `some could not get descriptors: ${out}`)
  t.deepEqual(r.other, [])
  t.is(r.unclosed, 0, 'every child emitted close')
  t.is(r.leaked, 0, 'and the process has the descriptors it started with')
})

test.serial('a burst of exec() calls gets every output, and its pipes are closed after', async (t) => {
  const startFds = nsjsFds()
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => exec('sh', ['-c', `echo ${i}; echo e${i} >&2`], { input: `in${i}` })),
  )
  t.deepEqual(
    results.map((r) => r.stdout),
    results.map((_, i) => `${i}\n`),
  )
  t.deepEqual(
    results.map((r) => r.stderr),
    results.map((_, i) => `e${i}\n`),
  )
  t.deepEqual(await fdsLeftSince(startFds), [])
})

test.serial("pid read right after spawn() is the running child's, even when handed over", async (t) => {
  const kids = burst(40, 'sleep', () => ['600'], { stdio: 'ignore' })
  // The last one is certainly queued: reading its pid hands over and waits for it.
  const pids = kids.map((k) => k.pid).reverse()
  for (const pid of pids) {
    t.is(procStat(pid as number)?.ppid, process.pid, `${pid} is our child`)
  }
  const ns = kids[39].namespaces()
  t.true(ns.uts!.equals(Namespace.current('uts')))
  for (const h of Object.values(ns)) h.close()
  for (const k of kids) t.true(k.kill('SIGKILL'))
  const ends = await Promise.all(kids.map((k) => k.exited))
  t.true(ends.every((e) => e.signal === 'SIGKILL'))
})

test.serial('kill() before a handed-over child started is delivered once it starts', async (t) => {
  const kids = burst(30, 'sleep', () => ['30'], { stdio: 'ignore' })
  for (const k of kids) t.true(k.kill('SIGTERM'))
  const ends = await Promise.all(kids.map((k) => k.exited))
  t.deepEqual(new Set(ends.map((e) => e.signal)), new Set(['SIGTERM']))
  t.true(kids.every((k) => k.killed))
  t.true(
    kids.every((k) => !k.kill()),
    'false once exited',
  )
})

test.serial('stdio pipes of handed-over children exist at once and carry their output', async (t) => {
  const kids = burst(60, 'sh', (i) => ['-c', `read x; echo "$x-${i}"; echo err-${i} >&2`], { unshare: ['ipc'] })
  t.true(kids.every((k) => k.stdin !== null && k.stdout !== null && k.stderr !== null))
  for (const [i, k] of kids.entries()) k.stdin?.end(`in${i}\n`)
  const outs = await Promise.all(kids.map(output))
  t.deepEqual(
    outs,
    kids.map((_, i) => `in${i}-${i}\n`),
  )
})

test.serial('a handed-over spawn that fails emits error and rejects, and does not hang', async (t) => {
  const startFds = nsjsFds()
  const kids = burst(30, '/nonexistent/nsjs-cmd', () => [], { stdio: 'pipe' })
  // Half have their stdout asked for before the failure: it stays that same object, as in
  // child_process; the others get one that is already destroyed.
  const held = kids.map((k, i) => (i % 2 ? k.stdout : null))
  const errors = kids.map((k) => once(k, 'error').then(([e]) => e as NamespaceError))
  const rejections = await Promise.all(
    kids.map((k) =>
      k.exited.then(
        () => undefined,
        (e: unknown) => e,
      ),
    ),
  )
  for (const e of [...(await Promise.all(errors)), ...rejections]) {
    t.true(e instanceof NamespaceError)
    t.like(e as NamespaceError, { code: 'ENOENT', step: 'execve' })
  }
  t.true(kids.every((k) => k.pid === undefined))
  t.true(kids.every((k, i) => k.stdout?.destroyed && (i % 2 === 0 || k.stdout === held[i])))
  t.deepEqual(await fdsLeftSince(startFds), [], 'no pipe end is left open')
})

test.serial('the cwd and join handles of spawn() time count, whatever the caller does next', async (t) => {
  const here = process.cwd()
  const dir = realpathSync(tempDir(t))
  const pid = await target(t, ['--net'])
  const net = Namespace.open(pid, 'net')
  const before = nsjsFds()
  const netFd = `${net.fd}=${nsLink(pid, 'net')}`
  const kids = burst(30, 'sh', () => ['-c', 'pwd; readlink /proc/self/ns/net'], { join: [net] })
  // Both happen before any queued spawn has been handed over.
  net.close()
  process.chdir(dir)
  try {
    const outs = await Promise.all(kids.map(output))
    for (const o of outs) t.is(o, `${here}\n${nsLink(pid, 'net')}\n`)
  } finally {
    process.chdir(here)
  }
  t.deepEqual(await fdsLeftSince(before), [], 'every duplicate of net and every pipe were closed')
  t.true(before.has(netFd))
  t.false(nsjsFds().has(netFd), 'net itself was closed')
})

test.serial('without env, each child gets process.env as it was at its own spawn() call', async (t) => {
  t.teardown(() => delete process.env.NSJS_BURST)
  const kids: NsChildProcess[] = []
  for (let i = 0; i < 40; i++) {
    if (i % 10 === 0) process.env.NSJS_BURST = `gen${i}`
    kids.push(spawn('sh', ['-c', 'echo "${NSJS_BURST-unset}"']))
  }
  delete process.env.NSJS_BURST
  kids.push(spawn('sh', ['-c', 'echo "${NSJS_BURST-unset}"']))
  const outs = await Promise.all(kids.map(output))
  t.deepEqual(outs, [...kids.slice(0, 40).map((_, i) => `gen${i - (i % 10)}\n`), 'unset\n'])
})

test.serial("'spawn' comes before any output of a handed-over child", async (t) => {
  const kids = burst(100, 'echo', (i) => [`line${i}`])
  const order = kids.map((k) => {
    const seen: string[] = []
    k.on('spawn', () => seen.push('spawn'))
    k.stdout?.on('data', () => seen.push('data'))
    return once(k, 'close').then(() => seen)
  })
  for (const seen of await Promise.all(order)) t.is(seen[0], 'spawn')
})

test.serial("a burst's 'spawn' events come in the order of its spawn() calls", async (t) => {
  const kids = burst(1000, '/bin/true', () => [], { unshare: ['uts'], stdio: 'ignore' })
  const order: number[] = []
  for (const [i, k] of kids.entries()) k.once('spawn', () => order.push(i))
  // The loop held once the queue is with the spawner thread finds a pile of outcomes, more than
  // a turn takes, while more come in: those must wait behind the pile.
  kids[100].once('spawn', () => {
    for (const end = Date.now() + 200; Date.now() < end; );
  })
  await Promise.all(kids.map((k) => k.exited))
  t.deepEqual(
    order,
    kids.map((_, i) => i),
  )
  t.deepEqual(zombieChildren(), [])
})

test.serial('a relative cwd is resolved against the cwd of the spawn() call', async (t) => {
  const here = process.cwd()
  const dir = realpathSync(tempDir(t))
  process.chdir(dir)
  const base = dir.split('/').pop() as string
  let kids: NsChildProcess[]
  try {
    kids = burst(20, 'pwd', () => [], { cwd: `../${base}` })
  } finally {
    process.chdir(here)
  }
  t.deepEqual(new Set(await Promise.all(kids.map(output))), new Set([`${dir}\n`]))
})

test.serial('queued spawns start even when the process exits first, unref()ed or not', async (t) => {
  const dir = tempDir(t)
  const code = `
    const { spawn } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))})
    for (let i = 0; i < 100; i++) spawn('touch', [${JSON.stringify(dir)} + '/u' + i], { stdio: 'ignore' }).unref()
    for (let i = 0; i < 100; i++) spawn('touch', [${JSON.stringify(dir)} + '/x' + i], { stdio: 'ignore' })
    setImmediate(() => process.exit(0))`
  execFileSync(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', code], {
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
  })
  // Exit waits until every child has exec'ed, not until it has finished: the last touches may
  // still be running, so give them time to finish rather than count at once.
  const deadline = Date.now() + 10_000
  while (readdirSync(dir).length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.is(readdirSync(dir).length, 200)
})

test.serial('inside run(), spawns happen on the JS thread, in the namespaces run() entered', async (t) => {
  const uts = await Namespace.create('uts')
  const kids = uts.run(() => burst(20, 'readlink', () => ['/proc/self/ns/uts']))
  const outs = await Promise.all(kids.map(output))
  t.deepEqual(new Set(outs), new Set([`uts:[${uts.inode}]\n`]))
  t.true(kids.every((k) => typeof k.pid === 'number'))
  uts.close()
})

test.serial('as uid 65534: handed-over spawns get the same answers on id maps', (t) => {
  const r = asNobody(`
    const { exec } = nsjs
    const grab = (p) => p.then((v) => v.stdout.trim(), ${CATCH_FIELDS})
    const ok = [], denied = []
    // One synchronous loop: past the first spawn, these go through the spawner thread.
    for (let i = 0; i < 20; i++) {
      ok.push(grab(exec('id', ['-u'], { unshare: ['user'], uidMap: 'root', gidMap: 'root' })))
      denied.push(grab(exec('id', ['-u'], { unshare: ['user'], uidMap: [{ inside: 0, outside: 0, count: 1 }] })))
    }
    const threads = () => require('fs').readdirSync('/proc/self/task').map((t) => require('fs').readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim())
    Promise.all([Promise.all(ok), Promise.all(denied)]).then(([a, b]) => console.log(JSON.stringify({ a, b, spawner: threads().includes('nsjs-spawner') })))`) as {
    a: string[]
    b: Array<{ name: string; code: string; step: string }>
    spawner: boolean
  }
  t.true(r.spawner, 'the spawner thread did the work')
  t.deepEqual(new Set(r.a), new Set(['0']))
  for (const e of r.b) t.like(e, { name: 'NamespaceError', code: 'EPERM', step: 'uid_map' })
  t.is(r.b.length, 20)
})

test.serial('reading pid inside run() starts the queued spawns where they were asked for', async (t) => {
  const uts = await Namespace.create('uts')
  const kids = burst(30, 'readlink', () => ['/proc/self/ns/uts'])
  const pid = uts.run(() => kids[29].pid)
  t.is(typeof pid, 'number')
  const outs = await Promise.all(kids.map(output))
  t.deepEqual(new Set(outs), new Set([`${nsLink('self', 'uts')}\n`]), 'in our uts namespace, not the one run() entered')
  uts.close()
})

// Last: it moves this test process's main thread for good.
test.serial('unshare() right after a burst does not move or fail the spawns queued before', async (t) => {
  const before = nsLink('self', 'uts')
  const kids = burst(30, 'readlink', () => ['/proc/self/ns/uts'])
  Namespace.unshareSync(['uts'])
  const outs = await Promise.all(kids.map(output))
  t.deepEqual(new Set(outs), new Set([`${before}\n`]))
  const after = burst(10, 'readlink', () => ['/proc/self/ns/uts'])
  t.deepEqual(
    new Set(await Promise.all(after.map(output))),
    new Set([`${nsLink('thread-self', 'uts')}\n`]),
    'later spawns follow the thread',
  )
})
