// The API reference: typedoc over the public entry point with README.md as its landing page,
// every exported member documented (a warning is a failure: treatWarningsAsErrors), and an
// @example on every exported function and class.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { ROOT, tempDir } from './helpers'

interface Reflection {
  name: string
  kind: number
  comment?: { blockTags?: Array<{ tag: string }> }
  signatures?: Reflection[]
  children?: Reflection[]
}

// typedoc's ReflectionKind values.
const FUNCTION = 64
const CLASS = 128

test('typedoc documents every public member, with README.md as the landing page', (t) => {
  const config = JSON.parse(readFileSync(join(ROOT, 'typedoc.json'), 'utf8'))
  t.is(config.readme, 'README.md')
  t.true(config.treatWarningsAsErrors)
  t.true(config.validation.notDocumented)
  const out = tempDir(t, 'nsjs-docs-')
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc'),
      '--out',
      join(out, 'html'),
      '--json',
      join(out, 'api.json'),
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  )
  t.is(r.status, 0, r.stdout + r.stderr)
  t.notRegex(r.stdout + r.stderr, /\[warning\]|\[error\]/)
  // The landing page is the README, not a one-line stub.
  const index = readFileSync(join(out, 'html', 'index.html'), 'utf8')
  t.regex(index, /What moves when you join/)
  const api: Reflection = JSON.parse(readFileSync(join(out, 'api.json'), 'utf8'))
  const hasExample = (r: Reflection) =>
    [r, ...(r.signatures ?? [])].some((x) => x.comment?.blockTags?.some((b) => b.tag === '@example'))
  const exported = (api.children ?? []).filter((c) => c.kind === FUNCTION || c.kind === CLASS)
  t.deepEqual(exported.map((c) => c.name).sort(), [
    'Namespace',
    'NamespaceError',
    'NsChildProcess',
    'exec',
    'fork',
    'spawn',
  ])
  for (const c of exported) t.true(hasExample(c), `${c.name} has an @example`)
})
