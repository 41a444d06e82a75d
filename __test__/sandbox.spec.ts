// Sandboxes from spawn() (issue 11): PID 1 of a new pid namespace and `init`, id maps as
// unshare -r makes them. Cases after bubblewrap's tests/test-run.sh, written for spawn().
import test from 'ava'

import { type ExecError, exec, spawn } from '../ts/index'
import { asNobody, CATCH_FIELDS, zombieChildren } from './helpers'

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
