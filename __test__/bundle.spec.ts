// Bundlers: an app that uses nsjs, bundled by esbuild (esbuild-wasm, which needs no install
// script) as CommonJS and as an ES module with `--loader:.node=copy`, runs from another directory
// on the binary esbuild copied next to the bundle; NSJS_NATIVE_PATH is resolved against the cwd;
// a bundle without its binary names the folder it searched; a single executable application
// (Node's SEA, made with postject) loads the binary from its assets.
import { spawnSync } from 'node:child_process'
import { chmodSync, cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { ROOT, tempDir } from './helpers'

// The app prints which nsjs binary the process mapped, and what a spawn in a new uts namespace saw.
const APP = `
  const ns = Namespace.current('net')
  exec('hostname', [], { unshare: ['uts'], hostname: 'bundled' }).then((r) => {
    const maps = readFileSync('/proc/self/maps', 'utf8')
    const binary = [...new Set(maps.split('\\n').map((l) => /\\s(\\/\\S+\\.node)$/.exec(l)?.[1]).filter(Boolean))]
    console.log(JSON.stringify({ net: ns.id, hostname: r.stdout.trim(), binary }))
  })
`
const SOURCES = {
  cjs: `const { readFileSync } = require('node:fs')\nconst { Namespace, exec } = require('nsjs')\n${APP}`,
  esm: `import { readFileSync } from 'node:fs'\nimport nsjs from 'nsjs'\nconst { Namespace, exec } = nsjs\n${APP}`,
}
// What an ES module bundle needs for the CommonJS inside it (nsjs, and node: builtins required
// from it), as esbuild documents: a `require` of its own.
const ESM_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"

async function bundle(t: ExecutionContext, format: 'cjs' | 'esm'): Promise<string> {
  const esbuild = await import('esbuild-wasm')
  const src = tempDir(t, 'nsjs-bundle-src-')
  mkdirSync(join(src, 'node_modules'))
  symlinkSync(ROOT, join(src, 'node_modules', 'nsjs'))
  const entry = join(src, `app.${format === 'esm' ? 'mjs' : 'cjs'}`)
  writeFileSync(entry, SOURCES[format])
  const built = join(src, 'out')
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format,
    outdir: built,
    outExtension: { '.js': format === 'esm' ? '.mjs' : '.cjs' },
    loader: { '.node': 'copy' },
    banner: format === 'esm' ? { js: ESM_BANNER } : undefined,
    logLevel: 'silent',
  })
  // Deployed elsewhere: the bundle and what esbuild put beside it, nothing of the source tree.
  const app = tempDir(t, 'nsjs-bundle-app-')
  cpSync(built, app, { recursive: true })
  rmSync(src, { recursive: true, force: true })
  return app
}

function runApp(app: string, format: 'cjs' | 'esm', cwd: string, env: NodeJS.ProcessEnv = {}) {
  const file = join(app, `app.${format === 'esm' ? 'mjs' : 'cjs'}`)
  const clean = { ...process.env, ...env }
  if (!('NSJS_NATIVE_PATH' in env)) delete clean.NSJS_NATIVE_PATH
  return spawnSync(process.execPath, [file], { cwd, env: clean, encoding: 'utf8' })
}

for (const format of ['cjs', 'esm'] as const) {
  test(`an esbuild ${format} bundle runs from another directory on the binary it copied`, async (t) => {
    const app = await bundle(t, format)
    const copied = readdirSync(app).filter((f) => f.endsWith('.node'))
    t.is(copied.length, 1, `one binary beside the bundle: ${readdirSync(app)}`)
    const r = runApp(app, format, tempDir(t, 'nsjs-bundle-cwd-'))
    t.is(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    t.is(out.hostname, 'bundled')
    t.regex(out.net, /^net:\[\d+\]$/)
    t.deepEqual(out.binary, [join(app, copied[0])])
  })
}

test('NSJS_NATIVE_PATH is resolved against the cwd and loaded as it is', async (t) => {
  const app = await bundle(t, 'cjs')
  const elsewhere = tempDir(t, 'nsjs-bundle-native-')
  const binary = readdirSync(app).find((f) => f.endsWith('.node')) as string
  cpSync(join(app, binary), join(elsewhere, 'mine.node'))
  rmSync(join(app, binary))
  // A relative path: to the cwd it names the copy; to the bundle's folder it names nothing.
  const r = runApp(app, 'cjs', elsewhere, { NSJS_NATIVE_PATH: 'mine.node' })
  t.is(r.status, 0, r.stderr)
  t.deepEqual(JSON.parse(r.stdout).binary, [join(elsewhere, 'mine.node')])
  const missing = runApp(app, 'cjs', elsewhere, { NSJS_NATIVE_PATH: 'missing.node' })
  t.not(missing.status, 0)
  t.regex(missing.stderr, /missing\.node/)
})

test('a bundle without its binary names the folder it searched and the override', async (t) => {
  const app = await bundle(t, 'cjs')
  for (const f of readdirSync(app)) if (f.endsWith('.node')) rmSync(join(app, f))
  const r = runApp(app, 'cjs', tempDir(t, 'nsjs-bundle-cwd-'))
  t.not(r.status, 0)
  t.regex(r.stderr, /ERR_NS_UNSUPPORTED_PLATFORM/)
  // Searched where the package keeps it relative to the code: beside the bundle's parent folders.
  t.true(r.stderr.includes(`(in ${join(app, '..', '..', 'binding')};`), r.stderr)
  t.regex(r.stderr, /NSJS_NATIVE_PATH/)
  // The error is nsjs's own, not a bundler's "Dynamic require" or a ReferenceError.
  t.notRegex(r.stderr, /Dynamic require|ReferenceError/)
})

/** The SEA fuse Node's executables carry (the string postject flips). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/** The cjs bundle made into a single executable, with `assets`; its path. */
async function singleExecutable(t: ExecutionContext, assets: (app: string) => Record<string, string>): Promise<string> {
  const app = await bundle(t, 'cjs')
  const dir = tempDir(t, 'nsjs-sea-build-')
  const config = join(dir, 'sea-config.json')
  const blob = join(dir, 'app.blob')
  const main = join(app, 'app.cjs')
  writeFileSync(
    config,
    JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, assets: assets(app) }),
  )
  const made = spawnSync(process.execPath, ['--experimental-sea-config', config], { encoding: 'utf8' })
  t.is(made.status, 0, made.stderr)
  const exe = join(dir, 'app')
  cpSync(process.execPath, exe)
  chmodSync(exe, 0o755)
  const postject = require.resolve('postject/dist/cli.js')
  const injected = spawnSync(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    encoding: 'utf8',
  })
  t.is(injected.status, 0, injected.stderr)
  return exe
}

const seaTemps = () => new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('nsjs-sea-')))

test('a single executable application loads nsjs from its assets', async (t) => {
  const exe = await singleExecutable(t, (app) => {
    const binary = readdirSync(app).find((f) => f.endsWith('.node')) as string
    return { [`nsjs.${process.platform}-${process.arch}-gnu.node`]: join(app, binary) }
  })
  const cwd = tempDir(t, 'nsjs-sea-cwd-')
  const before = seaTemps()
  const env = { ...process.env }
  delete env.NSJS_NATIVE_PATH
  const r = spawnSync(exe, [], { cwd, env, encoding: 'utf8' })
  t.is(r.status, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  t.is(out.hostname, 'bundled')
  t.regex(out.net, /^net:\[\d+\]$/)
  // The copy it loaded is removed once mapped: nothing is left in the temporary directory.
  t.deepEqual(
    [...seaTemps()].filter((f) => !before.has(f)),
    [],
  )
})

test('a single executable application without the asset says how to add it', async (t) => {
  const exe = await singleExecutable(t, () => ({}))
  const env = { ...process.env }
  delete env.NSJS_NATIVE_PATH
  const r = spawnSync(exe, [], { cwd: tempDir(t, 'nsjs-sea-cwd-'), env, encoding: 'utf8' })
  t.not(r.status, 0)
  t.regex(r.stderr, /ERR_NS_UNSUPPORTED_PLATFORM/)
  t.true(r.stderr.includes(`"nsjs.${process.platform}-${process.arch}-gnu.node"`), r.stderr)
  t.regex(r.stderr, /NSJS_NATIVE_PATH/)
})
