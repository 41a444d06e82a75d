// Compiles ts/ to CommonJS in dist/cjs and adds an ES module entry that re-exports it, so that
// `import` and `require` share one copy of the classes (instanceof NamespaceError holds in both).
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
rmSync('dist', { recursive: true, force: true })
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json'], { stdio: 'inherit' })
copyFileSync('ts/native.d.ts', 'dist/cjs/native.d.ts')
// The loader's static requires of the binaries are written relative to ts/ (so the source runs
// under tsx); dist/cjs/ is one level deeper.
const loader = readFileSync('dist/cjs/loader.js', 'utf8')
const requires = loader.match(/require\('\.\.\/binding\//g)?.length ?? 0
if (requires !== 4) throw new Error(`dist/cjs/loader.js: expected 4 requires of ../binding/, found ${requires}`)
writeFileSync('dist/cjs/loader.js', loader.replaceAll("require('../binding/", "require('../../binding/"))
// The CLI (package.json "bin"): tsc keeps the shebang of ts/cli.ts; the file must be executable.
if (!readFileSync('dist/cjs/cli.js', 'utf8').startsWith('#!/usr/bin/env node\n'))
  throw new Error('dist/cjs/cli.js lost its shebang')
chmodSync('dist/cjs/cli.js', 0o755)

// The package's entry as one file: Node reads, wraps and compiles each module it loads, and the 30
// or so that `require('nsjs')` loads one by one cost more than the rest of an import together. The
// other files stay, for the CLI (dist/cjs/cli.js) and beside their .d.ts; the static requires of
// the binaries stay requires, relative to dist/cjs/ as the loader's were.
const { build } = require('esbuild-wasm')
await build({
  entryPoints: ['dist/cjs/index.js'],
  outfile: 'dist/cjs/index.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['*.node', 'undici'],
  logLevel: 'warning',
})

const cjs = require('../dist/cjs/index.js')
const names = Object.keys(cjs).filter((k) => k !== 'default' && k !== '__esModule')
mkdirSync('dist/esm', { recursive: true })
// Through a two-line CommonJS file: Node reads the exports of a CommonJS module that ES code
// imports by lexing its source, which for the whole package in one file took longer than loading
// it; a module.exports that is a variable is nothing to lex, and index.mjs takes the names itself.
writeFileSync('dist/esm/nsjs.cjs', "const nsjs = require('../cjs/index.js')\nmodule.exports = nsjs\n")
writeFileSync(
  'dist/esm/index.mjs',
  `import cjs from './nsjs.cjs'\nexport const { ${names.join(', ')} } = cjs\nexport default cjs\n`,
)
// `import nsjs from 'nsjs'` is the CommonJS module object at run time (index.mjs above): typed so.
writeFileSync(
  'dist/esm/index.d.mts',
  `export * from '../cjs/index.js'\nimport * as nsjs from '../cjs/index.js'\nexport default nsjs\n`,
)
// The man page (package.json "man"), from the CLI's own help texts.
const { manPage } = require('../dist/cjs/cli/help.js')
mkdirSync('dist/man', { recursive: true })
writeFileSync('dist/man/nsjs.1', manPage(JSON.parse(readFileSync('package.json', 'utf8')).version))
console.log(`dist: cjs + esm (${names.length} exports), man page`)
