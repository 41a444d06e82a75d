// One benchmark task in its own Node process, started by bench/run.mjs:
//
//   node bench/worker.mjs <task> '<json options>'
//
// Tasks: compare (nsjs against unshare/nsenter through child_process, optionally with a ballast of
// touched memory in this process), floor (nsjs against the C program bench/clone_exec.c), burst
// (500 concurrent spawns with the event loop lag measured). Progress goes to stderr; the result is
// one line of JSON on stdout.
import * as cp from 'node:child_process'
import { createRequire } from 'node:module'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setImmediate as yieldToLoop } from 'node:timers/promises'

const require = createRequire(import.meta.url)
// The package as users get it: package.json "main" (dist/cjs) and the built binding.
const { spawn, Namespace } = require('..')

const [task, json] = process.argv.slice(2)
const opts = JSON.parse(json ?? '{}')

const log = (...a) => process.stderr.write(`  [${task}${opts.ballastMiB ? ` ${opts.ballastMiB} MiB` : ''}] ${a.join(' ')}\n`)
const now = () => performance.now() // ms, fractional

function median(a) {
  if (a.length === 0) return NaN
  const s = [...a].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
function percentile(a, p) {
  if (a.length === 0) return NaN
  const s = [...a].sort((x, y) => x - y)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]
}

// ---- the ways of starting one child and waiting for its exit ---------------------------------

/** Starts a child through child_process and resolves when it exited 0. */
function cpRun(file, args) {
  return new Promise((resolve, reject) => {
    const c = cp.spawn(file, args, { stdio: 'ignore' })
    c.once('error', reject)
    c.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')}: exit ${code} ${signal ?? ''}`))))
  })
}

/** nsjs: spawn, then await `exited`. Records how long the synchronous spawn() call took. */
async function nsRun(file, args, options, callTimes) {
  const t0 = now()
  const c = spawn(file, args, options)
  if (callTimes) callTimes.push(now() - t0)
  const { code, signal } = await c.exited
  if (code !== 0) throw new Error(`${file}: exit ${code} ${signal ?? ''}`)
}

let netHandle
function variants(target) {
  const v = {
    'nsjs uts': (calls) => nsRun('/bin/true', [], { unshare: ['uts'], stdio: 'ignore' }, calls),
    // Absolute paths for the child_process route: no PATH search, in its favour.
    'cp unshare -u': () => cpRun('/usr/bin/unshare', ['-u', '/bin/true']),
  }
  if (target) {
    netHandle ??= Namespace.open(target, 'net')
    v['nsjs join net'] = (calls) => nsRun('/bin/true', [], { join: [netHandle], stdio: 'ignore' }, calls)
    v['cp nsenter -n'] = () => cpRun('/usr/bin/nsenter', ['-t', String(target), '-n', '/bin/true'])
  }
  return v
}

/** Runs `n` spawns of `fn`, `inflight` at a time; returns the wall time in ms. */
async function timed(fn, n, inflight = 1, calls) {
  let next = 0
  const t0 = now()
  const lane = async () => {
    while (next < n) {
      next++
      await fn(calls)
    }
  }
  await Promise.all(Array.from({ length: inflight }, lane))
  return now() - t0
}

function rotate(list, r) {
  const k = r % list.length
  return [...list.slice(k), ...list.slice(0, k)]
}

// ---- memory ballast ---------------------------------------------------------------------------

function rssMiB() {
  return process.memoryUsage().rss / 2 ** 20
}

const ballast = []
function touchBallast(mib) {
  // 256 MiB Buffers filled with a non-zero byte: every page is written, so every page is mapped
  // (zero-filled calloc memory may still be untouched). Kept alive in `ballast` until exit.
  const chunk = 256
  for (let left = mib; left > 0; left -= chunk) ballast.push(Buffer.alloc(Math.min(chunk, left) * 2 ** 20, 0xa5))
}

// ---- tasks ------------------------------------------------------------------------------------

/** Sequential spawn+exit per variant, interleaved round by round. */
async function compare({ target, n, rounds, warmup, ballastMiB }) {
  const rssBefore = rssMiB()
  if (ballastMiB) touchBallast(ballastMiB)
  const rss = rssMiB()
  const v = variants(target)
  const names = Object.keys(v)
  for (const name of names) await timed(v[name], warmup)
  const perSpawn = Object.fromEntries(names.map((k) => [k, []]))
  const calls = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) {
      const ms = await timed(v[name], n, 1, calls[name])
      perSpawn[name].push((ms * 1000) / n)
    }
    log(`round ${r + 1}/${rounds}:`, names.map((k) => `${k} ${perSpawn[k].at(-1).toFixed(0)}us`).join(', '))
  }
  return {
    ballastMiB: ballastMiB ?? 0,
    rssBeforeMiB: Math.round(rssBefore),
    rssMiB: Math.round(rss),
    n,
    rounds,
    perSpawnUs: perSpawn,
    medianUs: Object.fromEntries(names.map((k) => [k, median(perSpawn[k])])),
    spawnCallMedianUs: Object.fromEntries(names.filter((k) => calls[k].length).map((k) => [k, median(calls[k]) * 1000])),
  }
}

/** nsjs from Node against the C program, sequential and `inflight` at a time, interleaved. */
async function floor({ target, n, rounds, warmup, inflight, cBinary }) {
  const v = variants(target)
  const runC = (args) => {
    const r = cp.spawnSync(cBinary, args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cBinary} ${args.join(' ')}: ${r.stderr || r.error}`)
    return JSON.parse(r.stdout).per_spawn_us
  }
  const list = {
    'C uts seq': () => runC(['uts', String(n)]),
    'nsjs uts seq': async () => ((await timed(v['nsjs uts'], n)) * 1000) / n,
    'C net seq': () => runC(['net', String(n), String(target)]),
    'nsjs net seq': async () => ((await timed(v['nsjs join net'], n)) * 1000) / n,
    [`C uts x${inflight}`]: () => runC(['uts', String(n), String(inflight)]),
    [`nsjs uts x${inflight}`]: async () => ((await timed(v['nsjs uts'], n, inflight)) * 1000) / n,
    [`C net x${inflight}`]: () => runC(['net', String(n), String(target), String(inflight)]),
    [`nsjs net x${inflight}`]: async () => ((await timed(v['nsjs join net'], n, inflight)) * 1000) / n,
  }
  runC(['uts', String(warmup)])
  runC(['net', String(warmup), String(target)])
  await timed(v['nsjs uts'], warmup)
  await timed(v['nsjs join net'], warmup)
  const names = Object.keys(list)
  const perSpawn = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    // Rotate in pairs so that each nsjs variant stays next to its C counterpart.
    const pairs = []
    for (let i = 0; i < names.length; i += 2) pairs.push([names[i], names[i + 1]])
    for (const [a, b] of rotate(pairs, r)) {
      for (const name of r % 2 ? [b, a] : [a, b]) perSpawn[name].push(await list[name]())
    }
    log(`round ${r + 1}/${rounds}:`, names.map((k) => `${k} ${perSpawn[k].at(-1).toFixed(0)}us`).join(', '))
  }
  return { n, rounds, inflight, perSpawnUs: perSpawn, medianUs: Object.fromEntries(names.map((k) => [k, median(perSpawn[k])])) }
}

/**
 * `count` spawns started at once (or `chunk` at a time with a turn of the event loop between
 * chunks), all awaited, while the event loop delay is measured two ways.
 */
async function burstOnce(kind, { count, chunk, file, args }) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  let last = now()
  let maxGap = 0
  const iv = setInterval(() => {
    const t = now()
    maxGap = Math.max(maxGap, t - last)
    last = t
  }, 1)
  // Let the 1 ms timer settle before the burst.
  await new Promise((r) => setTimeout(r, 30))
  h.enable()
  last = now()
  maxGap = 0
  const calls = []
  const waits = []
  const t0 = now()
  for (let i = 0; i < count; i++) {
    if (chunk && i > 0 && i % chunk === 0) await yieldToLoop()
    if (kind === 'cp') {
      const t = now()
      const p = cpRun('/usr/bin/unshare', ['-u', file, ...args])
      calls.push(now() - t)
      waits.push(p)
    } else {
      waits.push(nsRun(file, args, { unshare: ['uts'], stdio: 'ignore' }, calls))
    }
  }
  const startedMs = now() - t0
  await Promise.all(waits)
  const totalMs = now() - t0
  // One more tick so that a gap that ends with the last exit is seen.
  await new Promise((r) => setTimeout(r, 2))
  h.disable()
  clearInterval(iv)
  return {
    startedMs,
    totalMs,
    lagMaxMs: h.max / 1e6,
    lagP99Ms: h.percentile(99) / 1e6,
    lagP50Ms: h.percentile(50) / 1e6,
    intervalMaxGapMs: maxGap,
    callUs: { median: median(calls) * 1000, p99: percentile(calls, 99) * 1000, max: Math.max(...calls) * 1000, sumMs: calls.reduce((a, b) => a + b, 0) },
  }
}

async function burst({ count, rounds, chunk, file, args }) {
  const kinds = { 'nsjs all at once': ['nsjs', 0], [`nsjs ${chunk} per loop turn`]: ['nsjs', chunk], 'cp unshare -u all at once': ['cp', 0] }
  const names = Object.keys(kinds)
  // Warm up both routes (and the reaper thread) first.
  await burstOnce('nsjs', { count: 50, chunk: 0, file, args })
  await burstOnce('cp', { count: 50, chunk: 0, file, args })
  const runs = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) {
      const [kind, c] = kinds[name]
      runs[name].push(await burstOnce(kind, { count, chunk: c, file, args }))
      const x = runs[name].at(-1)
      log(`round ${r + 1}/${rounds} ${name}: ${x.totalMs.toFixed(0)} ms, lag max ${x.lagMaxMs.toFixed(1)} ms p99 ${x.lagP99Ms.toFixed(1)} ms, gap ${x.intervalMaxGapMs.toFixed(1)} ms, call ${x.callUs.median.toFixed(0)} us`)
    }
  }
  const summary = Object.fromEntries(
    names.map((k) => {
      const rs = runs[k]
      const med = (f) => median(rs.map(f))
      return [
        k,
        {
          totalMs: med((x) => x.totalMs),
          startedMs: med((x) => x.startedMs),
          lagMaxMs: med((x) => x.lagMaxMs),
          lagP99Ms: med((x) => x.lagP99Ms),
          intervalMaxGapMs: med((x) => x.intervalMaxGapMs),
          worstLagMaxMs: Math.max(...rs.map((x) => x.lagMaxMs)),
          callMedianUs: med((x) => x.callUs.median),
          callP99Us: med((x) => x.callUs.p99),
          callMaxUs: Math.max(...rs.map((x) => x.callUs.max)),
          callSumMs: med((x) => x.callUs.sumMs),
        },
      ]
    }),
  )
  return { count, rounds, chunk, command: [file, ...args].join(' '), runs, summary }
}

const tasks = { compare, floor, burst }
if (!tasks[task]) {
  process.stderr.write(`unknown task ${task}\n`)
  process.exit(2)
}
const result = await tasks[task](opts)
netHandle?.close()
process.stdout.write(JSON.stringify(result) + '\n')
