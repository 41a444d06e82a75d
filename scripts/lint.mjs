// The static checks of the tree: formatting, lints, and the shape rules of the Development
// section of README.md (file sizes, no import cycle in ts/, short test names). `npm test` runs
// them first and counts each as one test; `npm run lint` runs them alone. Exits non-zero if any
// fails.
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function command(cmd, args) {
  return () => {
    const r = spawnSync(cmd, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.error) return `${cmd}: ${r.error.message}`
    return r.status === 0 ? null : `${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`
  }
}

function files(dir, ext) {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(ext))
    .map((d) => relative(ROOT, join(d.parentPath, d.name)))
}

// Tests aside: a Rust file's `mod tests` and files named tests.rs; generated declarations.
function codeLines(file) {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const cut = text.search(/^#\[cfg\(test\)\]\s*\nmod tests/m)
  return (cut >= 0 ? text.slice(0, cut) : text).split('\n').length
}

function sizes() {
  const limits = [
    ['ts', '.ts', 450],
    ['crates', '.rs', 400],
  ]
  const over = []
  for (const [dir, ext, max] of limits) {
    for (const f of files(dir, ext)) {
      if (f.endsWith('/tests.rs') || f.endsWith('.d.ts')) continue
      const n = codeLines(f)
      if (n > max) over.push(`${f}: ${n} lines (limit ${max})`)
    }
  }
  return over.length ? over.join('\n') : null
}

// Relative imports between the modules of ts/, followed depth-first; a module met again while
// still on the path closes a cycle.
function importCycles() {
  const graph = new Map()
  for (const f of files('ts', '.ts')) {
    const text = readFileSync(join(ROOT, f), 'utf8')
    // `import x from './y'`, `export … from './y'`, and side-effect imports `import './y'`;
    // `import type` is erased and makes no cycle at run time.
    const deps = [...text.matchAll(/^(?:(?:import|export)\s[^'"]*?from\s+|import\s+)'(\.[^']+)'/gm)]
      .filter((m) => !/^import\s+type\s/.test(m[0]))
      .map((m) => {
        const base = join(dirname(f), m[1])
        const candidates = [`${base}.ts`, join(base, 'index.ts')]
        return candidates.find((c) => graph.has(c) || files('ts', '.ts').includes(c)) ?? `${base}.ts`
      })
    graph.set(f, deps)
  }
  const cycles = []
  const state = new Map()
  const visit = (f, path) => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '))
      return
    }
    state.set(f, 'open')
    for (const d of graph.get(f) ?? []) visit(d, [...path, f])
    state.set(f, 'done')
  }
  for (const f of graph.keys()) visit(f, [])
  return cycles.length ? `import cycles:\n${cycles.join('\n')}` : null
}

// A test's name says what it checks, in a line of a report; the detail (expected output, the
// tools compared) belongs in the assertions. For ava, the title: the first argument of test(...)
// and its modifiers (test.serial, test.before, ...), measured as written (a template's ${...}
// counts as its source text). For Rust, the name of a #[test] fn.
const TITLE_MAX = 80

function testTitles(text) {
  const titles = []
  for (const m of text.matchAll(/\btest(?:\.[a-zA-Z]+)*\(\s*(['"`])/g)) {
    const quote = m[1]
    let title = ''
    let depth = 0
    for (let i = m.index + m[0].length; i < text.length; i++) {
      const c = text[i]
      if (c === '\\') {
        title += text[++i]
        continue
      }
      if (depth === 0 && c === quote) break
      if (quote === '`' && c === '$' && text[i + 1] === '{') depth++
      else if (depth > 0 && c === '}') depth--
      title += c
    }
    titles.push({ at: m.index, title })
  }
  return titles
}

function rustTestNames(text) {
  return [...text.matchAll(/#\[test\]\s*(?:#\[[^\]]*\]\s*)*(?:pub\s+)?fn\s+(\w+)/g)].map((m) => ({
    at: m.index,
    title: m[1],
  }))
}

function testNameLengths() {
  const sources = [
    ...files('__test__', '.spec.ts').map((f) => [f, testTitles]),
    ...files('crates', '.rs').map((f) => [f, rustTestNames]),
  ]
  const long = []
  for (const [f, names] of sources) {
    const text = readFileSync(join(ROOT, f), 'utf8')
    for (const { at, title } of names(text)) {
      const line = text.slice(0, at).split('\n').length
      if (title.length > TITLE_MAX) long.push(`${f}:${line}: ${title.length} chars: ${title}`)
    }
  }
  return long.length ? `test names over ${TITLE_MAX} characters:\n${long.join('\n')}` : null
}

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')

export const CHECKS = [
  ['cargo fmt --check', command('cargo', ['fmt', '--all', '--check'])],
  [
    'clippy nsjs-sys (all targets)',
    command('cargo', ['clippy', '-q', '-p', 'nsjs-sys', '--all-targets', '--', '-D', 'warnings']),
  ],
  ['clippy nsjs-node', command('cargo', ['clippy', '-q', '-p', 'nsjs-node', '--', '-D', 'warnings'])],
  ['biome ci', command(join(ROOT, 'node_modules', '.bin', 'biome'), ['ci', '--colors=off', '--reporter=summary', '.'])],
  ['typecheck', command(process.execPath, [TSC, '--noEmit', '-p', '.'])],
  // The tests run through tsx, which strips types without checking them.
  ['typecheck tests', command(process.execPath, [TSC, '-p', '__test__'])],
  ['file sizes', sizes],
  ['no import cycle in ts/', importCycles],
  [`test titles <= ${TITLE_MAX} chars`, testNameLengths],
]

/** Runs every check, printing TAP-like lines; returns [passed, failed]. */
export function lint() {
  let passed = 0
  let failed = 0
  for (const [name, check] of CHECKS) {
    const problem = check()
    if (problem) {
      failed++
      console.log(`not ok - lint: ${name}\n${problem.replace(/^/gm, '  # ')}`)
    } else {
      passed++
      console.log(`ok - lint: ${name}`)
    }
  }
  return [passed, failed]
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [, failed] = lint()
  process.exit(failed ? 1 : 0)
}
