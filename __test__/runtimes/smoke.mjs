// The smoke suite for runtimes other than Node (Bun, Deno): the package's main paths once each
// (open, join, run, create, persist, spawn, exec, a burst of 100 spawns, listen and connect, and a
// spawn from a worker), in the plain ESM a runtime runs without a test framework. Run as root inside a private mount
// namespace (scripts/test-all.mjs does that); prints `ok`/`not ok` lines and ends with
// `N passed, N failed, N skipped`.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmdirSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import nsjs from '../../dist/esm/index.mjs'

const { Namespace, exec, spawn } = nsjs
const results = { passed: 0, failed: 0 }
const tests = []
const test = (title, fn) => tests.push({ title, fn })
function check(cond, what) {
  if (!cond) throw new Error(`expected ${what}`)
}

test('open: our own net namespace through a pidfd equals current()', () => {
  const ns = Namespace.open(process.pid, 'net')
  check(ns.type === 'net' && ns.equals(Namespace.current('net')), 'the same namespace')
  ns.close()
})

test('create: a new uts namespace, the caller not moved', async () => {
  const ns = await Namespace.create('uts')
  check(!ns.equals(Namespace.current('uts')), 'a namespace other than ours')
  ns.close()
})

test('run: inside a new uts namespace and back out', async () => {
  const ns = await Namespace.create('uts')
  const before = hostname()
  const inside = ns.run(() => Namespace.current('uts').equals(ns))
  check(inside, 'run() to be inside')
  check(!Namespace.current('uts').equals(ns) && hostname() === before, 'back outside')
  ns.close()
})

test('join: this thread enters a new net namespace', async () => {
  const ours = Namespace.current('net')
  const ns = await Namespace.create('net')
  await ns.join()
  check(Namespace.current('net').equals(ns), 'joined')
  await ours.join()
  check(Namespace.current('net').equals(ours), 'back in ours')
  ns.close()
  ours.close()
})

test('persist: a net namespace bound to a file and removed again', async () => {
  // /run is the private tmpfs of the run (see above), but the directory's self-bind (made as
  // `ip netns` makes /run/netns's) and the directory go anyway, for a run outside it.
  const dir = mkdtempSync('/run/nsjs-smoke-')
  try {
    const ns = await Namespace.create('net')
    const path = join(dir, 'lab')
    await ns.persist(path)
    const again = Namespace.fromPath(path)
    check(again.equals(ns), 'the persisted namespace')
    again.close()
    await Namespace.unpersist(path)
    ns.close()
    check(readdirSync(dir).length === 0, 'the file removed')
  } finally {
    if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `)) execFileSync('umount', [dir])
    rmdirSync(dir)
  }
})

test('spawn: a child in a new uts namespace exits with its code', async () => {
  const child = spawn('sh', ['-c', 'exit 3'], { unshare: ['uts'], stdio: 'ignore' })
  const { code, signal } = await child.exited
  check(code === 3 && signal === null, `exit 3, got ${code} ${signal}`)
})

test('exec: hostname in a new uts namespace', async () => {
  const { stdout } = await exec('hostname', [], { unshare: ['uts'], hostname: 'smoke' })
  check(stdout === 'smoke\n', `"smoke\\n", got ${JSON.stringify(stdout)}`)
})

test('exec: joins a namespace by handle', async () => {
  const ns = await Namespace.create('uts')
  const { stdout } = await exec('readlink', ['/proc/self/ns/uts'], { join: [ns] })
  check(stdout.trim() === ns.id, `${ns.id}, got ${stdout.trim()}`)
  ns.close()
})

test('a burst of 100 spawns all report their exit', async () => {
  const children = Array.from({ length: 100 }, (_, i) =>
    spawn('sh', ['-c', `exit ${i % 7}`], { unshare: ['uts'], stdio: 'ignore' }),
  )
  const codes = await Promise.all(children.map((c) => c.exited.then((r) => r.code)))
  check(
    codes.every((c, i) => c === i % 7),
    'every exit code',
  )
})

test("spawn: 'ipc' in stdio is refused with a clear error, nothing started", () => {
  let err
  try {
    spawn('true', [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] })
  } catch (e) {
    err = e
  }
  check(err?.code === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, got ${err?.code}`)
  check(/unavailable on (Bun|Deno)/.test(err.message), `a message naming the runtime, got ${err.message}`)
})

test('listen: a server listens inside a new net namespace, not on the host', async () => {
  const { createServer } = await import('node:net')
  const ns = await Namespace.create('net')
  const server = createServer()
  try {
    await exec('ip', ['link', 'set', 'lo', 'up'], { join: [ns] })
    const { port } = await ns.listen(server, { port: 0, host: '127.0.0.1' })
    const inside = (await exec('ss', ['-ltnH'], { join: [ns] })).stdout.toString()
    const host = (await exec('ss', ['-ltnH'])).stdout.toString()
    check(inside.includes(`127.0.0.1:${port} `), `:${port} listening inside, got ${JSON.stringify(inside)}`)
    check(!host.includes(`127.0.0.1:${port} `), `:${port} not listening on the host`)
  } finally {
    server.close()
    ns.close()
  }
})

test("connect: refused with a clear error (the runtime's net.Socket would connect outside)", async () => {
  const ns = await Namespace.create('net')
  let err
  try {
    ns.connect({ host: '127.0.0.1', port: 9 })
  } catch (e) {
    err = e
  } finally {
    ns.close()
  }
  check(err?.code === 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', `ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, got ${err?.code}`)
  check(/unavailable on (Bun|Deno)/.test(err.message), `a message naming the runtime, got ${err.message}`)
})

test('a worker thread spawns and execs', async () => {
  const worker = new Worker(new URL('./smoke-worker.mjs', import.meta.url))
  const got = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  await worker.terminate()
  check(got === 'worker\n', `"worker\\n", got ${JSON.stringify(got)}`)
})

const deadline = setTimeout(() => {
  console.log('not ok - the smoke suite did not finish within 60 s')
  console.log(`${results.passed} passed, ${results.failed + 1} failed, 0 skipped`)
  process.exit(1)
}, 60_000)
let n = 0
for (const { title, fn } of tests) {
  n += 1
  try {
    await fn()
    results.passed += 1
    console.log(`ok ${n} - ${title}`)
  } catch (e) {
    results.failed += 1
    console.log(`not ok ${n} - ${title}: ${e?.code ?? ''} ${e?.message ?? e}`)
  }
}
clearTimeout(deadline)
console.log(`${results.passed} passed, ${results.failed} failed, 0 skipped`)
process.exit(results.failed ? 1 : 0)
