// Sockets inside a net namespace (issue 10) against the same calls in the host namespace, in one
// process, rounds interleaved: A.connect() vs net.connect() to a local server (each until
// 'connect', then destroyed), A.listen() vs server.listen() (each until listening, then closed).
// Prints one JSON line: per-round microseconds per call and the median ratio. Run by run.mjs
// (section 7), or alone: node bench/net.mjs '{"n":500,"rounds":5}'.
import { closeSync } from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'

const require = createRequire(import.meta.url)
const { Namespace } = require('../dist/cjs/index.js')
const opts = JSON.parse(process.argv[2] ?? '{}')
const N = opts.n ?? 500
const ROUNDS = opts.rounds ?? 5
const WARMUP = opts.warmup ?? 50

const median = (a) => {
  const s = [...a].sort((x, y) => x - y)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const A = await Namespace.create('net')
await A.exec('ip', ['link', 'set', 'lo', 'up'])
const sink = (c) => c.on('error', () => {}).resume()
const inHost = net.createServer(sink)
await new Promise((r) => inHost.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, r))
const inA = net.createServer(sink)
await A.listen(inA, { port: 0, host: '127.0.0.1', backlog: 4096 })

const connected = (s) =>
  new Promise((resolve, reject) => {
    s.once('connect', () => {
      s.destroy()
      resolve()
    })
    s.once('error', reject)
  })
const variants = {
  'net.connect': () => connected(net.connect({ port: inHost.address().port, host: '127.0.0.1' })),
  'A.connect': () => connected(A.connect({ port: inA.address().port, host: '127.0.0.1' })),
  'server.listen': async () => {
    const s = net.createServer()
    await new Promise((r) => s.listen({ port: 0, host: '127.0.0.1' }, r))
    await new Promise((r) => s.close(r))
  },
  'A.listen': async () => {
    const s = net.createServer()
    await A.listen(s, { port: 0, host: '127.0.0.1' })
    await new Promise((r) => s.close(r))
  },
  'A.socket': async () => closeSync(A.socket('inet', 'stream')),
}

async function time(fn, n) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await fn()
  return Number(process.hrtime.bigint() - t0) / 1000 / n
}

for (const fn of Object.values(variants)) await time(fn, WARMUP)
const perCallUs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the order each round, so neither side always runs first.
  const names = Object.keys(variants)
  for (const k of r % 2 ? names.reverse() : names) perCallUs[k].push(await time(variants[k], N))
}
const ratio = (a, b) => median(perCallUs[a].map((x, i) => x / perCallUs[b][i]))
inHost.close()
inA.close()
A.close()
console.log(
  JSON.stringify({
    n: N,
    rounds: ROUNDS,
    perCallUs,
    medianUs: Object.fromEntries(Object.entries(perCallUs).map(([k, v]) => [k, median(v)])),
    connectRatio: ratio('A.connect', 'net.connect'),
    listenRatio: ratio('A.listen', 'server.listen'),
  }),
)
