// `npm run bench`: nsjs's spawner against what a user would use instead, on this machine, in one
// run. See bench/README.md. Needs root (new namespaces, joining another net namespace), util-linux
// unshare/nsenter, a C compiler (cc), and the package built (`npm run build`).
//
// Environment knobs: BENCH_N (spawns per variant per round, default 200), BENCH_ROUNDS (default 5),
// BENCH_BURST (concurrent spawns, default 500), BENCH_BALLAST_MIB (default 1024),
// BENCH_STEADY_WARMUP (spawns of each variant before section 9 measures them again, default 1600),
// BENCH_QUICK=1 (a short smoke run: small N, 2 rounds; its numbers are not meant to be quoted),
// BENCH_ONLY=<names> (only those sections, comma- or space-separated; see SECTIONS below; results.json
// is then left alone). Sections 9 to 12 (issue 12) compare with Go (bench/gobench.go, built here
// with the `go` on PATH or in /usr/local/go/bin, skipped without it) and the C floor.
import { spawn as cpSpawn, execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { sectionNames } from '../scripts/elf-glibc.mjs'
import {
  median,
  ratio,
  reportConcurrent,
  reportHandles,
  reportImport,
  reportSeq,
  TARGETS_12,
  table,
  yes,
} from './report.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const quick = process.env.BENCH_QUICK === '1'
const num = (name, dflt) => {
  const v = process.env[name]
  if (v === undefined || v === '') return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`)
  return n
}
const N = num('BENCH_N', quick ? 40 : 200)
const ROUNDS = num('BENCH_ROUNDS', quick ? 2 : 5)
const WARMUP = quick ? 10 : 50
// Section 9's steady state: spawns of each variant before it is measured again (information only).
const STEADY_WARMUP = num('BENCH_STEADY_WARMUP', quick ? 80 : 1600)
const BURST = num('BENCH_BURST', 500)
const BURST_ROUNDS = quick ? 1 : 3
const BALLAST = num('BENCH_BALLAST_MIB', 1024)
const INFLIGHT = 8
const CHUNK = 1
// Sections 9-12.
const SIZES = [250, 1000, 2000]
const SIZE_ROUNDS = quick ? 1 : 3
const HANDLE_N = quick ? 2000 : 20000
const KEPT = 10000
const IMPORT_RUNS = quick ? 5 : 21

// What BENCH_ONLY can name, in the order they run.
const SECTIONS = {
  compare: '1-3. spawn+exit against child_process, at normal size and with a ballast',
  floor: '4. spawn+exit against the C program',
  burst: '5. concurrent spawns and the event loop lag',
  breakdown: '6. where the time of one spawn goes',
  net: '7. sockets inside a net namespace',
  sandbox: '8. a sandbox against bubblewrap',
  seq: '9. sequential spawn against Go and C: time and parent CPU per spawn (issue 12)',
  concurrent: '10. bursts of 250/1000/2000 children against Go and C (issue 12)',
  handles: '11. joinSync, run, open, openAll, 10k handles kept open against Go and C (issue 12)',
  import: '12. require + the first native call (issue 12)',
}
const only = (() => {
  const v = process.env.BENCH_ONLY
  if (v === undefined || v.trim() === '') return undefined
  const names = v.split(/[\s,]+/).filter(Boolean)
  const bad = names.filter((x) => !(x in SECTIONS))
  if (bad.length) {
    console.error(`bench: BENCH_ONLY: unknown section ${bad.join(', ')}; the sections are:`)
    for (const [k, d] of Object.entries(SECTIONS)) console.error(`  ${k.padEnd(10)} ${d}`)
    process.exit(1)
  }
  return new Set(names)
})()
const want = (section) => !only || only.has(section)

// What the issue asks for.
const TARGETS = { vsChildProcess: 2, vsChildProcessBallast: 10, vsC: 1.5, lagMs: 5, vsBwrap: 0.5 }

// ---- things to clean up, whatever happens -----------------------------------------------------

let tmp
let target
let worker
function cleanup() {
  if (worker && worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL')
  // Our own child, the util-linux unshare that exec'ed sleep: never anything else.
  if (target && target.pid > 1 && target.exitCode === null && target.signalCode === null) target.kill('SIGKILL')
  if (tmp) rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    cleanup()
    process.exit(130)
  })
}
process.on('exit', cleanup)

// ---- preconditions ----------------------------------------------------------------------------

function fail(msg) {
  console.error(`bench: ${msg}`)
  process.exit(1)
}
if (process.platform !== 'linux') fail('Linux only')
if (process.geteuid() !== 0) fail('run as root: the benchmarks make namespaces and join another net namespace')
if (!existsSync(join(root, 'dist/cjs/index.js'))) fail('dist/ is missing: run `npm run build` first')
for (const f of ['/usr/bin/unshare', '/usr/bin/nsenter', '/bin/true', '/bin/sleep'])
  if (!existsSync(f)) fail(`${f} is missing (util-linux/coreutils)`)

// ---- which native binary the workers will load -------------------------------------------------

/** The binary the package loads (NSJS_NATIVE_PATH overrides binding/), and whether it is a debug build. */
function nativeBinary() {
  let path = process.env.NSJS_NATIVE_PATH
  if (!path) {
    // The package's own choice among the binaries it ships.
    const { availableTargets, detectLibc, selectTarget } = createRequire(import.meta.url)('../dist/cjs/loader.js')
    const dir = join(root, 'binding')
    try {
      path = join(dir, `nsjs.${selectTarget(process.platform, process.arch, detectLibc(), availableTargets(dir))}.node`)
    } catch {
      path = undefined
    }
  }
  if (!path || !existsSync(path)) return { path, debug: undefined }
  const bytes = readFileSync(path)
  // A release build (strip = "symbols") has no DWARF sections; a dev-profile build has .debug_info.
  let debug
  try {
    debug = sectionNames(bytes).includes('.debug_info')
  } catch {
    debug = undefined
  }
  return { path, bytes: bytes.length, mtime: statSync(path).mtime.toISOString(), debug }
}
const native = nativeBinary()
if (native.debug) {
  console.error(
    `bench: WARNING: ${native.path} is a debug build (it has .debug_info): nsjs's numbers will be slower than`,
  )
  console.error(
    "bench: a release build's. Run `npm run build` (or point NSJS_NATIVE_PATH at a release build) for real numbers.\n",
  )
}

// ---- the C program ----------------------------------------------------------------------------

tmp = mkdtempSync(join(os.tmpdir(), 'nsjs-bench-'))
const cBinary = join(tmp, 'clone_exec')
const nsOpsBinary = join(tmp, 'ns_ops')
for (const [src, out] of [
  ['clone_exec.c', cBinary],
  ['ns_ops.c', nsOpsBinary],
]) {
  try {
    execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', out, join(here, src)], { stdio: 'inherit' })
  } catch {
    fail(`cc -O2 bench/${src} failed`)
  }
}

// ---- the Go program (optional) ----------------------------------------------------------------

/** The `go` command: on PATH, or where the official tarball installs it. */
function findGo() {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/local/go/bin']
  return dirs.map((d) => join(d, 'go')).find((f) => existsSync(f))
}

/** Builds bench/gobench.go offline (standard library only, no module, no toolchain download). */
function buildGo() {
  const go = findGo()
  if (!go) return { skipped: 'Go skipped: no `go` on PATH or in /usr/local/go/bin' }
  const out = join(tmp, 'gobench')
  const env = {
    ...process.env,
    GO111MODULE: 'off',
    GOFLAGS: '',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOCACHE: process.env.GOCACHE || join(os.homedir(), '.cache', 'nsjs-bench-go'),
  }
  try {
    const version = execFileSync(go, ['version'], { env, encoding: 'utf8' }).trim()
    execFileSync(go, ['build', '-o', out, join(here, 'gobench.go')], { env, cwd: here, stdio: 'inherit' })
    return { binary: out, version, go }
  } catch (e) {
    return { skipped: `Go skipped: building bench/gobench.go with ${go} failed (${e.message.split('\n')[0]})` }
  }
}
const goBuild = ['seq', 'concurrent', 'handles'].some(want) ? buildGo() : { skipped: 'not needed' }
const goBinary = goBuild.binary
const goNote = goBuild.binary ? undefined : goBuild.skipped

// ---- how child_process makes its children (measured, not assumed) ------------------------------

function probeChildProcess() {
  const out = join(tmp, 'strace.txt')
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-e',
      'trace=clone,clone3,fork,vfork',
      '-o',
      out,
      process.execPath,
      '-e',
      "require('child_process').spawnSync('/bin/true')",
    ],
    { stdio: 'ignore' },
  )
  if (r.error || r.status !== 0) return { how: 'unknown (strace not available)' }
  // Threads have CLONE_THREAD; the child process is the call without it.
  const line = readFileSync(out, 'utf8')
    .split('\n')
    .find((l) => /\b(clone3?|v?fork)\(/.test(l) && !l.includes('CLONE_THREAD'))
  if (!line) return { how: 'unknown (no process-creating call seen)' }
  const flags = /flags=([A-Z_|0-9]+)/.exec(line)?.[1] ?? ''
  const vm = flags.includes('CLONE_VM') || /\bvfork\(/.test(line)
  return {
    how: vm ? 'vfork-like (shares memory)' : 'fork (copies the page tables)',
    syscall: line.replace(/^\d+\s+/, '').slice(0, 160),
    sharesMemory: vm,
  }
}

// ---- the net namespace to join --------------------------------------------------------------------

async function startTarget() {
  target = cpSpawn('/usr/bin/unshare', ['-n', '/bin/sleep', '3600'], { stdio: 'ignore' })
  await new Promise((resolve, reject) => {
    target.once('spawn', resolve)
    target.once('error', reject)
  })
  const mine = readlinkSync('/proc/self/ns/net')
  // unshare execs sleep in place (no --fork): the pid stays; wait until its net ns is the new one.
  for (let i = 0; i < 500; i++) {
    let theirs
    try {
      theirs = readlinkSync(`/proc/${target.pid}/ns/net`)
    } catch {}
    if (theirs && theirs !== mine) return target.pid
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error('the target never entered a new net namespace')
}

// ---- workers --------------------------------------------------------------------------------------

/**
 * The machine's CPU time so far from /proc/stat's first line, in clock ticks: all of it, and the
 * steal, time a virtual machine's CPUs were ready to run but the hypervisor ran something else.
 */
function cpuTicks() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 9).map(Number)
    return { total: f.reduce((a, b) => a + b, 0), steal: f[7] }
  } catch {
    return undefined
  }
}

/** Steal over a part of the run, as a percentage of the machine's CPU time then (see cpuTicks). */
function stealPercent(a, b) {
  if (!a || !b || b.total <= a.total) return undefined
  return (100 * (b.steal - a.steal)) / (b.total - a.total)
}

/** Steal during each worker task, by task; a run with much of it measured a machine shared with others. */
const stealByTask = {}

function runWorker(task, opts, script = 'worker.mjs') {
  const before = cpuTicks()
  return new Promise((resolve, reject) => {
    worker = cpSpawn(process.execPath, [join(here, script), task, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    worker.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    worker.once('error', reject)
    worker.once('close', (code, signal) => {
      worker = undefined
      const steal = stealPercent(before, cpuTicks())
      if (steal !== undefined) {
        // A task run twice (compare, without and with ballast) is listed under its count too.
        const key =
          task in stealByTask
            ? `${task} #${Object.keys(stealByTask).filter((k) => k.startsWith(task)).length + 1}`
            : task
        stealByTask[key] = Math.round(steal * 10) / 10
        process.stderr.write(`  [${task}] steal: ${steal.toFixed(1)} % of the CPU time (the hypervisor ran others)\n`)
      }
      if (code !== 0) return reject(new Error(`worker ${task} failed (${signal ?? code})`))
      resolve(JSON.parse(out.trim().split('\n').at(-1)))
    })
  })
}

// ---- the run ----------------------------------------------------------------------------------

// Steal above this share of the run's CPU time makes its figures suspect (see cpuTicks).
const STEAL_WARN = 2
const runStart = cpuTicks()
const env = {
  date: new Date().toISOString(),
  node: process.version,
  libuv: process.versions.uv,
  kernel: `${os.release()} (${os.version()})`,
  cpus: `${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}`,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  transparentHugepages: (() => {
    try {
      return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1]
    } catch {
      return undefined
    }
  })(),
  command: `npm run bench${quick ? ' (BENCH_QUICK=1)' : ''}${only ? ` (BENCH_ONLY=${[...only].join(',')})` : ''}`,
  go: goBuild.version ?? goBuild.skipped,
  loadavgAtStart: os.loadavg(),
  nativeBinary: native,
  settings: {
    n: N,
    rounds: ROUNDS,
    warmup: WARMUP,
    burst: BURST,
    burstRounds: BURST_ROUNDS,
    ballastMiB: BALLAST,
    inflight: INFLIGHT,
    chunk: CHUNK,
    burstSizes: SIZES,
    burstSizeRounds: SIZE_ROUNDS,
    handleCalls: HANDLE_N,
    handlesKept: KEPT,
    importRuns: IMPORT_RUNS,
  },
}
console.log(
  `nsjs bench: node ${env.node} (libuv ${env.libuv}), kernel ${os.release()}, ${env.cpus}, THP ${env.transparentHugepages}, load ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
)
console.log(
  `  native binary: ${native.path}${native.debug ? ' (DEBUG build)' : native.debug === false ? ' (release build)' : ''}`,
)
console.log(
  `  ${N} spawns per variant per round, ${ROUNDS} rounds, variants interleaved; each task in a fresh Node process`,
)
console.log(`  Go: ${goBuild.version ?? goBuild.skipped}`)
if (only) console.log(`  BENCH_ONLY: ${[...only].join(', ')}`)
console.log()

const childProcess = want('compare') ? probeChildProcess() : { how: 'not probed (BENCH_ONLY)' }
if (want('compare'))
  console.log(`child_process.spawn creates a child with: ${childProcess.syscall ?? childProcess.how}\n`)

const pid = await startTarget()
const common = { target: pid, n: N, rounds: ROUNDS, warmup: WARMUP }
let normal
let big
if (want('compare')) {
  console.log('1-2. spawn+exit at normal size')
  normal = await runWorker('compare', { ...common, ballastMiB: 0 })
  console.log(`3. spawn+exit with ${BALLAST} MiB of touched memory in the parent`)
  big = await runWorker('compare', { ...common, ballastMiB: BALLAST })
}
let floor
if (want('floor')) {
  console.log('4. nsjs against the C program')
  floor = await runWorker('floor', { ...common, n: Math.round(N * 1.5), inflight: INFLIGHT, cBinary })
}
let burst
if (want('burst')) {
  console.log(`5. ${BURST} concurrent spawns`)
  burst = await runWorker('burst', {
    target: pid,
    count: BURST,
    rounds: BURST_ROUNDS,
    chunk: CHUNK,
    file: '/bin/sleep',
    args: ['0.05'],
  })
}
let breakdown
if (want('breakdown')) {
  console.log('6. where the time of one sequential spawn goes')
  breakdown = await runWorker('breakdown', {
    n: N,
    rounds: quick ? ROUNDS : Math.max(ROUNDS, 9),
    warmup: WARMUP,
    cBinary,
  })
}
let netRun
if (want('net')) {
  console.log('7. sockets inside a net namespace (bench/net.mjs)')
  netRun = await new Promise((resolve, reject) => {
    const opts = { n: quick ? 50 : 500, rounds: ROUNDS, warmup: WARMUP }
    worker = cpSpawn(process.execPath, [join(here, 'net.mjs'), JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    worker.stdout.setEncoding('utf8').on('data', (d) => (out += d))
    worker.once('error', reject)
    worker.once('close', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error('net.mjs failed')),
    )
  })
}
// bubblewrap is optional: the comparison is skipped (and said so) without it.
let sandbox
if (!want('sandbox')) {
  // not asked for
} else if (existsSync('/usr/bin/bwrap')) {
  console.log('8. a sandbox (8 mounts, caps dropped, seccomp) against bubblewrap')
  sandbox = await runWorker('sandbox', {
    n: Math.max(20, Math.round(N / 4)),
    rounds: ROUNDS,
    warmup: Math.round(WARMUP / 4),
    filterFile: join(tmp, 'filter.bpf'),
  })
} else {
  console.log('8. skipped: /usr/bin/bwrap is missing (apt-get install bubblewrap)')
}
let seqRun
if (want('seq')) {
  console.log('9. sequential spawn against Go and C (time and parent CPU per spawn)')
  seqRun = await runWorker(
    'seq',
    { target: pid, n: N, rounds: ROUNDS, warmup: WARMUP, steadyWarmup: STEADY_WARMUP, cBinary, goBinary },
    'vs.mjs',
  )
  // The native call alone in the rounds' pattern, in a process of its own (a fourth variant in
  // seq's rounds would warm Node's code on the path for the other three).
  seqRun.roundsFloor = await runWorker('seqFloor', { n: N, rounds: ROUNDS, warmup: WARMUP, cBinary }, 'vs.mjs')
}
let concurrentRun
if (want('concurrent')) {
  console.log(`10. bursts of ${SIZES.join('/')} children against Go and C`)
  concurrentRun = await runWorker('concurrent', { sizes: SIZES, rounds: SIZE_ROUNDS, cBinary, goBinary }, 'vs.mjs')
}
let handlesRun
if (want('handles')) {
  console.log('11. namespace handles against Go and C')
  handlesRun = await runWorker(
    'handles',
    { target: pid, n: HANDLE_N, rounds: ROUNDS, kept: KEPT, nsOpsBinary, goBinary },
    'vs.mjs',
  )
}
let importRun
if (want('import')) {
  console.log('12. require + the first native call')
  importRun = await runWorker('import', { runs: IMPORT_RUNS, root }, 'vs.mjs')
}
cleanup()
env.loadavgAtEnd = os.loadavg()
env.stealPercent = { run: stealPercent(runStart, cpuTicks()), byTask: stealByTask }
console.log(
  `\nload average at the end: ${env.loadavgAtEnd.map((x) => x.toFixed(2)).join(' ')} (other processes on the machine skew the numbers)`,
)
if (env.stealPercent.run !== undefined) {
  const worst = Object.entries(stealByTask).sort((a, b) => b[1] - a[1])[0]
  console.log(
    `steal: ${env.stealPercent.run.toFixed(1)} % of the CPU time over the run${worst ? `, ${worst[1]} % at most in one task (${worst[0]})` : ''}${env.stealPercent.run >= STEAL_WARN ? `: the hypervisor ran others on these CPUs, so figures here are slower than on a machine of its own, the more so in the tasks with most steal` : ''}`,
  )
}

// ---- report -----------------------------------------------------------------------------------

const us = (x) => `${Math.round(x)}`

const results = { env, childProcess, targets: { ...TARGETS, issue12: TARGETS_12 } }
const met = {}
if (normal) {
  const pairs = [
    ['new uts ns', 'nsjs uts', 'cp unshare -u', 'unshare -u true'],
    ['join net ns', 'nsjs join net', 'cp nsenter -n', 'nsenter -t PID -n true'],
  ]
  const compareRows = []
  results.compare = []
  results.growth = {}
  for (const [label, runs, t] of [
    ['', normal, TARGETS.vsChildProcess],
    [` +${BALLAST >= 1024 ? `${BALLAST / 1024} GiB` : `${BALLAST} MiB`}`, big, TARGETS.vsChildProcessBallast],
  ]) {
    for (const [what, ns, cpName, cpCmd] of pairs) {
      const a = runs.medianUs[ns]
      const b = runs.medianUs[cpName]
      // The ratio of each round (its variants ran back to back), then the median over rounds.
      const r = median(runs.perSpawnUs[cpName].map((x, i) => x / runs.perSpawnUs[ns][i]))
      compareRows.push([
        `${what}${label}`,
        `${runs.rssMiB} MiB`,
        us(a),
        us(b),
        cpCmd,
        ratio(r),
        `>= ${t}x`,
        yes(r >= t),
      ])
      results.compare.push({
        case: `${what}${label}`,
        parentRssMiB: runs.rssMiB,
        nsjsUs: a,
        childProcessUs: b,
        childProcessCommand: cpCmd,
        speedup: r,
        target: t,
        met: r >= t,
        nsjsSpawnCallUs: runs.spawnCallUs[ns],
        nsjsRoundsUs: runs.perSpawnUs[ns],
        childProcessRoundsUs: runs.perSpawnUs[cpName],
      })
    }
  }
  for (const [what, ns, cpName] of pairs) {
    results.growth[what] = {
      nsjs: big.medianUs[ns] / normal.medianUs[ns],
      childProcess: big.medianUs[cpName] / normal.medianUs[cpName],
    }
  }
  console.log(`\n1-3. spawn+exit, sequential (await each exit), median over ${ROUNDS} rounds of per-spawn time (us)`)
  console.log('   speedup = median over rounds of (child_process / nsjs in the same round)')
  console.log(
    table(
      ['case', 'parent RSS', 'nsjs us', 'child_process us', 'child_process command', 'speedup', 'target', 'met'],
      compareRows,
    ),
  )
  console.log(
    '  time spent inside the synchronous nsjs spawn() call: ' +
      results.compare
        .map(
          (x) =>
            `${x.case} median ${us(x.nsjsSpawnCallUs.median)} / p90 ${us(x.nsjsSpawnCallUs.p90)} / mean ${us(x.nsjsSpawnCallUs.mean)}`,
        )
        .join('; '),
  )
  console.log(
    `  cost with ${BALLAST} MiB / without: ` +
      pairs
        .map(
          ([what]) =>
            `${what}: nsjs ${ratio(results.growth[what].nsjs)}, child_process ${ratio(results.growth[what].childProcess)}`,
        )
        .join('; '),
  )
  met['>= 2x faster than child_process (normal size)'] = results.compare.slice(0, 2).every((x) => x.met)
  met[`>= 10x faster than child_process (+${BALLAST} MiB)`] = results.compare.slice(2).every((x) => x.met)
}

if (floor) {
  results.floor = []
  const floorRows = []
  for (const [what, c, ns, t] of [
    ['new uts ns, sequential', 'C uts seq', 'nsjs uts seq', TARGETS.vsC],
    ['join net ns, sequential', 'C net seq', 'nsjs net seq', TARGETS.vsC],
    [`new uts ns, ${INFLIGHT} in flight`, `C uts x${INFLIGHT}`, `nsjs uts x${INFLIGHT}`, null],
    [`join net ns, ${INFLIGHT} in flight`, `C net x${INFLIGHT}`, `nsjs net x${INFLIGHT}`, null],
  ]) {
    const a = floor.medianUs[c]
    const b = floor.medianUs[ns]
    const r = median(floor.perSpawnUs[ns].map((x, i) => x / floor.perSpawnUs[c][i]))
    floorRows.push([
      what,
      us(a),
      us(b),
      ratio(r),
      t ? `<= ${t}x` : '(info)',
      t ? yes(r <= t) : '',
      `${Math.round(1e6 / b)}/s`,
      us(floor.blockingUs[c]),
      us(floor.blockingUs[ns]),
    ])
    results.floor.push({
      case: what,
      cUs: a,
      nsjsUs: b,
      ratio: r,
      target: t,
      met: t ? r <= t : undefined,
      nsjsPerSecond: 1e6 / b,
      cCloneCallUs: floor.blockingUs[c],
      nsjsSpawnCallUs: floor.blockingUs[ns],
      cRoundsUs: floor.perSpawnUs[c],
      nsjsRoundsUs: floor.perSpawnUs[ns],
    })
  }
  console.log(
    `\n4. nsjs from Node against C clone(CLONE_VM|CLONE_VFORK)+execve(/bin/true)+waitpid, median over ${ROUNDS} rounds of ${floor.n} (us per spawn)`,
  )
  console.log('   nsjs/C = median over rounds of (nsjs / C in the same round); blocks = mean time in clone() / spawn()')
  console.log(
    table(
      ['case', 'C us', 'nsjs us', 'nsjs/C', 'target', 'met', 'nsjs rate', 'C clone() blocks', 'nsjs spawn() blocks'],
      floorRows,
    ),
  )
  met['within 1.5x of C (sequential)'] = results.floor.slice(0, 2).every((x) => x.met)
}

if (burst) {
  results.burst = {}
  const burstRows = []
  for (const [name, s] of Object.entries(burst.summary)) {
    const met = s.lagMaxMs <= TARGETS.lagMs
    const isTarget = name === 'nsjs all at once'
    burstRows.push([
      name,
      `${s.totalMs.toFixed(0)} ms`,
      s.lagMaxMs.toFixed(1),
      s.lagP99Ms.toFixed(1),
      s.intervalMaxGapMs.toFixed(1),
      `${us(s.callMedianUs)} / ${us(s.callP99Us)} / ${us(s.callMaxUs)}`,
      s.callSumMs.toFixed(0),
      isTarget ? yes(met) : '(info)',
    ])
    results.burst[name] = { ...s, met: isTarget ? met : undefined }
  }
  results.burst.command = burst.command
  results.burst.count = burst.count
  results.burst.rounds = burst.rounds
  results.burst.runs = burst.runs
  console.log(
    `\n5. ${BURST} concurrent \`${burst.command}\` in new uts namespaces, median of ${BURST_ROUNDS} rounds; lag in ms (target: max <= ${TARGETS.lagMs} ms)`,
  )
  console.log(
    table(
      [
        'variant',
        'all exited',
        'lag max',
        'lag p99',
        '1ms timer max gap',
        'spawn() call us med/p99/max',
        'sum of calls ms',
        'met',
      ],
      burstRows,
    ),
  )
  met[`event loop lag <= ${TARGETS.lagMs} ms during ${BURST} concurrent spawns`] = results.burst['nsjs all at once'].met
}

if (breakdown) {
  const STEP_NAMES = {
    'C steps=-': 'C floor: CLONE_NEWUTS on the clone, one stack, waitpid',
    'C steps=S': 'C + S: signals blocked around clone, 62 dispositions reset in the child',
    'C steps=U': 'C + U: unshare(CLONE_NEWUTS) in the child',
    'C steps=D': 'C + D: /dev/null opened per spawn, dup3 x3, close_range',
    'C steps=P': 'C + P: CLOEXEC error pipe read to EOF',
    'C steps=M': 'C + M: fresh mmap stack + guard page per spawn',
    'C steps=F': 'C + F: pidfd -> reaper thread -> eventfd -> main epoll',
    'C steps=W': "C + W: pidfd in the main thread's own epoll",
    'C steps=SUDPM': "C + SUDPM: nsjs's spawn syscalls, waitpid",
    'C steps=SUDPMF': "C + SUDPMF: all of nsjs's syscalls (its design)",
    'C steps=SUDPMW': 'C + SUDPMW: the same, exit seen without the thread hop',
    'node spawn()': 'nsjs spawn() from Node (env: process.env)',
    'node spawn() env {PATH}': 'nsjs spawn() with env: { PATH }',
    'node native, env list': 'native spawnChild alone, env list built per spawn',
    'node native, env []': 'native spawnChild alone, empty env',
    'node env list only': 'building the env list from process.env alone',
  }
  // Against the floor of the same round (rounds are interleaved), then the median over rounds: less
  // sensitive to a noisy neighbour than the difference of two medians.
  const floorRuns = breakdown.runs['C steps=-']
  const vsFloor = (k) => median(breakdown.runs[k].map((x, i) => x.perSpawnUs - floorRuns[i].perSpawnUs))
  const bdRows = Object.entries(breakdown.medianUs).map(([k, v]) => [
    STEP_NAMES[k] ?? k,
    us(v.perSpawn),
    k === 'node env list only' ? '' : `${vsFloor(k) >= 0 ? '+' : ''}${us(vsFloor(k))}`,
    k === 'node env list only' ? '' : `${us(v.call)} / ${us(v.callP50)} / ${us(v.callP90)}`,
  ])
  results.breakdown = {
    n: breakdown.n,
    rounds: breakdown.rounds,
    medianUs: breakdown.medianUs,
    vsFloorUs: Object.fromEntries(
      Object.keys(breakdown.medianUs)
        .filter((k) => k !== 'node env list only')
        .map((k) => [k, vsFloor(k)]),
    ),
    labels: STEP_NAMES,
    runs: breakdown.runs,
  }
  console.log(
    `\n6. Where the time of one sequential spawn (new uts ns, /bin/true) goes, median over ${breakdown.rounds} rounds of ${breakdown.n} (us)`,
  )
  console.log('   "vs C floor" = median over rounds of (variant - C floor of the same round)')
  console.log(
    '   "blocking" = time in clone() for C (it returns once the child exec\'ed), in the spawn()/native call for Node',
  )
  console.log(table(['variant', 'per spawn', 'vs C floor', 'blocking mean / p50 / p90'], bdRows))
}

if (netRun) {
  const NET_TARGETS = { connect: 1.3, listen: 1.5 }
  results.net = { ...netRun, targets: NET_TARGETS }
  console.log(
    `\n7. Sockets inside a net namespace: median over ${netRun.rounds} rounds of ${netRun.n} calls (us per call)`,
  )
  console.log(
    table(
      ['call', 'us', 'against', 'us', 'ratio', 'target', 'met'],
      [
        ['A.connect() to a local server', 'A.connect', 'net.connect', netRun.connectRatio, NET_TARGETS.connect],
        ['A.listen() + close', 'A.listen', 'server.listen', netRun.listenRatio, NET_TARGETS.listen],
      ].map(([what, a, b, r, t]) => [
        what,
        us(netRun.medianUs[a]),
        b,
        us(netRun.medianUs[b]),
        ratio(r),
        `<= ${t}x`,
        yes(r <= t),
      ]),
    ),
  )
  console.log(`   A.socket() + close alone: ${us(netRun.medianUs['A.socket'])} us`)
  met[`A.connect() within ${NET_TARGETS.connect}x of net.connect()`] = netRun.connectRatio <= NET_TARGETS.connect
  met[`A.listen() within ${NET_TARGETS.listen}x of server.listen()`] = netRun.listenRatio <= NET_TARGETS.listen
}
if (sandbox) {
  results.sandbox = { ...sandbox, target: TARGETS.vsBwrap, met: sandbox.ratio <= TARGETS.vsBwrap }
  console.log(
    `\n8. A sandbox (ipc, pid, net, uts, cgroup, mnt; tmpfs root with 8 entries; caps dropped; seccomp), /bin/true, sequential, median over ${sandbox.rounds} rounds of ${sandbox.n} (us)`,
  )
  console.log('   ratio = median over rounds of (nsjs / bwrap in the same round)')
  console.log(
    table(
      ['case', 'nsjs us', 'bwrap us', 'ratio', 'target', 'met'],
      [
        [
          'sandbox vs bwrap',
          us(sandbox.medianUs['nsjs sandbox']),
          us(sandbox.medianUs['cp bwrap']),
          ratio(sandbox.ratio),
          `<= ${TARGETS.vsBwrap}x`,
          yes(results.sandbox.met),
        ],
      ],
    ),
  )
  met[`a sandbox in <= ${TARGETS.vsBwrap}x bubblewrap's time`] = results.sandbox.met
}

// Issue 12: against Go and the C floor (bench/vs.mjs, bench/report.mjs).
for (const [key, run, report] of [
  ['seq', seqRun, reportSeq],
  ['concurrent', concurrentRun, reportConcurrent],
  ['handles', handlesRun, reportHandles],
  ['import', importRun, reportImport],
]) {
  if (!run) continue
  const r = report(run, { goNote })
  results[key] = { ...r, runs: run.runs }
  Object.assign(met, r.met)
}
results.met = met
console.log('\nTargets:')
for (const [k, v] of Object.entries(met))
  console.log(`  ${v === undefined ? 'skipped' : v ? 'met    ' : 'NOT met'}  ${k}`)

if (!quick && !only) {
  writeFileSync(join(here, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log('\nwrote bench/results.json')
} else {
  console.log(`\n(${quick ? 'BENCH_QUICK=1' : 'BENCH_ONLY'}: bench/results.json left alone)`)
}
