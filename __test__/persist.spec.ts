// persist() / unpersist() next to iproute2 and other users of the same directories, and never
// redirected by a symlink. Tests that need /run/netns to start empty run in a mount namespace of
// their own with a fresh shared tmpfs on /run (as systemd makes /run); the others use their own
// directories, so they never race other users of the machine's mounts.
import { spawn as cpSpawn, execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { Namespace, type NamespaceError } from '../ts/index'
import { killAndWait, ROOT, tempDir, unmountBelow } from './helpers'

const CLI = join(ROOT, 'dist', 'cjs', 'cli.js')

interface MountLine {
  id: string
  root: string
  point: string
  optional: string
  fstype: string
}

function mounts(): MountLine[] {
  return readFileSync('/proc/thread-self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [left, right] = l.split(' - ')
      const f = left.split(' ')
      return { id: f[0], root: f[3], point: f[4], optional: f.slice(6).join(' '), fstype: right.split(' ')[0] }
    })
}

const at = (point: string) => mounts().filter((m) => m.point === point)
const nsfsBelow = (dir: string) => mounts().filter((m) => m.fstype === 'nsfs' && m.point.startsWith(`${dir}/`))

/** A tmpfs mounted at a new directory with the given propagation, unmounted after the test. */
function tmpfsAt(t: ExecutionContext, propagation: 'shared' | 'private'): string {
  const dir = tempDir(t)
  execFileSync('mount', ['-t', 'tmpfs', `--make-${propagation}`, 'nsjs-persist', dir])
  return dir
}

/**
 * Runs a shell script in a mount namespace of its own whose /run is a fresh shared tmpfs, with
 * `nsjs` as the CLI and `lib` as a node -e runner with nsjs loaded. Everything it mounts goes
 * with that namespace. Resolves with its stdout; throws with its output if it fails.
 */
function inFreshRun(script: string): string {
  const lib = `node --require ${require.resolve('tsx/cjs')} -e "const nsjs = require('${join(ROOT, 'ts', 'index.ts')}'); (async () => { $1 })().catch((e) => { console.error(e); process.exit(1) })"`
  const prelude = `set -e; mount -t tmpfs nsjs-run /run; mount --make-shared /run
nsjs() { node ${CLI} "$@"; }
lib() { ${lib}; }
`
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', prelude + script], {
    encoding: 'utf8',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
  })
  if (r.status !== 0) throw new Error(`script failed (${r.status}): ${r.stderr}\n${r.stdout}`)
  return r.stdout
}

/** What the checks at the end of each ordering print: /run/netns's mounts, nsfs mounts, files. */
// Only mounts of the fresh /run count: the namespace also holds, hidden below it, copies of what
// the test run's own /run had.
const STATE = `echo "netns mounts: $(grep -c ' /run/netns .* nsjs-run ' /proc/self/mountinfo)"
echo "nsfs: $(grep -c ' /run/netns/.* - nsfs ' /proc/self/mountinfo || true)"
echo "files: $(ls -A /run/netns | tr '\\n' ' ')"`

const CLEAN = ['netns mounts: 1', 'nsfs: 0', 'files:']

test('ip netns and nsjs create/delete work in any order and leave one /run/netns mount', (t) => {
  const orders = {
    // The issue's reproduction: ip first, nsjs into iproute2's mount.
    ipFirst: 'ip netns add a1; nsjs create net /run/netns/b1; nsjs delete /run/netns/b1; ip netns delete a1',
    interleaved:
      'ip netns add X; nsjs create net /run/netns/Y; ip netns delete X; nsjs delete /run/netns/Y; ip netns add Z; ip netns delete Z',
    // nsjs first: its own mount of /run/netns is the one ip then uses.
    nsjsFirst:
      'nsjs create net /run/netns/P; ip netns add Q; nsjs delete /run/netns/P; ip netns delete Q; ip netns add R; nsjs create net /run/netns/S; ip netns delete R; nsjs delete /run/netns/S',
  }
  for (const [name, order] of Object.entries(orders)) {
    const out = inFreshRun(`${order.replaceAll('; ', '\n')}\n${STATE}`)
    t.deepEqual(out.trim().split('\n').slice(-3), CLEAN, name)
  }
})

test('the library API next to ip netns: persist/unpersist in any order, nothing hidden', (t) => {
  const out = inFreshRun(`ip netns add A
lib 'const n = await nsjs.Namespace.create(\`net\`); await n.persist(\`/run/netns/B\`); n.close()'
ip netns delete A
ip netns add C
lib 'await nsjs.Namespace.unpersist(\`/run/netns/B\`)'
lib 'const n = await nsjs.Namespace.create(\`uts\`); n.persistSync(\`/run/netns/D\`); nsjs.Namespace.unpersistSync(\`/run/netns/D\`)'
ip netns delete C
${STATE}`)
  t.deepEqual(out.trim().split('\n').slice(-3), CLEAN)
})

test('a slave mount namespace sees namespaces persisted later, by nsjs as by ip', (t) => {
  const out = inFreshRun(`nsjs create net /run/netns/before >/dev/null
unshare --mount --propagation slave sleep 60 &
slave=$!
sleep 0.2
nsjs create net /run/netns/after >/dev/null
ip netns add byip
echo "slave sees: $(nsenter -t $slave -m ls /run/netns | tr '\\n' ' ')"
echo "as nsfs: $(nsenter -t $slave -m stat -f -c %T /run/netns/after)"
nsjs delete /run/netns/before /run/netns/after; ip netns delete byip
echo "slave keeps: $(nsenter -t $slave -m ls /run/netns | tr '\\n' ' ')"
kill $slave`)
  t.regex(out, /^slave sees: after before byip $/m)
  t.regex(out, /^as nsfs: nsfs$/m)
  t.regex(out, /^slave keeps: $/m, 'deleting propagates to the slave too')
})

test.serial('a directory that is not a mount point is bound onto itself once and made shared', async (t) => {
  for (const propagation of ['shared', 'private'] as const) {
    const sub = join(tmpfsAt(t, propagation), 'netns')
    mkdirSync(sub)
    using net = await Namespace.create('net')
    await net.persist(join(sub, 'a'))
    await net.persist(join(sub, 'b'))
    const own = at(sub)
    t.is(own.length, 1, `${propagation} parent: one mount of the directory, not one per persist`)
    t.regex(own[0].optional, /shared:/, `${propagation} parent: and it propagates`)
    await Namespace.unpersist(join(sub, 'a'))
    await Namespace.unpersist(join(sub, 'b'))
    t.deepEqual(nsfsBelow(sub), [])
    t.is(at(sub).length, 1, 'it stays, as ip leaves /run/netns')
  }
})

test.serial('a directory that is a mount point is mounted into as it is', async (t) => {
  for (const propagation of ['shared', 'private'] as const) {
    const dir = tmpfsAt(t, propagation)
    const before = at(dir)
    using uts = await Namespace.create('uts')
    await uts.persist(join(dir, 'uts'))
    t.deepEqual(at(dir), before, `${propagation}: no mount stacked on it, its propagation unchanged`)
    t.is(Namespace.fromPath(join(dir, 'uts')).id, uts.id)
    await Namespace.unpersist(join(dir, 'uts'))
    t.deepEqual(at(dir), before)
    t.false(existsSync(join(dir, 'uts')))
  }
})

test.serial('mnt files: a private self-bind under a shared mount, refused in one', async (t) => {
  const dir = tmpfsAt(t, 'shared')
  const sub = join(dir, 'ns')
  mkdirSync(sub)
  using mnt = await Namespace.create('mnt')
  await mnt.persist(join(sub, 'mnt'))
  t.notRegex(at(sub)[0].optional, /shared:/, 'the kernel refuses mnt files where mounts propagate')
  t.is(Namespace.fromPath(join(sub, 'mnt'), 'mnt').id, mnt.id)
  await Namespace.unpersist(join(sub, 'mnt'))
  const before = at(dir)
  const e = await t.throwsAsync<NamespaceError>(mnt.persist(join(dir, 'mnt')))
  t.is(e?.code, 'ERR_NS_SHARED_MOUNT')
  t.is(e?.path, dir)
  t.regex(e?.message ?? '', /private.*unshare --mount=FILE/)
  t.deepEqual(at(dir), before, 'its propagation was not changed')
  t.false(existsSync(join(dir, 'mnt')), 'the file made for it is gone')
})

test('a symlink as the last component is never followed', async (t) => {
  const dir = tempDir(t)
  const victimDir = tempDir(t)
  const victim = join(victimDir, 'secret')
  writeFileSync(victim, 'root only', { mode: 0o600 })
  symlinkSync(victim, join(dir, 'link'))
  using uts = await Namespace.create('uts')
  t.is((await t.throwsAsync<NamespaceError>(uts.persist(join(dir, 'link'))))?.code, 'EEXIST')
  t.deepEqual(nsfsBelow(victimDir), [], 'nothing was mounted over its target')
  // unpersist through a link to another tenant's persisted namespace
  await uts.persist(join(victimDir, 'theirs'))
  symlinkSync(join(victimDir, 'theirs'), join(dir, 'link2'))
  const e = t.throws<NamespaceError>(() => Namespace.unpersistSync(join(dir, 'link2')))
  t.is(e?.code, 'ELOOP')
  t.regex(e?.message ?? '', /symbolic link/)
  t.is(nsfsBelow(victimDir).length, 1, 'theirs is still mounted')
  await Namespace.unpersist(join(victimDir, 'theirs'))
})

/** A child that swaps `name` between a symlink to `target` and something else, until killed. */
function swapper(t: ExecutionContext, name: string, target: string, other: 'file' | 'none') {
  const code = `const fs = require('fs'); const [name, target, other] = process.argv.slice(1)
    for (let i = 0; ; i++) {
      try { fs.symlinkSync(target, name + '.l'); fs.renameSync(name + '.l', name) } catch {}
      try { if (other === 'file') { fs.writeFileSync(name + '.f', ''); fs.renameSync(name + '.f', name) } else fs.unlinkSync(name) } catch {}
    }`
  const child = cpSpawn(process.execPath, ['-e', code, name, target, other], { stdio: 'ignore' })
  t.teardown(() => killAndWait(child))
  return child
}

test('a symlink swapped in while persist or unpersist runs is never followed', async (t) => {
  const dir = tempDir(t)
  const victimDir = tempDir(t)
  const victim = join(victimDir, 'secret')
  writeFileSync(victim, 'root only', { mode: 0o600 })
  await Namespace.create('uts').then(async (h) => {
    await h.persist(join(victimDir, 'theirs'))
    h.close()
  })
  const theirs = nsfsBelow(victimDir)
  using uts = await Namespace.create('uts')
  const name = join(dir, 'x')
  const racer = swapper(t, name, victim, 'none')
  await new Promise((r) => racer.once('spawn', r))
  let made = 0
  for (let i = 0; i < 2000; i++) {
    try {
      uts.persistSync(name)
      made++
      t.is(Namespace.fromPath(name).id, uts.id)
      Namespace.unpersistSync(name)
    } catch (e) {
      if (!['EEXIST', 'ENOENT', 'ELOOP', 'ERR_NS_NOT_NAMESPACE'].includes((e as NamespaceError).code)) throw e
    }
    t.deepEqual(nsfsBelow(victimDir), theirs, `round ${i}: nothing mounted or unmounted there`)
  }
  // unpersist of a name that is swapped to a link to their persisted namespace
  const unracer = swapper(t, join(dir, 'y'), join(victimDir, 'theirs'), 'file')
  await new Promise((r) => unracer.once('spawn', r))
  for (let i = 0; i < 2000; i++) {
    try {
      Namespace.unpersistSync(join(dir, 'y'))
    } catch (e) {
      if (!['ENOENT', 'ELOOP', 'ERR_NS_NOT_NAMESPACE'].includes((e as NamespaceError).code)) throw e
    }
  }
  t.deepEqual(nsfsBelow(victimDir), theirs, 'theirs is still mounted')
  t.is(readFileSync(victim, 'utf8'), 'root only')
  t.log(`${made} of 2000 persists found a moment without a link`)
  await Namespace.unpersist(join(victimDir, 'theirs'))
})

test('fromPath checks for nsfs before opening: a FIFO is not opened', async (t) => {
  const dir = tempDir(t)
  const fifo = join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  // A writer blocks in open() until a reader opens the FIFO.
  const writer = cpSpawn('sh', ['-c', `echo x > ${fifo}`], { stdio: 'ignore' })
  t.teardown(() => killAndWait(writer))
  await new Promise((r) => setTimeout(r, 100))
  t.is(t.throws<NamespaceError>(() => Namespace.fromPath(fifo))?.code, 'ERR_NS_NOT_NAMESPACE')
  await new Promise((r) => setTimeout(r, 200))
  t.is(writer.exitCode, null, 'the writer still waits: nobody opened the FIFO for reading')
})

test('a persist killed at any moment blocks neither the next persist nor unpersist', async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'net')
  // What a persist killed between creating its file and mounting leaves (ip netns add too).
  writeFileSync(file, '', { mode: 0 })
  using net = await Namespace.create('net')
  await net.persist(file)
  t.is(Namespace.fromPath(file).id, net.id, 'persist mounted on the leftover')
  await Namespace.unpersist(file)
  writeFileSync(file, '', { mode: 0 })
  await Namespace.unpersist(file)
  t.false(existsSync(file), 'unpersist removed the leftover')
  writeFileSync(file, 'data', { mode: 0 })
  t.is(
    (await t.throwsAsync<NamespaceError>(net.persist(file)))?.code,
    'EEXIST',
    'a file with content is not a leftover',
  )
  t.is(t.throws<NamespaceError>(() => Namespace.unpersistSync(file))?.code, 'ERR_NS_NOT_NAMESPACE')
  // Real kills at spread-out moments: whatever each left, the next persist and unpersist work.
  const code = `const { Namespace } = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))}); const n = Namespace.createSync('uts'); process.send('go'); for (;;) { n.persistSync(process.argv[1]); Namespace.unpersistSync(process.argv[1]) }`
  const target = join(dir, 'killed')
  for (let i = 0; i < 30; i++) {
    const child = cpSpawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', code, target], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    })
    await new Promise((r) => child.once('message', r))
    await new Promise((r) => setTimeout(r, (i % 10) / 2))
    await killAndWait(child)
    if (existsSync(target)) await Namespace.unpersist(target)
    await net.persist(target)
    await Namespace.unpersist(target)
    t.false(existsSync(target))
  }
  t.deepEqual(nsfsBelow(dir), [])
  unmountBelow(dir)
})
