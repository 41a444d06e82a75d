// The published types as a user's TypeScript sees them: internals stripped, `import nsjs from
// 'nsjs'` typed, options that take `as const` arrays, NamespaceError.code as a union; and the
// package metadata that publint and are-the-types-wrong check.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { exec, type NamespaceErrorCode, type NamespaceType, spawn } from '../ts'
import { ROOT, tempDir } from './helpers'

const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name)
const env = () => {
  const e: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) e[k] = v
  return e
}

test('the published d.ts has no internals: wrap, nativeHandle, constructors', (t) => {
  const ns = readFileSync(join(ROOT, 'dist', 'cjs', 'namespace.d.ts'), 'utf8')
  t.notRegex(ns, /\bwrap\(|nativeHandle|wrapKey|inspect\.custom/)
  // A private constructor: no signature to call, and `new Namespace()` does not typecheck.
  t.regex(ns, /private constructor\(\);/)
  const child = readFileSync(join(ROOT, 'dist', 'cjs', 'spawn', 'child.d.ts'), 'utf8')
  t.notRegex(child, /constructor\(file/)
})

test('options take readonly (as const) arrays: unshare, join types, stdio, args', async (t) => {
  const unshare = ['uts'] as const satisfies readonly NamespaceType[]
  const args = ['-c', 'hostname'] as const
  const stdio = ['ignore', 'pipe', 'pipe'] as const
  const r = await exec('sh', args, { unshare, hostname: 'ro' })
  t.is(r.stdout, 'ro\n')
  const child = spawn('true', [] as const, { join: { pid: process.pid, types: ['uts'] as const }, stdio })
  t.like(await child.exited, { code: 0 })
})

test('a consumer typechecks default and named imports, ESM and CJS, and the code union', (t) => {
  const dir = tempDir(t, 'nsjs-types-')
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(ROOT, join(dir, 'node_modules', 'nsjs'))
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}')
  const use = `
    const ns: Namespace = nsjs.Namespace.current('net')
    const types = ['net', 'uts'] as const
    nsjs.spawn('true', [], { unshare: types, uidMap: [{ inside: 0, outside: 0, count: 1 }] as const })
    function kind(e: NamespaceError): 'closed' | 'perm' | 'other' {
      if (e.code === 'ERR_NS_CLOSED') return 'closed'
      return e.code === 'EPERM' ? 'perm' : 'other'
    }
    const c: NamespaceErrorCode = 'ENOSUCHERRNO' // any other errno name
    export { ns, kind, c }
  `
  writeFileSync(
    join(dir, 'esm.mts'),
    `import nsjs, { type Namespace, type NamespaceError, type NamespaceErrorCode } from 'nsjs'\n${use}`,
  )
  writeFileSync(
    join(dir, 'cjs.cts'),
    `import nsjs = require('nsjs')\ntype Namespace = nsjs.Namespace\ntype NamespaceError = nsjs.NamespaceError\n` +
      `type NamespaceErrorCode = nsjs.NamespaceErrorCode\n${use}`,
  )
  // Misuses that must fail: the internals of Namespace.
  writeFileSync(
    join(dir, 'bad.mts'),
    `import { Namespace } from 'nsjs'\nconst n = Namespace.current('net')\nn.nativeHandle\nNamespace.wrap\nnew Namespace()\n`,
  )
  const tsc = (files: string[]) =>
    spawnSync(
      process.execPath,
      [
        join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--types',
        'node',
        '--typeRoots',
        join(ROOT, 'node_modules', '@types'),
        ...files,
      ],
      { cwd: dir, encoding: 'utf8' },
    )
  const good = tsc(['esm.mts', 'cjs.cts'])
  t.is(good.status, 0, good.stdout)
  const bad = tsc(['bad.mts'])
  t.not(bad.status, 0)
  t.regex(bad.stdout, /bad\.mts\(3,3\): error TS2339: Property 'nativeHandle' does not exist/)
  t.regex(bad.stdout, /bad\.mts\(4,11\): error TS2339: Property 'wrap' does not exist/)
  t.regex(bad.stdout, /bad\.mts\(5,1\): error TS2673: Constructor of class 'Namespace' is private/)
})

test('NamespaceErrorCode names the rule codes and errno names nsjs produces', (t) => {
  const codes: NamespaceErrorCode[] = ['ERR_NS_MULTITHREADED', 'EPERM', 'ESRCH', 'ELOOP']
  t.is(codes.length, 4)
  const d = readFileSync(join(ROOT, 'dist', 'cjs', 'errors.d.ts'), 'utf8')
  t.regex(d, /readonly code: NamespaceErrorCode;/)
  t.regex(d, /export type NamespaceErrorCode = RuleCode \| SystemErrorCode \| \(string & \{\}\);/)
})

test('package.json: no os field, repository, homepage, bugs and keywords', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.is(pkg.os, undefined, 'an os field makes npm install fail on macOS for Linux-bound apps')
  t.regex(pkg.repository.url, /^git\+https:\/\/github\.com\/.+\.git$/)
  t.regex(pkg.homepage, /^https:\/\//)
  t.regex(pkg.bugs.url, /\/issues$/)
  t.true(['linux', 'namespaces', 'nsenter', 'unshare'].every((k) => pkg.keywords.includes(k)))
})

test('publint --strict finds nothing to fix', (t) => {
  const out = execFileSync(bin('publint'), ['--strict'], { cwd: ROOT, encoding: 'utf8', env: env() })
  t.notRegex(out, /^(Errors|Warnings):/m, out)
})

test('are-the-types-wrong finds no problem for node10, node16 CJS and ESM, bundlers', (t) => {
  const r = spawnSync(bin('attw'), ['--pack', '.', '--format', 'ascii'], { cwd: ROOT, encoding: 'utf8', env: env() })
  t.is(r.status, 0, r.stdout + r.stderr)
  t.regex(r.stdout, /No problems found/)
})
