// Builds the native binding (crate nsjs-node, release by default) into binding/nsjs.<target>.node, through
// `napi build`, which also regenerates ts/native.d.ts as the debug build does.
//
// With zig (cargo-zigbuild + zig, e.g. `pip install ziglang cargo-zigbuild`) it runs
// `napi build -x` = cargo zigbuild, and glibc targets link against glibc 2.17's symbol versions:
// the binary loads on any glibc >= 2.17 (RHEL 7+, Debian 8+), not only on this machine's glibc.
// Without zig it falls back to a plain release build for this machine, which then needs this
// machine's glibc, and says so loudly.
//
//   node scripts/build-native.mjs [--target TRIPLE[.GLIBC]] [--require-zig] [--debug]
//
//   --target       a Rust target; gnu targets take cargo-zigbuild's glibc suffix
//                  (default: this machine; x86_64-unknown-linux-gnu.2.17 on x64 glibc)
//   --require-zig  fail instead of falling back, and fail above the glibc floor (CI, release);
//                  also NSJS_REQUIRE_ZIG=1
//   --debug        the dev profile instead of release (same zig, so the same glibc floor)
import { execFileSync, spawnSync } from 'node:child_process'
import { statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

import { compareVersions, maxGlibc } from './elf-glibc.mjs'

/** The glibc the released gnu binaries must load on (RHEL 8, Debian 10). */
export const GLIBC_FLOOR = '2.28'
/** What zig links gnu targets against: glibc 2.17 (RHEL 7, the manylinux2014 floor). */
export const ZIG_GLIBC = '2.17'

const ARCH = { x86_64: 'x64', aarch64: 'arm64' }

/** `x86_64-unknown-linux-gnu.2.17` -> { triple, glibc: '2.17', libc: 'gnu', napi: 'linux-x64-gnu' } */
export function parseTarget(spec) {
  const dot = spec.indexOf('.')
  const triple = dot < 0 ? spec : spec.slice(0, dot)
  const glibc = dot < 0 ? undefined : spec.slice(dot + 1)
  const m = /^(x86_64|aarch64)-unknown-linux-(gnu|musl)$/.exec(triple)
  if (!m) throw new Error(`unsupported target ${spec}: nsjs builds x86_64/aarch64-unknown-linux-gnu/musl`)
  if (glibc && m[2] !== 'gnu') throw new Error(`${spec}: a glibc version only applies to gnu targets`)
  return { spec, triple, glibc, libc: m[2], napi: `linux-${ARCH[m[1]]}-${m[2]}` }
}

function hostTriple() {
  const arch = { x64: 'x86_64', arm64: 'aarch64' }[process.arch]
  if (process.platform !== 'linux' || !arch)
    throw new Error(`nsjs builds on Linux x64/arm64, not ${process.platform} ${process.arch}`)
  const glibc = process.report.getReport().header.glibcVersionRuntime
  return glibc ? `${arch}-unknown-linux-gnu` : `${arch}-unknown-linux-musl`
}

function run(cmd, args, opts = {}) {
  console.log(`build-native: $ ${[cmd, ...args].join(' ')}`)
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`build-native: ${args[1] ?? cmd} exited with ${r.status ?? r.signal}`)
}

function output(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return undefined
  }
}

/**
 * cargo-zigbuild and the zig it will use, in cargo-zigbuild's own order: CARGO_ZIGBUILD_ZIG_PATH,
 * zig on PATH, then the ziglang Python package (`python3 -m ziglang`).
 */
export function findZig() {
  const zigbuild = output('cargo-zigbuild', ['--version'])
  if (!zigbuild) return undefined
  const candidates = [
    [process.env.CARGO_ZIGBUILD_ZIG_PATH, []],
    ['zig', []],
    [process.env.CARGO_ZIGBUILD_PYTHON_PATH, ['-m', 'ziglang']],
    ['python3', ['-m', 'ziglang']],
  ]
  for (const [cmd, pre] of candidates) {
    const v = cmd && output(cmd, [...pre, 'version'])
    if (v) return { zigbuild, zig: `${[cmd, ...pre].join(' ')} ${v}` }
  }
  return undefined
}

function main() {
  const { values } = parseArgs({
    options: {
      target: { type: 'string' },
      'require-zig': { type: 'boolean', default: false },
      debug: { type: 'boolean', default: false },
    },
  })
  const requireZig = values['require-zig'] || process.env.NSJS_REQUIRE_ZIG === '1'
  const host = hostTriple()
  const target = parseTarget(values.target ?? (host.endsWith('-gnu') ? `${host}.${ZIG_GLIBC}` : host))
  const root = join(dirname(fileURLToPath(import.meta.url)), '..')
  const cliPkg = createRequire(import.meta.url).resolve('@napi-rs/cli/package.json')
  const napi = join(dirname(cliPkg), 'dist', 'cli.js')
  // napi build copies target/<triple>/release/libnsjs_node.so to binding/nsjs.<target>.node, and
  // adds -C target-feature=-crt-static for musl (a Node addon must be a dynamic library).
  const profile = values.debug ? 'debug' : 'release'
  const args = [
    napi,
    'build',
    '--manifest-path',
    'crates/node/Cargo.toml',
    '--platform',
    ...(values.debug ? [] : ['--release']),
    '--output-dir',
    'binding',
    '--no-js',
    '--dts',
    '../ts/native.d.ts',
  ]

  let how
  const zig = findZig()
  if (zig) {
    run(process.execPath, [...args, '--cross-compile', '--target', target.spec], { cwd: root })
    how = `napi build -x = cargo zigbuild (${zig.zigbuild}, zig: ${zig.zig}), --target ${target.spec}`
  } else if (requireZig) {
    throw new Error(
      'build-native: zig is required (--require-zig) but cargo-zigbuild or zig was not found; pip install ziglang cargo-zigbuild',
    )
  } else {
    if (target.triple !== host) {
      throw new Error(`build-native: building ${target.triple} on ${host} needs zig (cargo-zigbuild)`)
    }
    console.warn(
      'build-native: WARNING: cargo-zigbuild/zig not found, building with plain cargo for this machine.\n' +
        `build-native: the binary will need this machine's glibc (${process.report.getReport().header.glibcVersionRuntime ?? 'musl'}), ` +
        `not glibc ${ZIG_GLIBC}; do not release it. Install zig: pip install ziglang cargo-zigbuild`,
    )
    run(process.execPath, [...args, '--target', target.triple], { cwd: root })
    how = `napi build with plain cargo for ${host} (NO zig)`
  }

  const built = join(root, 'target', target.triple, profile, 'libnsjs_node.so')
  const dest = join(root, 'binding', `nsjs.${target.napi}.node`)
  const glibc = maxGlibc(dest)
  const kib = Math.round(statSync(dest).size / 1024)
  console.log(`build-native: ${relative(root, dest)} (${kib} KiB, ${profile}) from ${relative(root, built)}`)
  console.log(`build-native: built by ${how}`)
  if (target.libc === 'gnu') {
    const ok = glibc === undefined || compareVersions(glibc, GLIBC_FLOOR) <= 0
    console.log(
      `build-native: needs GLIBC_${glibc ?? '(none)'}; the release floor is GLIBC_${GLIBC_FLOOR}: ${ok ? 'ok' : 'TOO NEW'}`,
    )
    if (!ok && requireZig)
      throw new Error(`build-native: ${relative(root, dest)} needs GLIBC_${glibc} > ${GLIBC_FLOOR}`)
  } else if (glibc) {
    throw new Error(`build-native: the musl binary requires GLIBC_${glibc}: it was linked against glibc`)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main()
  } catch (e) {
    console.error(e instanceof Error ? e.message : e)
    process.exit(1)
  }
}
