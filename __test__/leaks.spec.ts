// Descriptors: one per handle, released by close() and by garbage collection.
import test from 'ava'

import { Namespace } from '../ts/index'
import { countFds, fdCount, nodeScript, nsFdCount, nsjsFds } from './helpers'

async function collect(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    ;(globalThis as { gc?: () => void }).gc?.()
    await new Promise((r) => setImmediate(r))
  }
}

test.serial('20,000 open/close cycles leave the fd count where it started', (t) => {
  const before = nsjsFds()
  for (let i = 0; i < 20_000; i++) {
    const ns = i % 2 ? Namespace.open(process.pid, 'net') : Namespace.fromPath('/proc/self/ns/uts')
    ns.close()
  }
  t.deepEqual(
    [...nsjsFds()].filter((f) => !before.has(f)),
    [],
  )
})

test.serial('20,000 abandoned handles are closed by garbage collection', async (t) => {
  t.truthy((globalThis as { gc?: unknown }).gc, 'run with --expose-gc')
  await collect()
  // Counted over namespace descriptors only: the test runner opens and closes its own meanwhile.
  const start = nsFdCount()
  let peak = 0
  // 20 turns of the event loop with 1,000 dropped handles each and no explicit gc(): the
  // collector must run by itself before the descriptors reach RLIMIT_NOFILE (20,000 here).
  for (let turn = 0; turn < 20; turn++) {
    for (let i = 0; i < 1000; i++) Namespace.current('ipc')
    peak = Math.max(peak, nsFdCount())
    await new Promise((r) => setImmediate(r))
  }
  t.true(peak >= start + 500, 'handles hold descriptors until collected')
  t.log(`peak: ${peak - start} descriptors above the start`)
  await collect()
  t.is(nsFdCount(), start)
  t.true(fdCount() < 200, 'and the process as a whole is back to a handful of descriptors')
})

test.serial('failed opens leak nothing', (t) => {
  const before = nsjsFds()
  const hostname = countFds(/^\/etc\/hostname$/)
  for (let i = 0; i < 2000; i++) {
    t.throws(() => Namespace.fromPath('/proc/self/ns/net', 'uts'))
    t.throws(() => Namespace.fromPath('/etc/hostname'))
  }
  t.deepEqual(
    [...nsjsFds()].filter((f) => !before.has(f)),
    [],
  )
  t.is(countFds(/^\/etc\/hostname$/), hostname)
})

test('dropped handles are released when the event loop turns; EMFILE says so', (t) => {
  // Node processes of their own, with at most 1,024 descriptors and no --expose-gc, as for users.
  const limit = ['prlimit', '--nofile=1024:1024', '--']
  const sync = nodeScript(
    `
    let i = 0
    try {
      for (; i < 5000; i++) nsjs.Namespace.current('net')
      console.log(JSON.stringify({ at: i }))
    } catch (e) {
      console.log(JSON.stringify({ at: i, code: e.code, syscall: e.syscall, message: e.message }))
    }
    // At once: the process has no descriptor left for anything else (tsx would load a file).
    process.exit(0)
  `,
    limit,
  ) as { at: number; code?: string; message?: string }
  t.is(sync.code, 'EMFILE')
  t.true(sync.at > 900 && sync.at < 1024, `one descriptor per dropped handle until then (failed at ${sync.at})`)
  t.regex(
    sync.message ?? '',
    /dropped without close\(\) keeps it until it has been garbage-collected and the event loop has turned/,
  )
  const yielding = nodeScript(
    `
    const { readdirSync } = require('node:fs')
    ;(async () => {
      let peak = 0
      for (let i = 0; i < 5000; i++) {
        nsjs.Namespace.current('net')
        if (i % 100 === 99) {
          peak = Math.max(peak, readdirSync('/proc/self/fd').length)
          await new Promise((r) => setImmediate(r))
        }
      }
      console.log(JSON.stringify({ done: true, peak }))
    })().catch((e) => console.log(JSON.stringify({ done: false, code: e.code })))
  `,
    limit,
  ) as { done: boolean; peak?: number }
  t.true(yielding.done, '5,000 dropped handles, yielding to the event loop every 100')
  t.log(`peak: ${yielding.peak} descriptors`)
})
