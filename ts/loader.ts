import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

import { lazyOs } from './builtins'
import type * as Native from './native'

export type Binding = typeof Native

/** The targets the release workflow builds; the package carries the ones that were built. */
export const KNOWN_TARGETS = ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'linux-arm64-musl'] as const

export type Libc = 'gnu' | 'musl'

/**
 * Which C library this process runs on: the loaded libc itself, read from /proc/self/maps, so
 * musl systems that are not Alpine (Void, Chimera, distroless) are recognised too. Falls back to
 * the process report, which names a glibc version only on glibc.
 *
 * What the maps show (the kernel prints the resolved file, not the symlink that was opened):
 * - glibc: `/usr/lib/x86_64-linux-gnu/libc.so.6`, or `libc-2.28.so` before glibc 2.34.
 * - Alpine: `/lib/ld-musl-x86_64.so.1` (the real file; `libc.musl-x86_64.so.1` links to it).
 * - Void, Chimera, Gentoo musl: `/usr/lib/libc.so`, which `/lib/ld-musl-*.so.1` links to. A
 *   mapped file named exactly `libc.so` is musl: glibc's `libc.so` is a linker script, never mapped.
 */
export function detectLibc(maps?: string): Libc {
  try {
    const text = maps ?? readFileSync('/proc/self/maps', 'latin1')
    // The pathname is the last field of each line; match whole file names only.
    const files = new Set(
      text.split('\n').map((line) => /\s(\/\S*)(?: \(deleted\))?\s*$/.exec(line)?.[1]?.replace(/.*\//, '')),
    )
    for (const f of files) {
      if (f && (/^ld-musl-.+\.so\.\d+$/.test(f) || /^libc\.musl-.+\.so\.\d+$/.test(f) || f === 'libc.so')) return 'musl'
    }
    for (const f of files) {
      if (f && (/^libc\.so\.6$/.test(f) || /^libc-2\.\d+\.so$/.test(f))) return 'gnu'
    }
  } catch {
    // /proc not mounted: fall through.
  }
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return header?.glibcVersionRuntime ? 'gnu' : 'musl'
}

/** Where musl's ABI puts its dynamic loader, the PT_INTERP of every dynamically linked musl program. */
const MUSL_LOADERS: Partial<Record<string, string>> = {
  x64: '/lib/ld-musl-x86_64.so.1',
  arm64: '/lib/ld-musl-aarch64.so.1',
}

/**
 * {@link detectLibc} without its read of /proc/self/maps (about 1 ms of an import, with the hundred
 * or so mappings of a Node process) where the answer is certain anyway: without musl's loader at
 * its fixed path, this process is not a dynamically linked musl one (Alpine, Void, Chimera and
 * distroless musl images all have it; the maps decide wherever it is). Only a musl whose loader
 * lives elsewhere (a Nix store) gets 'gnu' here; {@link binding} asks the maps once that binary
 * fails to load.
 */
export function hostLibc(arch: string = process.arch, exists: (path: string) => boolean = existsSync): Libc {
  const loader = MUSL_LOADERS[arch]
  return loader !== undefined && !exists(loader) ? 'gnu' : detectLibc()
}

function bindingDir(): string {
  // An ES module bundle has no __dirname: its binary was found by the static require or not at all.
  if (typeof __dirname === 'undefined') return join(process.cwd(), 'binding')
  // ts/ (run from source) and dist/cjs/ (built) both find the package's binding/ folder.
  for (const dir of [join(__dirname, '..', 'binding'), join(__dirname, '..', '..', 'binding')]) {
    if (existsSync(dir)) return dir
  }
  return join(__dirname, '..', '..', 'binding')
}

/** The targets whose binaries are in the package. */
export function availableTargets(dir = bindingDir()): string[] {
  try {
    return readdirSync(dir)
      .map((f) => /^nsjs\.(.+)\.node$/.exec(f)?.[1])
      .filter((t): t is string => t !== undefined)
      .sort()
  } catch {
    return []
  }
}

/**
 * Picks the binary for a platform, or explains why there is none, naming the directory searched
 * (`dir`) when given.
 */
export function selectTarget(platform: string, arch: string, libc: Libc, available: string[], dir?: string): string {
  const want = `${platform}-${arch}-${libc}`
  if (available.includes(want)) return want
  const err = new Error(
    `nsjs has no native binary for ${want} (platform ${platform}, arch ${arch}, libc ${libc}). ` +
      (platform !== 'linux' ? 'Namespaces are a Linux kernel feature; nsjs works on Linux only. ' : '') +
      `This package contains: ${available.length ? available.join(', ') : 'no binaries'}` +
      (dir ? ` (in ${dir}; NSJS_NATIVE_PATH names a binary elsewhere)` : '') +
      '; ' +
      `nsjs is released for ${KNOWN_TARGETS.join(', ')}.`,
  ) as Error & { code: string }
  err.code = 'ERR_NS_UNSUPPORTED_PLATFORM'
  throw err
}

/**
 * The bundled binary of `target`, through a `require` of a literal path per target: bundlers
 * (esbuild with `--loader:.node=copy`, webpack's node-loader, Rollup's plugins) see these
 * requires, copy the binary next to the bundle and rewrite the path, as they do for napi-rs's
 * packages. The paths are relative to ts/; the build rewrites them for dist/cjs/. Undefined when
 * the package has no binary for `target` (the requires are inside `try`, where a bundler leaves
 * one it cannot resolve); a binary that is there and fails to load (ERR_DLOPEN_FAILED: another
 * libc, a damaged file) throws.
 */
function requireTarget(target: string): Binding | undefined {
  try {
    switch (target) {
      case 'linux-x64-gnu':
        return require('../binding/nsjs.linux-x64-gnu.node')
      case 'linux-x64-musl':
        return require('../binding/nsjs.linux-x64-musl.node')
      case 'linux-arm64-gnu':
        return require('../binding/nsjs.linux-arm64-gnu.node')
      case 'linux-arm64-musl':
        return require('../binding/nsjs.linux-arm64-musl.node')
      default:
        return undefined
    }
  } catch (e) {
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND') return undefined
    throw e
  }
}

/**
 * Loads the binary named by NSJS_NATIVE_PATH: a path resolved against the working directory (not
 * against this file or a bundle), loaded with `process.dlopen`, so no bundler rewrites it and no
 * `require` resolution applies.
 */
export function loadOverride(path: string): Binding {
  const module = { exports: {} as Binding }
  process.dlopen(module, resolve(path))
  return module.exports
}

/** What node:sea offers (Node 20.12 and later); undefined outside a single executable. */
function seaAssets(): { getAsset(name: string): ArrayBuffer } | undefined {
  try {
    const sea = require('node:sea') as { isSea(): boolean; getAsset(name: string): ArrayBuffer }
    return sea.isSea() ? sea : undefined
  } catch {
    return undefined
  }
}

/**
 * In a single executable application (Node's SEA), whose `require` loads built-in modules only:
 * the binary stored as the asset `nsjs.<target>.node` (sea-config.json's `assets`), written to a
 * private temporary directory, loaded with `process.dlopen`, and removed again (the mapping
 * stays). Without that asset, an error saying how to add it.
 */
export function loadFromSea(sea: { getAsset(name: string): ArrayBuffer }, target: string): Binding {
  const name = `nsjs.${target}.node`
  let bytes: ArrayBuffer
  try {
    bytes = sea.getAsset(name)
  } catch {
    const err = new Error(
      `nsjs runs in a single executable application without its native binary: add it to ` +
        `sea-config.json as { "assets": { "${name}": "node_modules/nsjs/binding/${name}" } }, ` +
        'or set NSJS_NATIVE_PATH to a copy of it',
    ) as Error & { code: string }
    err.code = 'ERR_NS_UNSUPPORTED_PLATFORM'
    throw err
  }
  const dir = mkdtempSync(join(lazyOs().tmpdir(), 'nsjs-sea-'))
  try {
    const file = join(dir, name)
    writeFileSync(file, new Uint8Array(bytes), { mode: 0o500 })
    return loadOverride(file)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

let cached: Binding | undefined

/** The native binding, loaded on first use so that importing nsjs never throws by itself. */
export function binding(): Binding {
  if (cached) return cached
  const override = process.env.NSJS_NATIVE_PATH
  if (override) {
    cached = loadOverride(override)
    return cached
  }
  let libc = process.platform === 'linux' ? hostLibc() : 'gnu'
  const sea = seaAssets()
  if (sea) {
    cached = loadFromSea(sea, `${process.platform}-${process.arch}-${libc}`)
    return cached
  }
  try {
    cached = requireTarget(`${process.platform}-${process.arch}-${libc}`)
  } catch (e) {
    // The glibc binary on a musl that hostLibc could not see: the maps say so.
    if (libc !== 'gnu' || process.platform !== 'linux' || detectLibc() !== 'musl') throw e
    libc = 'musl'
    cached = requireTarget(`${process.platform}-${process.arch}-${libc}`)
  }
  if (cached) return cached
  // No binary for this machine: the error names what the package's folder has.
  const dir = bindingDir()
  selectTarget(process.platform, process.arch, libc, availableTargets(dir), dir)
  // selectTarget found one that the static require did not: a binary added by hand.
  cached = require(join(dir, `nsjs.${process.platform}-${process.arch}-${libc}.node`)) as Binding
  return cached
}
