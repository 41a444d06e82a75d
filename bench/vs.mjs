// nsjs against Go and the C floor (issue 12), one task per fresh Node process, started by
// bench/run.mjs:
//
//   node bench/vs.mjs <task> '<json options>'
//
// Tasks: seq (sequential spawn in a new uts ns and joined to a net ns, and exec(): time and parent
// CPU per spawn), seqFloor (the native call alone in seq's pattern), concurrent (bursts of
// children: throughput, event loop lag, parent CPU per child), handles (joinSync, run, open,
// openAll, 10k handles kept open), import (require + first native call in fresh processes). The
// Go side is bench/gobench.go, the C side bench/clone_exec.c and bench/ns_ops.c, each run with
// spawnSync between nsjs's rounds and timing itself (its own process start is outside its figure).
// Progress goes to stderr; the result is one line of JSON on stdout.
import * as cp from 'node:child_process'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as os from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, PerformanceObserver, constants as perfConstants, performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'

const require = createRequire(import.meta.url)
const [task, json] = process.argv.slice(2)
const opts = JSON.parse(json ?? '{}')

const log = (...a) => process.stderr.write(`  [${task}] ${a.join(' ')}\n`)
const now = () => performance.now() // ms, fractional
/** This process's user+system CPU in us: every thread (JS, libuv pool, V8 helpers, nsjs's own). */
const cpuNow = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

function median(a) {
  if (a.length === 0) return NaN
  const s = [...a].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
function rotate(list, r) {
  const k = r % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

/** Runs one of the Go/C programs; it times itself and prints {per_op_us | per_spawn_us, parent_cpu_us}. */
function external(binary, args) {
  const r = cp.spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 1 << 20 })
  if (r.status !== 0) throw new Error(`${binary} ${args.join(' ')}: ${r.stderr || r.error || r.signal}`)
  const j = JSON.parse(r.stdout)
  return { us: j.per_op_us ?? j.per_spawn_us, cpuUs: j.parent_cpu_us, totalMs: j.total_ns / 1e6, n: j.n }
}

/** `n` calls of the synchronous `fn`: wall time and CPU of this process per call, in us. */
function loopSync(n, fn) {
  const c0 = cpuNow()
  const t0 = now()
  for (let i = 0; i < n; i++) fn()
  const ms = now() - t0
  return { us: (ms * 1000) / n, cpuUs: (cpuNow() - c0) / n }
}

/** `n` awaited calls of `fn`, one after the other: wall time and CPU of this process per call. */
async function loopAsync(n, fn) {
  const c0 = cpuNow()
  const t0 = now()
  for (let i = 0; i < n; i++) await fn()
  const ms = now() - t0
  return { us: (ms * 1000) / n, cpuUs: (cpuNow() - c0) / n }
}

/** Runs every variant once per round, in an order that rotates each round. */
async function rounds(list, count, label) {
  const names = Object.keys(list)
  const res = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < count; r++) {
    for (const name of rotate(names, r)) res[name].push(await list[name]())
    log(
      `${label} round ${r + 1}/${count}:`,
      names.map((k) => `${k} ${res[k].at(-1).us?.toFixed(1) ?? '?'}us`).join(', '),
    )
  }
  return res
}

// ---- seq: one spawn after the other ----------------------------------------------------------------

async function seq({ target, n, rounds: count, warmup, steadyWarmup, cBinary, goBinary }) {
  const { spawn, exec, Namespace } = require('..')
  const net = Namespace.open(target, 'net')
  const run = async (options) => {
    const { code } = await spawn('/bin/true', [], options).exited
    if (code !== 0) throw new Error(`/bin/true exited ${code}`)
  }
  const uts = { unshare: ['uts'], stdio: 'ignore' }
  const joined = { join: [net], stdio: 'ignore' }
  const list = {
    'nsjs uts': () => loopAsync(n, () => run(uts)),
    'C uts': () => external(cBinary, ['uts', String(n)]),
    'nsjs net': () => loopAsync(n, () => run(joined)),
    'C net': () => external(cBinary, ['net', String(n), String(target)]),
    'nsjs exec uts': () => loopAsync(n, () => exec('/bin/true', [], { unshare: ['uts'] })),
  }
  if (goBinary) {
    list['Go uts'] = () => external(goBinary, ['uts', String(n)])
    list['Go net'] = () => external(goBinary, ['net', String(n), String(target)])
  }
  await loopAsync(warmup, () => run(uts))
  await loopAsync(warmup, () => run(joined))
  await loopAsync(warmup, () => exec('/bin/true', [], { unshare: ['uts'] }))
  const res = await rounds(list, count, 'seq')
  const steady = await steadyState({ run, uts, joined, exec, n, count, warmup: steadyWarmup })
  net.close()
  return { n, rounds: count, runs: res, steady }
}

/**
 * For information, no target: the same nsjs variants in the same process once it has made
 * `warmup` more spawns of each, by when V8 has compiled their path (the rounds above come after 50,
 * while it is still compiling it, and its compiler threads count as parent CPU), and under them
 * the native call alone: the binding's spawnChild and its exit report, no JS layer (as section
 * 6's "node native"), which is what Node and the kernel cost without nsjs's TypeScript.
 */
async function steadyState({ run, uts, joined, exec, n, count, warmup }) {
  const list = {
    'nsjs uts': () => loopAsync(n, () => run(uts)),
    'nsjs net': () => loopAsync(n, () => run(joined)),
    'nsjs exec uts': () => loopAsync(n, () => exec('/bin/true', [], { unshare: ['uts'] })),
  }
  const native = nativeSpawn()
  if (native) {
    const one = nativeUts(native)
    list['native uts'] = () => loopAsync(n, one)
  }
  // The exit watch behind the native call does not hold the loop open.
  const keep = setInterval(() => {}, 1 << 30)
  // Each variant's warm-up in rounds of n, as it is then measured.
  for (const name of Object.keys(list)) for (let done = 0; done < warmup; done += n) await list[name]()
  const res = await rounds(list, count, 'seq, steady')
  clearInterval(keep)
  return { warmup, runs: res }
}

/**
 * The floor under the rounds of `seq`: the native call alone (as the steady state's "native uts")
 * in a fresh process, in the rounds' own pattern: the same warm-up and as many spawns before and
 * in each round (three loops of `n` a round, as seq's three nsjs variants), interleaved with C's
 * run. Node's own code on that path (promises, the callback scope, the loop) is still being
 * compiled there as it is in seq's rounds, so no TypeScript layer could go below this figure in
 * them. Information, no target.
 */
async function seqFloor({ n, rounds: count, warmup, cBinary }) {
  const native = nativeSpawn()
  if (!native) return null
  const one = nativeUts(native)
  // The exit watch behind the native call does not hold the loop open.
  const keep = setInterval(() => {}, 1 << 30)
  for (let i = 0; i < 3; i++) await loopAsync(warmup, one)
  const list = {
    'native uts 1': () => loopAsync(n, one),
    'native uts 2': () => loopAsync(n, one),
    'native uts 3': () => loopAsync(n, one),
    'C uts': () => external(cBinary, ['uts', String(n)]),
  }
  const res = await rounds(list, count, 'seq floor')
  clearInterval(keep)
  return { n, rounds: count, warmup, runs: res }
}

/** One spawn of /bin/true in a new uts ns through the binding alone, resolved at its exit report. */
function nativeUts(native) {
  const stdio = ['ignore', 'ignore', 'ignore']
  const u = undefined
  return () =>
    new Promise((resolve) => {
      // The binding reports the exit by the id (ts/spawn/exits.ts); the request goes one field
      // per argument (file, argv, env, envGeneration, path, join, unshare, cwd, stdio,
      // extraFds, captureLimit, more, id).
      const id = native.childId({ exitReported: resolve })
      native.spawnChild('/bin/true', ['/bin/true'], u, u, u, u, ['uts'], u, stdio, u, u, u, id)
    })
}

/** The internal native entry point and the id registry, as ts/spawn/child.ts uses them; null when this build lacks them. */
function nativeSpawn() {
  try {
    const { binding } = require('../dist/cjs/loader.js')
    const { childId } = require('../dist/cjs/spawn/exits.js')
    return { spawnChild: binding().spawnChild, childId }
  } catch {
    return null
  }
}

// ---- concurrent: bursts of children ----------------------------------------------------------------

/**
 * `count` spawns of /bin/true in new uts namespaces started in one synchronous loop, all awaited,
 * with the event loop delay measured as in worker.mjs's burst (its histogram only: a second 1 ms
 * timer would add to the CPU measured) and this process's CPU over it.
 */
async function nsjsBurst(spawn, count) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  // The histogram runs before the burst starts (see worker.mjs's burstOnce).
  h.enable()
  await new Promise((r) => setTimeout(r, 30))
  h.reset()
  await new Promise((r) => setTimeout(r, 5))
  const c0 = cpuNow()
  const t0 = now()
  const waits = []
  for (let i = 0; i < count; i++) waits.push(spawn('/bin/true', [], { unshare: ['uts'], stdio: 'ignore' }).exited)
  const ends = await Promise.all(waits)
  const ms = now() - t0
  const cpuUs = cpuNow() - c0
  // One more tick so that a delay that ends with the last exit is seen.
  await new Promise((r) => setTimeout(r, 2))
  h.disable()
  if (ends.some((e) => e.code !== 0)) throw new Error('a child of the burst failed')
  return {
    us: (ms * 1000) / count,
    perSec: (count * 1000) / ms,
    cpuUs: cpuUs / count,
    lagMaxMs: h.max / 1e6,
    lagP99Ms: h.percentile(99) / 1e6,
  }
}

async function concurrent({ sizes, rounds: count, cBinary, goBinary }) {
  const { spawn } = require('..')
  const perSec = (x) => ({ ...x, perSec: (x.n * 1000) / x.totalMs })
  const list = {}
  for (const size of sizes) {
    list[`nsjs ${size}`] = () => nsjsBurst(spawn, size)
    list[`C ${size}`] = () => perSec(external(cBinary, ['uts', String(size), String(size)]))
    if (goBinary) list[`Go ${size}`] = () => perSec(external(goBinary, ['burst', String(size)]))
  }
  // Warm-up: the first burst of a process pays for JIT compilation and the spawner thread's start.
  await nsjsBurst(spawn, sizes[0])
  await nsjsBurst(spawn, sizes[0])
  external(cBinary, ['uts', String(sizes[0]), String(sizes[0])])
  if (goBinary) external(goBinary, ['burst', String(sizes[0])])
  const res = await rounds(list, count, 'concurrent')
  return { sizes, rounds: count, runs: res }
}

// ---- handles: join, run, open, openAll, many kept open ---------------------------------------------

async function handles({ target, n, rounds: count, kept, nsOpsBinary, goBinary }) {
  const { Namespace } = require('..')
  const there = Namespace.open(target, 'net')
  const home = Namespace.current('net')
  const path = `/proc/${target}/ns/net`
  // Full (mark-compact) GCs, with their start times, to count those inside a timed stretch.
  const gcs = []
  const obs = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) gcs.push({ start: e.startTime, kind: e.detail?.kind ?? e.kind })
  })
  obs.observe({ entryTypes: ['gc'] })
  const majorGcsIn = async (t0, t1) => {
    // Entries reach the observer asynchronously: let them arrive.
    await new Promise((r) => setTimeout(r, 20))
    return gcs.filter((g) => g.kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR && g.start >= t0 && g.start <= t1)
      .length
  }
  const keep = async (open, close) => {
    const list = new Array(kept)
    const t0 = now()
    for (let i = 0; i < kept; i++) list[i] = open()
    const t1 = now()
    const major = await majorGcsIn(t0, t1)
    for (const x of list) close(x)
    return { us: ((t1 - t0) * 1000) / kept, majorGcs: major }
  }
  const nAll = Math.max(1, Math.round(n / 8))
  const list = {
    'nsjs joinSync': () =>
      loopSync(n, () => {
        there.joinSync()
        home.joinSync()
      }),
    'nsjs run': () => loopSync(n, () => there.run(() => 0)),
    'C setns': () => external(nsOpsBinary, ['setns', String(n), String(target)]),
    'nsjs open': () => loopSync(n, () => Namespace.open(target, 'net').close()),
    'C open': () => external(nsOpsBinary, ['open', String(n), String(target)]),
    'nsjs openAll': () =>
      loopSync(nAll, () => {
        for (const h of Namespace.openAll(target)) h.close()
      }),
    'C openall': () => external(nsOpsBinary, ['openall', String(nAll), String(target)]),
    'nsjs keep': () =>
      keep(
        () => Namespace.open(target, 'net'),
        (h) => h.close(),
      ),
    'fs keep': () =>
      keep(
        () => fs.openSync(path, 'r'),
        (fd) => fs.closeSync(fd),
      ),
  }
  if (goBinary) {
    list['Go setns'] = () => external(goBinary, ['setns', String(n), String(target)])
    list['Go open'] = () => external(goBinary, ['open', String(n), String(target)])
  }
  const types = Namespace.openAll(target).map((h) => {
    const t = h.type
    h.close()
    return t
  })
  for (const name of Object.keys(list)) if (name.startsWith('nsjs') && !name.includes('keep')) await list[name]()
  const res = await rounds(list, count, 'handles')
  obs.disconnect()
  there.close()
  home.close()
  return { n, nOpenAll: nAll, kept, types, rounds: count, runs: res }
}

// ---- import: require/import + the first native call, in fresh processes ---------------------------

function importTask({ runs: count, root }) {
  // The cheapest call that loads the binding: a handle on the thread's own net namespace. Timed
  // from just before the package is loaded: Node's own start is not in the figure.
  const probe = (load) => `const t0 = performance.now()
${load}
const t1 = performance.now()
nsjs.Namespace.current('net').close()
const t2 = performance.now()
console.log(JSON.stringify({ loadMs: t1 - t0, firstCallMs: t2 - t1, totalMs: t2 - t0 }))`
  // The same files package.json's "exports" gives require() and import.
  const esm = pathToFileURL(join(root, 'dist/esm/index.mjs')).href
  const requireIt = probe(`const nsjs = require(${JSON.stringify(root)})`)
  const importIt = probe(`const nsjs = await import(${JSON.stringify(esm)})`)
  // As an application loads nsjs: from its own file, app.cjs or app.mjs. Node has then loaded a
  // file already, as it has for any application (for an ES module, its loader's code and the
  // thread pool that reads files); `node -e` has not, and the first file it reads pays for that.
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'nsjs-bench-import-'))
  fs.writeFileSync(join(dir, 'app.cjs'), requireIt)
  fs.writeFileSync(join(dir, 'app.mjs'), importIt)
  const variants = {
    'require + first call': [join(dir, 'app.cjs')],
    'import() + first call': [join(dir, 'app.mjs')],
    'require, from node -e': ['-e', requireIt],
    'import(), from node -e': ['--input-type=module', '-e', importIt],
  }
  const res = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
  try {
    for (let i = 0; i < count; i++) {
      for (const [name, args] of rotate(Object.entries(variants), i)) {
        const r = cp.spawnSync(process.execPath, args, { encoding: 'utf8' })
        if (r.status !== 0) throw new Error(`import probe: ${r.stderr}`)
        const j = JSON.parse(r.stdout)
        res[name].push({ us: j.totalMs * 1000, loadMs: j.loadMs, firstCallMs: j.firstCallMs })
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  for (const [name, list] of Object.entries(res))
    log(`${name}, ${count} fresh processes: median ${median(list.map((x) => x.us / 1000)).toFixed(1)} ms`)
  return { rounds: count, runs: res }
}

const tasks = { seq, seqFloor, concurrent, handles, import: importTask }
if (!tasks[task]) {
  process.stderr.write(`unknown task ${task}\n`)
  process.exit(2)
}
const result = await tasks[task](opts)
process.stdout.write(`${JSON.stringify(result)}\n`)
