// Compiles ts/ to CommonJS in dist/cjs and adds an ES module entry that re-exports it, so that
// `import` and `require` share one copy of the classes (instanceof NamespaceError holds in both).
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { relative, resolve } from 'node:path'

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
//
// Spawning and sockets, which load on first use (ts/lazy.ts), are files of their own beside it,
// nsjs-spawn.js and nsjs-net.js, so that an import does not even compile them. The modules they
// share with the entry (errors, namespace, loader, ...) must be the entry's very instances (one
// NamespaceError class, one table of handles): the entry lists them under a symbol, and in the
// two lazy files each of those imports reads that list instead of carrying a copy.
const { build } = require('esbuild-wasm')
const SHARED = Symbol.for('nsjs.shared').description
const lazyFiles = { 'dist/cjs/spawn/index.js': 'nsjs-spawn.js', 'dist/cjs/net/index.js': 'nsjs-net.js' }
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['*.node', 'undici'],
  logLevel: 'warning',
  metafile: true,
}
const abs = (p) => resolve(p)
const lazyEntries = new Map(Object.entries(lazyFiles).map(([from, file]) => [abs(from), file]))

// A require of a lazy part (ts/spawn/public.ts, ts/net/public.ts) stays a require, of its file.
const lazyExternal = {
  name: 'nsjs-lazy-parts',
  setup(b) {
    b.onResolve({ filter: /^\.\/index$/ }, async (args) => {
      if (args.pluginData === 'inner') return undefined
      const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'inner' })
      const file = lazyEntries.get(r.path)
      return file ? { path: `./${file}`, external: true } : r
    })
  },
}
const entryOnly = { entryPoints: ['dist/cjs/index.js'], write: false, plugins: [lazyExternal] }
const coreInputs = new Set(Object.keys((await build({ ...common, ...entryOnly })).metafile.inputs).map(abs))

// In a lazy part, a module of the entry is the entry's: read from its list by path.
const fromEntry = {
  name: 'nsjs-shared-modules',
  setup(b) {
    b.onResolve({ filter: /^\./ }, async (args) => {
      if (args.pluginData === 'inner' || args.namespace === 'nsjs-shared') return undefined
      const r = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'inner' })
      return coreInputs.has(r.path) ? { path: relative('dist/cjs', r.path), namespace: 'nsjs-shared' } : r
    })
    b.onResolve({ filter: /^\.\/index\.js$/, namespace: 'nsjs-shared' }, () => ({ path: './index.js', external: true }))
    b.onLoad({ filter: /.*/, namespace: 'nsjs-shared' }, (args) => ({
      contents: `module.exports = require('./index.js')[Symbol.for(${JSON.stringify(SHARED)})][${JSON.stringify(args.path)}]\n`,
      loader: 'js',
    }))
  },
}
const shared = new Set()
const lazyInputs = new Map()
for (const [from, file] of Object.entries(lazyFiles)) {
  const r = await build({ ...common, entryPoints: [from], outfile: `dist/cjs/${file}`, plugins: [fromEntry] })
  lazyInputs.set(
    file,
    Object.keys(r.metafile.inputs).filter((p) => !p.startsWith('nsjs-shared:')),
  )
  for (const p of Object.keys(r.metafile.inputs)) if (p.startsWith('nsjs-shared:')) shared.add(p.slice(12))
}
// A module in both lazy parts but not in the entry would exist twice: move it to the entry.
const [spawnInputs, netInputs] = lazyInputs.values()
const twice = spawnInputs.filter((p) => netInputs.includes(p))
if (twice.length) throw new Error(`in both nsjs-spawn.js and nsjs-net.js, not in the entry: ${twice.join(', ')}`)

// The entry: index.js, and the list of its modules that the lazy parts use (getters: a module is
// run when first required, as in the entry itself).
const list = [...shared]
  .sort()
  .map((p) => `  get ${JSON.stringify(p)}() { return require(${JSON.stringify(`./${p}`)}) },`)
  .join('\n')
await build({
  ...common,
  stdin: {
    contents:
      "module.exports = require('./index.js')\n" +
      `Object.defineProperty(module.exports, Symbol.for(${JSON.stringify(SHARED)}), { value: {\n${list}\n} })\n`,
    resolveDir: 'dist/cjs',
    sourcefile: 'dist/cjs/entry.js',
  },
  outfile: 'dist/cjs/index.js',
  allowOverwrite: true,
  plugins: [lazyExternal],
})

// esbuild turns a class that refers to itself (Namespace) into `var X = class _X`, and its name,
// and so every stack trace through it, becomes `_Namespace.open`. A class expression's own name
// is bound inside its body just as `_X` is, so naming it X again changes nothing, unless code in
// the body declares another X, which is checked (esbuild's keepNames would do it too, at about
// 1 ms of every import for its __name calls).
for (const file of ['dist/cjs/index.js', ...Object.values(lazyFiles).map((f) => `dist/cjs/${f}`)]) {
  let text = readFileSync(file, 'utf8')
  for (const [, name] of text.matchAll(/\bvar (\w+) = class _\1\b/g)) {
    const declarations = text.match(new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b`, 'g'))
    if (declarations?.length !== 1) throw new Error(`${file}: ${name} is declared more than once`)
    text = text.replaceAll(new RegExp(`\\b_${name}\\b`, 'g'), name)
  }
  writeFileSync(file, text)
}

const cjs = require('../dist/cjs/index.js')
const names = Object.keys(cjs).filter((k) => k !== 'default' && k !== '__esModule')
mkdirSync('dist/esm', { recursive: true })
// Under Node, index.mjs requires the CommonJS package itself (createRequire): imported as CommonJS,
// it would cost Node's CommonJS lexer and translator, about 1 ms of each import. Bundlers, which do
// not follow createRequire, get for-bundlers.mjs by the "module" condition (package.json
// "exports"; esbuild, webpack, rollup and vite match it, Node does not): it imports the package
// through a two-line CommonJS file, whose module.exports is a variable and so nothing to lex.
const exportNames = `export const { ${names.join(', ')} } = cjs\nexport default cjs\n`
writeFileSync(
  'dist/esm/index.mjs',
  `import { createRequire } from 'node:module'\nconst cjs = createRequire(import.meta.url)('../cjs/index.js')\n${exportNames}`,
)
writeFileSync('dist/esm/nsjs.cjs', "const nsjs = require('../cjs/index.js')\nmodule.exports = nsjs\n")
writeFileSync('dist/esm/for-bundlers.mjs', `import cjs from './nsjs.cjs'\n${exportNames}`)
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
