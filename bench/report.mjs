// Printing for bench/run.mjs: the table helpers, and the sections of issue 12 (nsjs against Go and
// the C floor; their tasks are in bench/vs.mjs). Each report prints its table and returns the
// rows for results.json and the targets met or not.

export function median(a) {
  if (a.length === 0) return NaN
  const s = [...a].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
export const us = (x) => (Number.isFinite(x) ? (x < 20 ? x.toFixed(1) : `${Math.round(x)}`) : '-')
export const ratio = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-')
export const yes = (ok) => (ok ? 'yes' : 'NO')
export function table(head, rows) {
  const all = [head, ...rows]
  const w = head.map((_, i) => Math.max(...all.map((r) => String(r[i]).length)))
  const line = (r) => `  ${r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')}`
  return [line(head), `  ${w.map((x) => '-'.repeat(x)).join('  ')}`, ...rows.map(line)].join('\n')
}

// What issue 12 asks for.
export const TARGETS_12 = {
  seqVsGo: 1.0,
  seqVsC: 1.2,
  spawnCpuUs: 100,
  execCpuUs: 150,
  burstVsGo: 1.0,
  burstVsC: 0.85,
  lag1000Ms: 10,
  lag2000Ms: 20,
  // "Parent CPU per child flat as the burst grows", read as: at the largest burst at most this
  // much more per child than at the smallest.
  cpuGrowth: 1.2,
  joinVsC: 2,
  runVsC: 2.5,
  openVsC: 1.5,
  openAllVsC: 1.5,
  keepVsFs: 2,
  importMs: 10,
}
const T = TARGETS_12

/** The median over rounds of a field, and of the ratio a/b within each round. */
const med = (runs, name, f = (x) => x.us) => (runs[name] ? median(runs[name].map(f)) : NaN)
const within = (runs, a, b, f = (x) => x.us) =>
  runs[a] && runs[b] ? median(runs[a].map((x, i) => f(x) / f(runs[b][i]))) : NaN
const le = (x, t) => Number.isFinite(x) && x <= t
const ge = (x, t) => Number.isFinite(x) && x >= t
// A target against Go is neither met nor missed when Go was skipped.
const leGo = (x, t) => (Number.isFinite(x) ? x <= t : undefined)
const geGo = (x, t) => (Number.isFinite(x) ? x >= t : undefined)
const yesGo = (ok) => (ok === undefined ? '-' : yes(ok))

/** 9. Sequential spawn against Go's os/exec and C: time and parent CPU per spawn. */
export function reportSeq(seq, { goNote }) {
  const { runs } = seq
  const rows = [
    ['new uts ns, spawn()', 'nsjs uts', 'Go uts', 'C uts', T.spawnCpuUs],
    ['joined net ns, spawn()', 'nsjs net', 'Go net', 'C net', T.spawnCpuUs],
    ['new uts ns, exec()', 'nsjs exec uts', 'Go uts', 'C uts', T.execCpuUs],
  ].map(([what, ns, go, c, cpuTarget]) => {
    const spawnRow = ns !== 'nsjs exec uts'
    const r = {
      case: what,
      nsjsUs: med(runs, ns),
      goUs: med(runs, go),
      cUs: med(runs, c),
      vsGo: within(runs, ns, go),
      vsC: within(runs, ns, c),
      nsjsCpuUs: med(runs, ns, (x) => x.cpuUs),
      goCpuUs: med(runs, go, (x) => x.cpuUs),
      cCpuUs: med(runs, c, (x) => x.cpuUs),
      targets: spawnRow ? { vsGo: T.seqVsGo, vsC: T.seqVsC, cpuUs: cpuTarget } : { cpuUs: cpuTarget },
    }
    r.met = spawnRow
      ? { vsGo: leGo(r.vsGo, T.seqVsGo), vsC: le(r.vsC, T.seqVsC), cpu: le(r.nsjsCpuUs, cpuTarget) }
      : { cpu: le(r.nsjsCpuUs, cpuTarget) }
    return r
  })
  console.log(
    `\n9. Sequential spawn + exit of /bin/true against Go os/exec and C, median over ${seq.rounds} rounds of ${seq.n} (us per spawn)`,
  )
  console.log(
    "   ratios = median over rounds of (nsjs / other in the same round); CPU = the parent process's user+system per spawn",
  )
  if (goNote) console.log(`   ${goNote}`)
  console.log(
    table(
      [
        'case',
        'nsjs',
        'Go',
        'C',
        'nsjs/Go',
        'nsjs/C',
        'met (Go, C)',
        'CPU nsjs',
        'CPU Go',
        'CPU C',
        'CPU target',
        'met',
      ],
      rows.map((r) => [
        r.case,
        us(r.nsjsUs),
        us(r.goUs),
        us(r.cUs),
        ratio(r.vsGo),
        ratio(r.vsC),
        r.met.vsC === undefined ? '(info)' : `${yesGo(r.met.vsGo)}, ${yes(r.met.vsC)}`,
        us(r.nsjsCpuUs),
        us(r.goCpuUs),
        us(r.cCpuUs),
        `<= ${r.targets.cpuUs}`,
        yes(r.met.cpu),
      ]),
    ),
  )
  console.log(
    `   targets: nsjs/Go <= ${T.seqVsGo}x, nsjs/C <= ${T.seqVsC}x; Go's net row is LockOSThread + setns there + exec.Cmd.Run + setns back`,
  )
  const roundsFloor = seq.roundsFloor ? reportRoundsFloor(seq.roundsFloor) : undefined
  const steady = seq.steady ? reportSteady(seq.steady, rows) : undefined
  const [uts, net, ex] = rows
  return {
    rows,
    roundsFloor,
    steady,
    met: {
      [`sequential spawn, new uts ns: <= ${T.seqVsGo}x Go`]: uts.met.vsGo,
      [`sequential spawn, new uts ns: <= ${T.seqVsC}x the C floor`]: uts.met.vsC,
      [`sequential spawn, joined net ns: <= ${T.seqVsGo}x Go`]: net.met.vsGo,
      [`sequential spawn, joined net ns: <= ${T.seqVsC}x the C floor`]: net.met.vsC,
      [`parent CPU per spawn <= ${T.spawnCpuUs} us (uts and net)`]: uts.met.cpu && net.met.cpu,
      [`exec() parent CPU per spawn <= ${T.execCpuUs} us`]: ex.met.cpu,
    },
  }
}

/**
 * 9, continued: the native call alone in the rounds' own pattern, in a fresh process: the parent
 * CPU per spawn that no TypeScript layer could go below in those rounds. Information, no target.
 */
function reportRoundsFloor(floor) {
  const { runs } = floor
  const names = Object.keys(runs).filter((k) => k.startsWith('native'))
  const cpu = names.flatMap((k) => runs[k].map((x) => x.cpuUs))
  const byRound = runs[names[0]].map((_, r) => median(names.map((k) => runs[k][r].cpuUs)))
  const out = {
    cpuUs: median(cpu),
    byRoundCpuUs: byRound,
    cCpuUs: med(runs, 'C uts', (x) => x.cpuUs),
  }
  console.log(
    `   Under the rounds: the native call alone (spawnChild + its exit report, no TypeScript layer), new uts ns, in a fresh`,
  )
  console.log(
    `   process with the rounds' pattern (${floor.warmup} x 3 to warm up, 3 x ${floor.n} a round, C's run between): parent CPU ${us(out.cpuUs)} us per spawn`,
  )
  console.log(
    `   (by round: ${byRound.map(us).join(' / ')}; C's ${us(out.cCpuUs)}); what the TypeScript layer adds must fit between it and the target.`,
  )
  return out
}

/**
 * 9, continued: the nsjs rows again in the same process after `steady.warmup` more spawns of
 * each (V8 has compiled the path), and the native call alone under them. Information, no target.
 */
function reportSteady(steady, rows) {
  const { runs } = steady
  const out = [
    ['new uts ns, spawn()', 'nsjs uts', rows[0]],
    ['joined net ns, spawn()', 'nsjs net', rows[1]],
    ['new uts ns, exec()', 'nsjs exec uts', rows[2]],
    ['native spawnChild + exit report alone, uts', 'native uts', undefined],
  ]
    .filter(([, name]) => runs[name])
    .map(([what, name, row]) => ({
      case: what,
      nsjsUs: med(runs, name),
      nsjsCpuUs: med(runs, name, (x) => x.cpuUs),
      roundsCpuUs: row?.nsjsCpuUs,
    }))
  console.log(
    `   The nsjs rows again in the same process after ${steady.warmup} more spawns of each (V8 has compiled their path by then;`,
  )
  console.log(
    "   above, its compiler threads' CPU is part of the parent's), and the native call alone: what Node and the kernel cost",
  )
  console.log('   without the TypeScript layer. Information, no target:')
  console.log(
    table(
      ['case', 'nsjs', 'CPU nsjs', 'CPU above'],
      out.map((r) => [r.case, us(r.nsjsUs), us(r.nsjsCpuUs), r.roundsCpuUs === undefined ? '-' : us(r.roundsCpuUs)]),
    ),
  )
  return { warmup: steady.warmup, rows: out }
}

/** 10. Bursts of children against Go (goroutines) and C (clone all, then reap all). */
export function reportConcurrent(con, { goNote }) {
  const { runs, sizes } = con
  const rows = sizes.map((size) => {
    const [ns, go, c] = [`nsjs ${size}`, `Go ${size}`, `C ${size}`]
    const rate = (x) => x.perSec
    return {
      size,
      nsjsPerSec: med(runs, ns, rate),
      goPerSec: med(runs, go, rate),
      cPerSec: med(runs, c, rate),
      vsGo: within(runs, ns, go, rate),
      vsC: within(runs, ns, c, rate),
      lagMaxMs: med(runs, ns, (x) => x.lagMaxMs),
      lagP99Ms: med(runs, ns, (x) => x.lagP99Ms),
      nsjsCpuUs: med(runs, ns, (x) => x.cpuUs),
      goCpuUs: med(runs, go, (x) => x.cpuUs),
      cCpuUs: med(runs, c, (x) => x.cpuUs),
    }
  })
  console.log(
    `\n10. Bursts of /bin/true in new uts namespaces, all started at once, all awaited; median over ${con.rounds} rounds`,
  )
  console.log(
    '   nsjs: spawn() in one synchronous loop; Go: a goroutine per child running exec.Cmd.Run; C: clone() every child, then waitpid each',
  )
  console.log(
    '   ratios = median over rounds of (nsjs rate / other rate in the same round); CPU = parent CPU per child (us)',
  )
  if (goNote) console.log(`   ${goNote}`)
  console.log(
    table(
      ['children', 'nsjs /s', 'Go /s', 'C /s', 'nsjs/Go', 'nsjs/C', 'lag max ms', 'CPU nsjs', 'CPU Go', 'CPU C'],
      rows.map((r) => [
        r.size,
        Math.round(r.nsjsPerSec),
        Number.isFinite(r.goPerSec) ? Math.round(r.goPerSec) : '-',
        Math.round(r.cPerSec),
        ratio(r.vsGo),
        ratio(r.vsC),
        r.lagMaxMs.toFixed(1),
        us(r.nsjsCpuUs),
        us(r.goCpuUs),
        us(r.cCpuUs),
      ]),
    ),
  )
  const at = (size) => rows.find((r) => r.size === size)
  const met = {}
  const r1000 = at(1000)
  if (r1000) {
    met[`1000 concurrent spawns: throughput >= ${T.burstVsGo}x Go's`] = geGo(r1000.vsGo, T.burstVsGo)
    met[`1000 concurrent spawns: throughput >= ${T.burstVsC * 100} % of the C floor`] = ge(r1000.vsC, T.burstVsC)
    met[`max event loop lag <= ${T.lag1000Ms} ms for 1000 concurrent spawns`] = le(r1000.lagMaxMs, T.lag1000Ms)
  }
  const r2000 = at(2000)
  if (r2000) met[`max event loop lag <= ${T.lag2000Ms} ms for 2000 concurrent spawns`] = le(r2000.lagMaxMs, T.lag2000Ms)
  const growth = rows.at(-1).nsjsCpuUs / rows[0].nsjsCpuUs
  if (rows.length > 1) {
    met[`parent CPU per child flat (${rows.at(-1).size} vs ${rows[0].size}: <= ${T.cpuGrowth}x)`] = le(
      growth,
      T.cpuGrowth,
    )
    console.log(
      `   nsjs parent CPU per child at ${rows.at(-1).size} / at ${rows[0].size}: ${ratio(growth)} (target <= ${T.cpuGrowth}x: flat)`,
    )
  }
  return { rows, cpuGrowth: growth, met }
}

/** 11. Join, run, open, openAll, and many handles kept open. */
export function reportHandles(h, { goNote }) {
  const { runs } = h
  const row = (what, ns, go, c, t, note) => ({
    case: what,
    nsjsUs: med(runs, ns),
    goUs: med(runs, go),
    cUs: med(runs, c),
    vsC: within(runs, ns, c),
    vsGo: within(runs, ns, go),
    target: t,
    met: le(within(runs, ns, c), t),
    note,
  })
  const rows = [
    row('joinSync() there and back', 'nsjs joinSync', 'Go setns', 'C setns', T.joinVsC),
    row('run(() => 0)', 'nsjs run', 'Go setns', 'C setns', T.runVsC),
    row("Namespace.open(pid, 'net') + close", 'nsjs open', 'Go open', 'C open', T.openVsC, 'Go: not pid-safe'),
    row(
      `Namespace.openAll(pid) (${h.types.length} types) + close`,
      'nsjs openAll',
      undefined,
      'C openall',
      T.openAllVsC,
    ),
  ]
  const keep = {
    case: `${h.kept} handles kept open: per open`,
    nsjsUs: med(runs, 'nsjs keep'),
    fsUs: med(runs, 'fs keep'),
    vsFs: within(runs, 'nsjs keep', 'fs keep'),
    nsjsMajorGcs: med(runs, 'nsjs keep', (x) => x.majorGcs),
    fsMajorGcs: med(runs, 'fs keep', (x) => x.majorGcs),
    target: T.keepVsFs,
  }
  keep.met = le(keep.vsFs, T.keepVsFs)
  keep.gcMet = keep.nsjsMajorGcs <= keep.fsMajorGcs
  console.log(
    `\n11. Namespace handles, median over ${h.rounds} rounds of ${h.n} calls (${h.nOpenAll} for openAll) (us per call)`,
  )
  console.log(
    '   C: setns there and back on one thread with both fds opened once; pidfd_open + PIDFD_GET_*_NAMESPACE ioctl(s) + close',
  )
  console.log('   Go: LockOSThread + setns there and back; open(/proc/PID/ns/net) + close (not safe against pid reuse)')
  if (goNote) console.log(`   ${goNote}`)
  console.log(
    table(
      ['call', 'nsjs', 'Go', 'C', 'nsjs/Go', 'nsjs/C', 'target', 'met'],
      rows.map((r) => [
        r.case,
        us(r.nsjsUs),
        us(r.goUs),
        us(r.cUs),
        ratio(r.vsGo),
        ratio(r.vsC),
        `<= ${r.target}x`,
        yes(r.met),
      ]),
    ),
  )
  console.log(
    table(
      ['kept open', 'nsjs us', 'fs.openSync us', 'nsjs/fs', 'target', 'met', 'full GCs nsjs', 'full GCs fs', 'met'],
      [
        [
          keep.case,
          us(keep.nsjsUs),
          us(keep.fsUs),
          ratio(keep.vsFs),
          `<= ${T.keepVsFs}x`,
          yes(keep.met),
          keep.nsjsMajorGcs,
          keep.fsMajorGcs,
          yes(keep.gcMet),
        ],
      ],
    ),
  )
  console.log(
    `   fs.openSync opens the same file, /proc/PID/ns/net; full GCs = PerformanceObserver 'gc' entries of kind major during the ${h.kept} opens`,
  )
  const [join, run, open, all] = rows
  return {
    rows,
    keep,
    met: {
      [`joinSync round trip <= ${T.joinVsC}x raw setns`]: join.met,
      [`run(() => 0) <= ${T.runVsC}x raw setns`]: run.met,
      [`open(pid, 'net') + close <= ${T.openVsC}x the pid-safe C floor`]: open.met,
      [`openAll(pid) <= ${T.openAllVsC}x the C floor`]: all.met,
      [`${h.kept} handles kept open: <= ${T.keepVsFs}x fs.openSync per handle`]: keep.met,
      [`${h.kept} handles kept open: no more full GCs than fs.openSync`]: keep.gcMet,
    },
  }
}

/** 12. require() / import of the package and the first native call, in fresh processes. */
export function reportImport(imp) {
  const rows = Object.entries(imp.runs).map(([name, list]) => {
    const r = {
      case: name,
      totalMs: median(list.map((x) => x.us / 1000)),
      loadMs: median(list.map((x) => x.loadMs)),
      firstCallMs: median(list.map((x) => x.firstCallMs)),
      maxMs: Math.max(...list.map((x) => x.us / 1000)),
      // The `node -e` rows are shown for comparison, without a target (bench/README.md, 12).
      target: name.includes('node -e') ? undefined : T.importMs,
    }
    r.met = r.target === undefined ? undefined : le(r.totalMs, T.importMs)
    return r
  })
  console.log(
    `\n12. Loading the package + the first native call (Namespace.current('net').close()), ${imp.rounds} fresh processes each (ms)`,
  )
  console.log(
    table(
      ['case', 'median ms', 'load ms', 'first call ms', 'max ms', 'target', 'met'],
      rows.map((r) => [
        r.case,
        r.totalMs.toFixed(2),
        r.loadMs.toFixed(2),
        r.firstCallMs.toFixed(2),
        r.maxMs.toFixed(2),
        r.target === undefined ? '-' : `<= ${T.importMs}`,
        r.met === undefined ? '-' : yes(r.met),
      ]),
    ),
  )
  return {
    rows,
    met: {
      [`loading nsjs + first native call <= ${T.importMs} ms (require and import)`]: rows.every((r) => r.met !== false),
    },
  }
}
