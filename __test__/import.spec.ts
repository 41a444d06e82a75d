// Importing nsjs: spawning and sockets load on their first use (ts/lazy.ts), from files of their
// own in the built package (nsjs-spawn.js, nsjs-net.js) that share the entry's modules.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

import test from 'ava'

import { lazyMethods } from '../ts/lazy'
import { NET_METHODS, NET_STATICS } from '../ts/net/public'
import { SPAWN_METHODS } from '../ts/spawn/public'
import { ROOT } from './helpers'

test('lazyMethods: the first call loads; the loaded method gets this and the args', (t) => {
  class Box {
    constructor(readonly n: number) {}
  }
  let loads = 0
  const load = () => {
    loads++
    Object.defineProperty(Box.prototype, 'add', {
      value(this: Box, k: number) {
        return this.n + k
      },
      writable: true,
      configurable: true,
    })
  }
  lazyMethods(Box.prototype, ['add'], load)
  const placeholder = (Box.prototype as unknown as { add: (k: number) => number }).add
  t.is(placeholder.name, 'add')
  t.false(Object.getOwnPropertyDescriptor(Box.prototype, 'add')?.enumerable)
  t.is(placeholder.call(new Box(2), 3), 5)
  t.is(loads, 1)
  const real = (Box.prototype as unknown as { add: (k: number) => number }).add
  t.not(real, placeholder)
  t.is(real.call(new Box(1), 1), 2)
  // Taken before the load, the placeholder still works and loads nothing again.
  t.is(placeholder.call(new Box(10), 1), 11)
  t.is(loads, 1)
})

test('lazyMethods: a load that does not define the method is an error, not a loop', (t) => {
  const target = {} as Record<string, () => unknown>
  let loads = 0
  lazyMethods(target, ['missing'], () => loads++)
  t.throws(() => target.missing(), { message: 'nsjs internal error: loading did not define missing' })
  t.is(loads, 1)
})

/** Runs `script` in a fresh Node process on the built package; its stdout as JSON. */
function fresh(script: string, args: string[] = []): Record<string, unknown> {
  return JSON.parse(execFileSync(process.execPath, [...args, '-e', script], { cwd: '/', encoding: 'utf8' }))
}

test('require(nsjs) loads neither spawning nor sockets; the first call loads each', (t) => {
  const out = fresh(`
    const nsjs = require(${JSON.stringify(ROOT)})
    const loaded = () => Object.keys(require.cache).map((f) => f.replace(/.*\\//, '')).filter((f) => f.startsWith('nsjs-'))
    const { Namespace, NamespaceError, NsChildProcess, spawn } = nsjs
    const own = (o) => Object.getOwnPropertyNames(o).sort()
    const snap = (o, names) => names.map((n) => o[n])
    const protoBefore = own(Namespace.prototype), staticBefore = own(Namespace)
    const net = ${JSON.stringify([...NET_METHODS])}, statics = ${JSON.stringify([...NET_STATICS])}
    const spawnMethods = ${JSON.stringify([...SPAWN_METHODS])}
    const netBefore = snap(Namespace.prototype, net), staticsBefore = snap(Namespace, statics)
    const spawnBefore = snap(Namespace.prototype, spawnMethods)
    const atImport = loaded()
    const uts = Namespace.current('uts')
    let mismatch
    try { uts.socket('inet', 'stream') } catch (e) { mismatch = { code: e.code, shared: e instanceof NamespaceError } }
    const afterSocket = loaded()
    const netReplaced = snap(Namespace.prototype, net).every((f, i) => f !== netBefore[i])
      && snap(Namespace, statics).every((f, i) => f !== staticsBefore[i])
    const child = spawn('/bin/true', [], { stdio: 'ignore' })
    const isChild = child instanceof NsChildProcess
    child.exited.then(({ code }) => {
      uts.close()
      console.log(JSON.stringify({
        atImport, afterSocket, afterSpawn: loaded(), mismatch, netReplaced, isChild, code,
        spawnReplaced: snap(Namespace.prototype, spawnMethods).every((f, i) => f !== spawnBefore[i]),
        sameNames: own(Namespace.prototype).join() === protoBefore.join() && own(Namespace).join() === staticBefore.join(),
        sharedHidden: !Object.keys(nsjs).some((k) => k.includes('shared')),
      }))
    })`)
  t.deepEqual(out.atImport, [])
  t.deepEqual(out.afterSocket, ['nsjs-net.js'])
  t.deepEqual(out.afterSpawn, ['nsjs-net.js', 'nsjs-spawn.js'])
  // The error made in nsjs-net.js is the entry's NamespaceError class.
  t.deepEqual(out.mismatch, { code: 'ERR_NS_TYPE_MISMATCH', shared: true })
  t.true(out.netReplaced)
  t.true(out.spawnReplaced)
  // The placeholders were exactly the methods the lazy parts define: no name added or missing.
  t.true(out.sameNames)
  t.true(out.isChild)
  t.is(out.code, 0)
  t.true(out.sharedHidden)
})

test('import() of nsjs gives the classes require() gives, and loads no lazy part', (t) => {
  const esm = join(ROOT, 'dist', 'esm', 'index.mjs')
  const out = fresh(
    `const m = await import(${JSON.stringify(esm)})
    const { createRequire } = await import('node:module')
    const require = createRequire(${JSON.stringify(`${ROOT}/`)})
    const cjs = require(${JSON.stringify(ROOT)})
    const loaded = Object.keys(require.cache).filter((f) => /nsjs-(spawn|net)\\.js$/.test(f))
    console.log(JSON.stringify({ loaded, same: ['Namespace', 'NamespaceError', 'NsChildProcess', 'spawn', 'exec', 'fork'].every((k) => m[k] === cjs[k]) }))`,
    ['--input-type=module'],
  )
  t.deepEqual(out, { loaded: [], same: true })
})

test('the built package names its classes as written, in stack traces too', (t) => {
  const out = fresh(`
    const { Namespace } = require(${JSON.stringify(ROOT)})
    let frame
    try { Namespace.open(-1, 'net') } catch (e) { frame = e.stack.split('\\n').find((l) => l.includes('.open ')) }
    console.log(JSON.stringify({ name: Namespace.name, frame }))`)
  t.is(out.name, 'Namespace')
  t.regex(out.frame as string, /at Namespace\.open /)
})
