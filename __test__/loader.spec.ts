// ts/loader.ts: which libc a process runs on (from /proc/self/maps, unless musl's loader is
// absent), which bundled binary fits,
// and the error for a platform without one.
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test from 'ava'

import { availableTargets, detectLibc, hostLibc, KNOWN_TARGETS, selectTarget } from '../ts/loader'
import { ROOT } from './helpers'

const line = (addr: string, perms: string, path: string) =>
  `${addr} ${perms} 00000000 fe:00 326269                     ${path}`

const NODE = [
  line('55d0c4a00000-55d0c4e00000', 'r--p', '/usr/bin/node'),
  line('7ffd1a2b3000-7ffd1a2d4000', 'rw-p', '[stack]'),
  line('7ffd1a3f0000-7ffd1a3f4000', 'r--p', '[vvar]'),
  '7fcc6a000000-7fcc6a021000 rw-p 00000000 00:00 0 ',
]

const MAPS = {
  // Debian 12 / glibc 2.36 (libc.so.6 is the real file since glibc 2.34).
  debian: [
    ...NODE,
    line('7fcc6a6de000-7fcc6a704000', 'r--p', '/usr/lib/x86_64-linux-gnu/libc.so.6'),
    line('7fcc6a704000-7fcc6a85a000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6'),
    line('7fcc6a96d000-7fcc6a96e000', 'r--p', '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
  ],
  // RHEL 8 / glibc 2.28: libc.so.6 is a symlink, the maps show the versioned file.
  rhel8: [
    ...NODE,
    line('7f3a10000000-7f3a101bc000', 'r-xp', '/usr/lib64/libc-2.28.so'),
    line('7f3a10400000-7f3a10429000', 'r-xp', '/usr/lib64/ld-2.28.so'),
  ],
  // Alpine: the loader is the libc; libc.musl-x86_64.so.1 links to it.
  alpine: [
    ...NODE,
    line('7f5b7c000000-7f5b7c014000', 'r--p', '/lib/ld-musl-x86_64.so.1'),
    line('7f5b7c014000-7f5b7c05b000', 'r-xp', '/lib/ld-musl-x86_64.so.1'),
    line('7f5b7c100000-7f5b7c1a0000', 'r-xp', '/usr/lib/libstdc++.so.6.0.32'),
  ],
  // Void (and Chimera): /lib/ld-musl-x86_64.so.1 is a symlink to /usr/lib/libc.so, and the kernel
  // prints the resolved file, so "ld-musl" never appears.
  void: [
    ...NODE,
    line('7f2e4c000000-7f2e4c014000', 'r--p', '/usr/lib/libc.so'),
    line('7f2e4c014000-7f2e4c05b000', 'r-xp', '/usr/lib/libc.so'),
    line('7f2e4c100000-7f2e4c1a0000', 'r-xp', '/usr/lib/libstdc++.so.6.0.33'),
  ],
  // arm64 Alpine and arm64 glibc.
  alpineArm64: [...NODE, line('ffff8a000000-ffff8a0a0000', 'r-xp', '/lib/ld-musl-aarch64.so.1')],
  ubuntuArm64: [...NODE, line('ffff8a000000-ffff8a1a0000', 'r-xp', '/usr/lib/aarch64-linux-gnu/libc.so.6')],
  // glibc with a musl-sounding directory and a leftover file: file names decide, not substrings.
  glibcDecoys: [
    ...NODE,
    line('7fcc6a600000-7fcc6a640000', 'r-xp', '/opt/musl-tools/lib/libz.so.1'),
    line('7fcc6a640000-7fcc6a680000', 'r--p', '/opt/ld-musl-x86_64.so.1.d/notes.bin'),
    line('7fcc6a6de000-7fcc6a704000', 'r--p', '/usr/lib/x86_64-linux-gnu/libc.so.6'),
  ],
  // A replaced libc (package upgrade while running) is still the libc of this process.
  deleted: [...NODE, line('7fcc6a6de000-7fcc6a704000', 'r-xp', '/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)')],
  // A statically linked node maps no libc at all.
  none: NODE,
}
const text = (lines: string[]) => `${lines.join('\n')}\n`

const reportLibc = () =>
  (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime
    ? 'gnu'
    : 'musl'

test('detectLibc: glibc on Debian (libc.so.6) and RHEL 8 (libc-2.28.so)', (t) => {
  t.is(detectLibc(text(MAPS.debian)), 'gnu')
  t.is(detectLibc(text(MAPS.rhel8)), 'gnu')
  t.is(detectLibc(text(MAPS.ubuntuArm64)), 'gnu')
  t.is(detectLibc(text(MAPS.deleted)), 'gnu')
})

test('detectLibc: musl on Alpine (/lib/ld-musl-*.so.1), x64 and arm64', (t) => {
  t.is(detectLibc(text(MAPS.alpine)), 'musl')
  t.is(detectLibc(text(MAPS.alpineArm64)), 'musl')
})

test('detectLibc: musl on Void/Chimera, where the loader resolves to /usr/lib/libc.so', (t) => {
  t.is(detectLibc(text(MAPS.void)), 'musl')
})

test('detectLibc: directory names and other files that mention musl do not count', (t) => {
  t.is(detectLibc(text(MAPS.glibcDecoys)), 'gnu')
})

test('detectLibc: no libc in the maps falls back to the process report', (t) => {
  t.is(detectLibc(text(MAPS.none)), reportLibc())
  t.is(detectLibc(''), reportLibc())
})

test('detectLibc() on this machine agrees with the process report', (t) => {
  t.is(detectLibc(), reportLibc())
})

test('hostLibc: no musl loader at its fixed path means glibc, nothing else read', (t) => {
  const asked: string[] = []
  const absent = (path: string) => {
    asked.push(path)
    return false
  }
  t.is(hostLibc('x64', absent), 'gnu')
  t.is(hostLibc('arm64', absent), 'gnu')
  t.deepEqual(asked, ['/lib/ld-musl-x86_64.so.1', '/lib/ld-musl-aarch64.so.1'])
})

test("hostLibc: with musl's loader, or for another arch, the maps decide", (t) => {
  // Debian with the musl package installed has the loader too: this process is still glibc.
  t.is(
    hostLibc('x64', () => true),
    detectLibc(),
  )
  t.is(
    hostLibc('riscv64', () => t.fail('no fixed path is known for riscv64') as never),
    detectLibc(),
  )
  t.is(hostLibc(), reportLibc())
})

test('selectTarget picks the binary for platform, arch and libc', (t) => {
  const all = [...KNOWN_TARGETS]
  t.is(selectTarget('linux', 'x64', 'gnu', all), 'linux-x64-gnu')
  t.is(selectTarget('linux', 'x64', 'musl', all), 'linux-x64-musl')
  t.is(selectTarget('linux', 'arm64', 'gnu', all), 'linux-arm64-gnu')
  t.is(selectTarget('linux', 'arm64', 'musl', all), 'linux-arm64-musl')
  // Never a gnu binary for a musl process (it would fail to load with a confusing message).
  t.is(selectTarget('linux', 'x64', 'musl', ['linux-x64-gnu', 'linux-x64-musl']), 'linux-x64-musl')
})

function unsupported(t: import('ava').ExecutionContext, fn: () => unknown): string {
  const err = t.throws(fn) as Error & { code?: string }
  t.is(err.code, 'ERR_NS_UNSUPPORTED_PLATFORM')
  return err.message
}

test('selectTarget on macOS names the platform and the contained and known targets', (t) => {
  const msg = unsupported(t, () => selectTarget('darwin', 'arm64', 'gnu', ['linux-x64-gnu']))
  for (const word of ['darwin', 'arm64', 'libc gnu', 'Linux only', 'contains: linux-x64-gnu', ...KNOWN_TARGETS]) {
    t.true(msg.includes(word), `"${word}" in: ${msg}`)
  }
})

test('selectTarget on linux arm64 musl without that binary names what the package has', (t) => {
  const msg = unsupported(t, () => selectTarget('linux', 'arm64', 'musl', ['linux-x64-gnu', 'linux-x64-musl']))
  for (const word of [
    'linux-arm64-musl',
    'platform linux',
    'arch arm64',
    'libc musl',
    'linux-x64-gnu, linux-x64-musl',
  ]) {
    t.true(msg.includes(word), `"${word}" in: ${msg}`)
  }
  t.false(msg.includes('Linux only'), msg)
  t.false(/npm/i.test(msg), `no "npm bug" message: ${msg}`)
})

test('selectTarget with no binaries at all says so', (t) => {
  const msg = unsupported(t, () => selectTarget('linux', 'x64', 'gnu', []))
  t.true(msg.includes('no binaries'), msg)
})

test('availableTargets lists nsjs.<target>.node files only, sorted', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsjs-loader-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const f of ['nsjs.linux-x64-musl.node', 'nsjs.linux-arm64-gnu.node', 'nsjs.node', 'other.node', 'README']) {
    writeFileSync(join(dir, f), '')
  }
  t.deepEqual(availableTargets(dir), ['linux-arm64-gnu', 'linux-x64-musl'])
  t.deepEqual(availableTargets(join(dir, 'missing')), [])
})

test('this machine selects a bundled binary that matches it', (t) => {
  const libc = detectLibc()
  t.is(
    selectTarget(process.platform, process.arch, libc, availableTargets()),
    `${process.platform}-${process.arch}-${libc}`,
  )
})

test('the package with an empty binding/ loads, then fails on first use', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nsjs-loader-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
  mkdirSync(join(dir, 'binding'))
  const script = `
    const { Namespace } = require(${JSON.stringify(dir)})
    try { Namespace.current('net'); console.log('loaded') }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }`
  const env = { ...process.env }
  delete env.NSJS_NATIVE_PATH
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env }))
  t.is(out.code, 'ERR_NS_UNSUPPORTED_PLATFORM')
  t.true(out.message.includes(`${process.platform}-${process.arch}-${detectLibc()}`), out.message)
  t.true(out.message.includes('no binaries'), out.message)
})
