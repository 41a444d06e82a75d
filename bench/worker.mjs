// One benchmark task in its own Node process, started by bench/run.mjs:
//
//   node bench/worker.mjs <task> '<json options>'
//
// Tasks: compare (nsjs against unshare/nsenter through child_process, optionally with a ballast of
// touched memory in this process), floor (nsjs against the C program bench/clone_exec.c), burst
// (500 concurrent spawns with the event loop lag measured), breakdown (where the time of one spawn
// goes), sandbox (a sandbox with 8 mounts, caps dropped and a seccomp filter against bubblewrap's).
// Progress goes to stderr; the result is one line of JSON on stdout.
import * as cp from 'node:child_process'
import { createRequire } from 'node:module'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setImmediate as yieldToLoop } from 'node:timers/promises'

const require = createRequire(import.meta.url)
// The package as users get it: package.json "main" (dist/cjs) and the built binding.
const { spawn, exec, Namespace } = require('..')

const [task, json] = process.argv.slice(2)
const opts = JSON.parse(json ?? '{}')

const log = (...a) =>
  process.stderr.write(`  [${task}${opts.ballastMiB ? ` ${opts.ballastMiB} MiB` : ''}] ${a.join(' ')}\n`)
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
    c.once('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${file} ${args.join(' ')}: exit ${code} ${signal ?? ''}`)),
    )
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
    spawnCallUs: Object.fromEntries(
      names
        .filter((k) => calls[k].length)
        .map((k) => [
          k,
          {
            median: median(calls[k]) * 1000,
            p90: percentile(calls[k], 90) * 1000,
            p99: percentile(calls[k], 99) * 1000,
            mean: (calls[k].reduce((a, b) => a + b, 0) / calls[k].length) * 1000,
          },
        ]),
    ),
  }
}

/** nsjs from Node against the C program, sequential and `inflight` at a time, interleaved. */
async function floor({ target, n, rounds, warmup, inflight, cBinary }) {
  const v = variants(target)
  const runC = (args) => {
    const r = cp.spawnSync(cBinary, args, { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cBinary} ${args.join(' ')}: ${r.stderr || r.error}`)
    const j = JSON.parse(r.stdout)
    return { perSpawnUs: j.per_spawn_us, callUs: j.clone_call_us }
  }
  const runNs = async (fn, k) => {
    const calls = []
    const ms = await timed(fn, n, k, calls)
    return { perSpawnUs: (ms * 1000) / n, callUs: (calls.reduce((a, b) => a + b, 0) * 1000) / calls.length }
  }
  const list = {
    'C uts seq': () => runC(['uts', String(n)]),
    'nsjs uts seq': () => runNs(v['nsjs uts'], 1),
    'C net seq': () => runC(['net', String(n), String(target)]),
    'nsjs net seq': () => runNs(v['nsjs join net'], 1),
    [`C uts x${inflight}`]: () => runC(['uts', String(n), String(inflight)]),
    [`nsjs uts x${inflight}`]: () => runNs(v['nsjs uts'], inflight),
    [`C net x${inflight}`]: () => runC(['net', String(n), String(target), String(inflight)]),
    [`nsjs net x${inflight}`]: () => runNs(v['nsjs join net'], inflight),
  }
  runC(['uts', String(warmup)])
  runC(['net', String(warmup), String(target)])
  await timed(v['nsjs uts'], warmup)
  await timed(v['nsjs join net'], warmup)
  const names = Object.keys(list)
  const res = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    // Rotate in pairs so that each nsjs variant stays next to its C counterpart.
    const pairs = []
    for (let i = 0; i < names.length; i += 2) pairs.push([names[i], names[i + 1]])
    for (const [a, b] of rotate(pairs, r)) {
      for (const name of r % 2 ? [b, a] : [a, b]) res[name].push(await list[name]())
    }
    log(`round ${r + 1}/${rounds}:`, names.map((k) => `${k} ${res[k].at(-1).perSpawnUs.toFixed(0)}us`).join(', '))
  }
  return {
    n,
    rounds,
    inflight,
    perSpawnUs: Object.fromEntries(names.map((k) => [k, res[k].map((x) => x.perSpawnUs)])),
    medianUs: Object.fromEntries(names.map((k) => [k, median(res[k].map((x) => x.perSpawnUs))])),
    blockingUs: Object.fromEntries(names.map((k) => [k, median(res[k].map((x) => x.callUs))])),
  }
}

/**
 * `count` spawns started at once (or `chunk` at a time with a turn of the event loop between
 * chunks), all awaited, while the event loop delay is measured two ways.
 */
async function burstOnce(kind, { target, count, chunk, file, args }) {
  const h = monitorEventLoopDelay({ resolution: 1 })
  let last = now()
  let maxGap = 0
  const iv = setInterval(() => {
    const t = now()
    maxGap = Math.max(maxGap, t - last)
    last = t
  }, 1)
  // Both clocks run before the burst starts: the histogram records the time between two of its
  // ticks only once it has seen a first one (also after reset()), so a burst started in the same
  // turn as enable() or reset() would go unseen.
  h.enable()
  await new Promise((r) => setTimeout(r, 30))
  h.reset()
  await new Promise((r) => setTimeout(r, 5))
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
    } else if (kind === 'nsjs-exec') {
      const t = now()
      const p = exec(file, args, { unshare: ['uts'] })
      calls.push(now() - t)
      waits.push(p)
    } else if (kind === 'nsjs-join') {
      // The target's namespaces by pid, nsenter --all style: each call opens and compares them.
      waits.push(nsRun(file, args, { join: { pid: target }, stdio: 'ignore' }, calls))
    } else {
      // 'nsjs-pipe': spawn()'s default stdio, three pipes per child.
      waits.push(nsRun(file, args, { unshare: ['uts'], stdio: kind === 'nsjs-pipe' ? 'pipe' : 'ignore' }, calls))
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
    callUs: {
      median: median(calls) * 1000,
      p99: percentile(calls, 99) * 1000,
      max: Math.max(...calls) * 1000,
      sumMs: calls.reduce((a, b) => a + b, 0),
    },
  }
}

async function burst({ target, count, rounds, chunk, file, args }) {
  const kinds = {
    'nsjs all at once': ['nsjs', 0],
    'nsjs all at once, stdio pipe': ['nsjs-pipe', 0],
    'nsjs exec() all at once': ['nsjs-exec', 0],
    'nsjs join { pid } all at once': ['nsjs-join', 0],
    [`nsjs ${chunk} per loop turn`]: ['nsjs', chunk],
    'cp unshare -u all at once': ['cp', 0],
  }
  const names = Object.keys(kinds)
  // Warm up both routes (and the reaper thread) first.
  await burstOnce('nsjs', { count: 50, chunk: 0, file, args })
  await burstOnce('cp', { count: 50, chunk: 0, file, args })
  const runs = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) {
      const [kind, c] = kinds[name]
      runs[name].push(await burstOnce(kind, { target, count, chunk: c, file, args }))
      const x = runs[name].at(-1)
      log(
        `round ${r + 1}/${rounds} ${name}: ${x.totalMs.toFixed(0)} ms, lag max ${x.lagMaxMs.toFixed(1)} ms p99 ${x.lagP99Ms.toFixed(1)} ms, gap ${x.intervalMaxGapMs.toFixed(1)} ms, call ${x.callUs.median.toFixed(0)} us`,
      )
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

/**
 * Where the time of one sequential spawn (new uts namespace) goes: the C program with nsjs's
 * system calls added step by step (see clone_exec.c), and the Node side taken apart: the env list
 * spawn() builds from process.env, the native call alone (through the internal binding), with and
 * without that env.
 */
async function breakdown({ n, rounds, cBinary }) {
  const runC = (steps) => {
    const r = cp.spawnSync(cBinary, [`--steps=${steps}`, 'uts', String(n)], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`${cBinary} --steps=${steps}: ${r.stderr || r.error}`)
    const j = JSON.parse(r.stdout)
    return {
      perSpawnUs: j.per_spawn_us,
      callUs: j.clone_call_us,
      callP50Us: j.clone_call_p50_us,
      callP90Us: j.clone_call_p90_us,
    }
  }
  const envList = () =>
    Object.entries(process.env)
      .filter((e) => e[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`)
  // The internal native entry point, as ts/spawn/child.ts calls it; optional, since it is not API.
  let native
  let childId
  try {
    const { binding } = require('../dist/cjs/loader.js')
    // Children report their exit by id (ts/spawn/exits.ts).
    ;({ childId } = require('../dist/cjs/spawn/exits.js'))
    // It takes the request's fields one argument each.
    const spawnChild = binding().spawnChild
    native = (r, id) =>
      spawnChild(
        r.file,
        r.argv,
        r.env,
        r.envGeneration,
        r.path,
        r.join,
        r.unshare,
        r.cwd,
        r.stdio,
        r.extraFds,
        r.captureLimit,
        r.more,
        id,
      )
  } catch {}
  const request = (env) => ({
    file: '/bin/true',
    argv: ['/bin/true'],
    env,
    unshare: ['uts'],
    stdio: ['ignore', 'ignore', 'ignore'],
  })
  const nodeVariant = (start) => async () => {
    const calls = []
    const t0 = now()
    for (let i = 0; i < n; i++) {
      const t = now()
      const done = start()
      calls.push(now() - t)
      await done
    }
    const perSpawnUs = ((now() - t0) * 1000) / n
    return {
      perSpawnUs,
      callUs: (calls.reduce((a, b) => a + b, 0) * 1000) / n,
      callP50Us: median(calls) * 1000,
      callP90Us: percentile(calls, 90) * 1000,
    }
  }
  const small = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
  const list = {}
  for (const st of ['', 'S', 'U', 'D', 'P', 'M', 'F', 'W', 'SUDPM', 'SUDPMF', 'SUDPMW'])
    list[`C steps=${st || '-'}`] = () => runC(st)
  list['node spawn()'] = nodeVariant(() => spawn('/bin/true', [], { unshare: ['uts'], stdio: 'ignore' }).exited)
  list['node spawn() env {PATH}'] = nodeVariant(
    () => spawn('/bin/true', [], { unshare: ['uts'], stdio: 'ignore', env: small }).exited,
  )
  if (native) {
    const nativeRun = (env) => () =>
      new Promise((resolve) => {
        // The binding keeps the child's pidfd under its id and closes it before reporting the exit.
        const id = childId({ exitReported: resolve })
        native(request(env), id)
      })
    list['node native, env list'] = nodeVariant(() => nativeRun(envList())())
    list['node native, env []'] = nodeVariant(() => nativeRun([])())
  }
  list['node env list only'] = async () => {
    const t0 = now()
    for (let i = 0; i < n; i++) envList()
    return { perSpawnUs: ((now() - t0) * 1000) / n, callUs: ((now() - t0) * 1000) / n }
  }
  // The exit watch behind the native call does not hold the loop open.
  const keep = setInterval(() => {}, 1 << 30)
  const names = Object.keys(list)
  for (const name of names) if (!name.startsWith('C')) await list[name]()
  runC('SUDPMF')
  const res = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) res[name].push(await list[name]())
    log(`round ${r + 1}/${rounds}`)
  }
  clearInterval(keep)
  return {
    n,
    rounds,
    native: Boolean(native),
    medianUs: Object.fromEntries(
      names.map((k) => {
        const m = (f) => median(res[k].map(f))
        return [
          k,
          {
            perSpawn: m((x) => x.perSpawnUs),
            call: m((x) => x.callUs),
            callP50: m((x) => x.callP50Us),
            callP90: m((x) => x.callP90Us),
          },
        ]
      }),
    ),
    runs: res,
  }
}

// ---- a sandbox against bubblewrap ---------------------------------------------------------------

/** A classic-BPF seccomp program: mkdir and mkdirat fail with EPERM, everything else runs. */
function denyMkdirFilter() {
  const [arch, nrs] = process.arch === 'arm64' ? [0xc00000b7, [34, 34]] : [0xc000003e, [83, 258]]
  const ins = (code, jt, jf, k) => {
    const b = Buffer.alloc(8)
    b.writeUInt16LE(code, 0)
    b.writeUInt8(jt, 2)
    b.writeUInt8(jf, 3)
    b.writeUInt32LE(k >>> 0, 4)
    return b
  }
  return Buffer.concat([
    ins(0x20, 0, 0, 4),
    ins(0x15, 1, 0, arch),
    ins(0x06, 0, 0, 0x80000000),
    ins(0x20, 0, 0, 0),
    ins(0x15, 2, 0, nrs[0]),
    ins(0x15, 1, 0, nrs[1]),
    ins(0x06, 0, 0, 0x7fff0000),
    ins(0x06, 0, 0, 0x00050001),
  ])
}

/**
 * The same sandbox both ways: new ipc, pid, net, uts, cgroup and mount namespaces, a tmpfs root
 * with 8 entries, every capability dropped, a seccomp filter, /bin/true. nsjs through spawn();
 * bubblewrap as a Node user runs it, through child_process, the filter passed on fd 3 from a file.
 */
async function sandbox({ n, rounds, warmup, filterFile }) {
  const filter = denyMkdirFilter()
  const fs = require('node:fs')
  fs.writeFileSync(filterFile, filter)
  const mounts = [
    { type: 'bind', source: '/usr', target: '/usr', readonly: true },
    { type: 'symlink', target: '/bin', linkTo: 'usr/bin' },
    { type: 'symlink', target: '/lib', linkTo: 'usr/lib' },
    { type: 'symlink', target: '/lib64', linkTo: 'usr/lib64' },
    { type: 'proc', target: '/proc' },
    { type: 'dev', target: '/dev' },
    { type: 'tmpfs', target: '/tmp' },
    { type: 'dir', target: '/home' },
  ]
  const options = {
    unshare: ['ipc', 'pid', 'net', 'uts', 'cgroup'],
    root: 'tmpfs',
    mounts,
    capabilities: [],
    seccomp: filter,
    stdio: 'ignore',
  }
  const bwrapArgs = [
    ...['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup'],
    ...['--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib'],
    ...['--symlink', 'usr/lib64', '/lib64', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp'],
    ...['--dir', '/home', '--cap-drop', 'ALL', '--seccomp', '3', '/bin/true'],
  ]
  const bwrap = () =>
    new Promise((resolve, reject) => {
      // bubblewrap reads the filter to EOF: a fresh descriptor each time.
      const fd = fs.openSync(filterFile, 'r')
      const c = cp.spawn('/usr/bin/bwrap', bwrapArgs, { stdio: ['ignore', 'ignore', 'inherit', fd] })
      fs.closeSync(fd)
      c.once('error', reject)
      c.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bwrap: exit ${code} ${signal}`))))
    })
  const v = {
    'nsjs sandbox': (calls) => nsRun('/bin/true', [], options, calls),
    'cp bwrap': bwrap,
  }
  const names = Object.keys(v)
  for (const name of names) await timed(v[name], warmup)
  const perSpawn = Object.fromEntries(names.map((k) => [k, []]))
  for (let r = 0; r < rounds; r++) {
    for (const name of rotate(names, r)) {
      const ms = await timed(v[name], n)
      perSpawn[name].push((ms * 1000) / n)
      log(`round ${r + 1}/${rounds} ${name}: ${((ms * 1000) / n).toFixed(0)} us/spawn`)
    }
  }
  return {
    n,
    rounds,
    perSpawnUs: perSpawn,
    medianUs: Object.fromEntries(names.map((k) => [k, median(perSpawn[k])])),
    // Per round (the two ran back to back), then the median over rounds.
    ratio: median(perSpawn['nsjs sandbox'].map((x, i) => x / perSpawn['cp bwrap'][i])),
  }
}

const tasks = { compare, floor, burst, breakdown, sandbox }
if (!tasks[task]) {
  process.stderr.write(`unknown task ${task}\n`)
  process.exit(2)
}
const result = await tasks[task](opts)
netHandle?.close()
process.stdout.write(`${JSON.stringify(result)}\n`)
