// Bundlers: an app that uses nsjs, bundled by esbuild (esbuild-wasm, which needs no install
// script) as CommonJS and as an ES module with `--loader:.node=copy`, runs from another directory
// on the binary esbuild copied next to the bundle; NSJS_NATIVE_PATH is resolved against the cwd;
// a bundle without its binary names the folder it searched.
import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
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
