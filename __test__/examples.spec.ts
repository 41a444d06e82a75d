// The examples in examples/, run as a user runs them (`node examples/x.mjs`, importing 'nsjs',
// which resolves to this package's dist/), checked for what they print and for what they leave:
// nothing (no /run/netns entries, nsfs mounts, veths, host addresses or processes of theirs).
import { spawn as cpSpawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { networkInterfaces } from 'node:os'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { Namespace } from '../ts/index'
import { nsfsMounts, ROOT } from './helpers'

interface Ran {
  pid: number
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** The `label value` lines the examples print, by label. */
  lines: Map<string, string>
}

const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']

/** Processes (other than PID 1, which is never looked at) whose environment carries `mark`. */
function marked(mark: string): number[] {
  const found: number[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || p === '1') continue
    try {
      if (readFileSync(`/proc/${p}/environ`, 'latin1').split('\0').includes(`NSJS_EXAMPLE_MARK=${mark}`))
        found.push(Number(p))
    } catch {
      // gone, or a kernel thread
    }
  }
  return found
}

async function runExample(t: ExecutionContext, file: string, prefix: string[] = []): Promise<Ran> {
  // Every process the example starts inherits this variable, which is how leftovers are found.
  const mark = randomUUID()
  const argv = [...prefix, process.execPath, join('examples', file)]
  const child = cpSpawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, NSJS_EXAMPLE_MARK: mark },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (c, s) => resolve([c, s])),
  )
  clearTimeout(timer)
  t.log(`$ ${[...prefix, 'node', join('examples', file)].join(' ')}\n${stdout}${stderr}`)
  // Leftover processes: none may carry the mark once the example has exited.
  const left = marked(mark)
  for (const p of left) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {
      // gone
    }
  }
  t.deepEqual(left, [], 'processes left behind')
  const lines = new Map<string, string>()
  for (const l of stdout.split('\n')) {
    const m = /^(.*?\S)\s{2,}(\S.*)$/.exec(l)
    if (m) lines.set(m[1], m[2])
  }
  return { pid: child.pid as number, code, signal, stdout, stderr, lines }
}

function netnsEntries(): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns') : []
}

function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address ?? '')
}

function hostLinks(): string[] {
  return readdirSync('/sys/class/net')
}

/** Net namespace ids (`net:[N]`) that no process or mount holds any more. */
function netIdsGone(t: ExecutionContext, output: string): void {
  const ids = [...output.matchAll(/net:\[(\d+)\]/g)].map((m) => Number(m[1]))
  const own = Number(Namespace.current('net').inode)
  const alive = new Set(Namespace.listSync({ type: 'net' }).map((n) => n.id))
  for (const id of ids) if (id !== own) t.false(alive.has(id), `net:[${id}] is still held`)
}

test.before(() => {
  for (const f of ['dist/cjs/index.js', 'dist/esm/index.mjs']) {
    if (!existsSync(join(ROOT, f)))
      throw new Error(`${f} is missing: the examples import 'nsjs' from dist; run npm run build:ts`)
  }
})

// Serial: the checks for leftovers look at the whole system (mounts, links, /run/netns).
test.serial('demo.mjs: create, persist, list, run and spawn, then nothing left', async (t) => {
  const mounts = nsfsMounts()
  const r = await runExample(t, 'demo.mjs')
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const path = `/run/netns/nsjs-demo-${r.pid}`
  const id = /^(net:\[\d+\]) at /.exec(r.lines.get('created and persisted') ?? '')?.[1]
  t.is(r.lines.get('created and persisted'), `${id} at ${path}`)
  t.is(r.lines.get('ip netns list sees it'), `nsjs-demo-${r.pid}`)
  t.regex(r.lines.get('addresses inside') ?? '', /^lo UNKNOWN 127\.0\.0\.1\/8 10\.200\.0\.1\/32/)
  t.is(r.lines.get('os.networkInterfaces() inside run()'), 'lo')
  const sandbox = [...r.lines].find(([k]) => k.startsWith('spawned sandbox'))?.[1] ?? ''
  t.regex(sandbox, /^hostname=sandbox uid=0 pid=1 procs=\d$/)
  t.is(r.lines.get('its net namespace is the persisted one'), `true (${id})`)
  t.is(r.lines.get('exit'), '{"code":0,"signal":null}')
  t.is(r.lines.get('unpersisted; ip netns list now'), '""')
  t.false(
    netnsEntries().some((e) => e.startsWith('nsjs-demo-')),
    `/run/netns: ${netnsEntries().join(' ')}`,
  )
  t.deepEqual(
    nsfsMounts().filter((m) => !mounts.includes(m)),
    [],
    'nsfs mounts left',
  )
  netIdsGone(t, r.stdout)
})

test.serial('private-network.mjs: TCP over a veth between two namespaces, nothing left', async (t) => {
  const mounts = nsfsMounts()
  const r = await runExample(t, 'private-network.mjs')
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const a = `/run/netns/nsjs-pn-a-${r.pid}`
  const b = `/run/netns/nsjs-pn-b-${r.pid}`
  t.regex(r.lines.get('namespace a') ?? '', new RegExp(`^net:\\[\\d+\\] at ${a}$`))
  t.regex(r.lines.get('namespace b') ?? '', new RegExp(`^net:\\[\\d+\\] at ${b}$`))
  t.regex(r.lines.get('a: addresses') ?? '', /^veth-a@\S+ UP 10\.77\.0\.1\/24/)
  t.regex(r.lines.get('b: addresses') ?? '', /^veth-b@\S+ UP 10\.77\.0\.2\/24/)
  t.regex(r.lines.get('b: listening (ss inside b)') ?? '', /^LISTEN .*:7077 /)
  t.is(r.lines.get('a -> 10.77.0.2:7077 (TCP)'), 'hello 10.77.0.1, this is 10.77.0.2')
  t.is(r.lines.get('host has an address in 10.77.0.0/24'), 'no')
  t.is(r.lines.get('removed'), `${a}, ${b}`)
  // Nothing left: entries, mounts, namespaces, links, addresses.
  t.false(
    netnsEntries().some((e) => e.startsWith('nsjs-pn-')),
    `/run/netns: ${netnsEntries().join(' ')}`,
  )
  t.deepEqual(
    nsfsMounts().filter((m) => !mounts.includes(m)),
    [],
    'nsfs mounts left',
  )
  netIdsGone(t, r.stdout)
  t.false(hostLinks().some((l) => l.startsWith('veth-')))
  t.false(hostAddresses().some((ip) => ip.startsWith('10.77.0.')))
})

test.serial('server-in-namespace.mjs: HTTP from the host into a namespace, nothing left', async (t) => {
  const mounts = nsfsMounts()
  const r = await runExample(t, 'server-in-namespace.mjs')
  t.is(r.code, 0, r.stderr)
  t.is(r.stderr, '')
  const path = `/run/netns/nsjs-srv-${r.pid}`
  const dev = `nsjsv${r.pid}h`
  const id = /^(net:\[\d+\]) at /.exec(r.lines.get('server namespace') ?? '')?.[1]
  t.truthy(id, r.stdout)
  t.is(r.lines.get('server namespace'), `${id} at ${path}`)
  t.is(r.lines.get('host side'), `${dev} 10.78.0.1/24`)
  t.regex(r.lines.get('inside') ?? '', /^eth0@\S+ UP 10\.78\.0\.2\/24$/)
  t.regex(r.lines.get('listening inside (ss in the namespace)') ?? '', /^LISTEN .*:8078 /)
  t.is(r.lines.get('listening on the host (ss on the host)'), 'nothing')
  t.is(r.lines.get('GET http://10.78.0.2:8078/'), `200 hello 10.78.0.1, from 10.78.0.2:8078 inside ${id}`)
  t.is(r.lines.get('removed'), `${dev}, ${path}; host has 10.78.0.1: no`)
  t.false(
    netnsEntries().some((e) => e.startsWith('nsjs-srv-')),
    `/run/netns: ${netnsEntries().join(' ')}`,
  )
  t.deepEqual(
    nsfsMounts().filter((m) => !mounts.includes(m)),
    [],
    'nsfs mounts left',
  )
  netIdsGone(t, r.stdout)
  t.false(
    hostLinks().some((l) => l.startsWith('nsjsv')),
    `links: ${hostLinks().join(' ')}`,
  )
  t.false(hostAddresses().some((ip) => ip.startsWith('10.78.0.')))
})

for (const [who, prefix, uid] of [
  ['root', [], 0],
  ['uid 65534 (setpriv)', NOBODY, 65534],
] as const) {
  test.serial(`rootless-sandbox.mjs as ${who}: the sandbox's view, then nothing left`, async (t) => {
    const mounts = nsfsMounts()
    const r = await runExample(t, 'rootless-sandbox.mjs', [...prefix])
    t.is(r.code, 0, r.stderr)
    t.is(r.stderr, '')
    t.is(r.lines.get('outside: uid, gid'), `${uid}, ${uid}`)
    t.regex(r.lines.get('outside: net namespace') ?? '', /^net:\[\d+\]$/)
    t.regex(r.lines.get('sandbox: its pid outside') ?? '', /^\d+$/)
    t.is(r.lines.get('inside: uid, gid'), '0, 0')
    t.is(r.lines.get('inside: pid'), '1')
    t.is(r.lines.get('inside: network interfaces'), 'lo')
    // Its /proc shows the sandbox's own processes only: sh as PID 1 and what sh ran.
    const procs = (r.lines.get('inside: processes in its /proc') ?? '').split(' ')
    t.is(procs[0], '1:sh')
    t.true(procs.length <= 4, procs.join(' '))
    t.true(Number(r.lines.get('outside: processes in /proc')) > procs.length)
    t.is(r.lines.get('inside: its /proc mount'), '/proc proc')
    t.regex(r.lines.get('inside: net namespace') ?? '', /^net:\[\d+\] \(a new one\)$/)
    t.is(r.lines.get('sandbox exit'), '{"code":0,"signal":null}')
    t.deepEqual(
      nsfsMounts().filter((m) => !mounts.includes(m)),
      [],
      'nsfs mounts left',
    )
    netIdsGone(t, r.stdout)
  })
}
