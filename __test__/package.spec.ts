// The package as it ships: the glibc the binary needs, exactly what `npm pack` puts in the
// tarball, installing that tarball where no compiler exists, and the release workflow.
import { execFileSync, spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join, relative } from 'node:path'

import test, { type ExecutionContext } from 'ava'
import { parse as parseYaml } from 'yaml'

import { availableTargets, detectLibc, KNOWN_TARGETS } from '../ts/loader'
import { ROOT } from './helpers'

/** The oldest glibc the released gnu binaries must load on: RHEL 8, Debian 10. */
const GLIBC_FLOOR = '2.28'

type ElfGlibc = {
  glibcVersions(file: string): string[]
  maxGlibc(file: string): string | undefined
  compareVersions(a: string, b: string): number
}
type BuildNative = { parseTarget(spec: string): { triple: string; glibc?: string; libc: string; napi: string } }
// Shared with scripts/build-native.mjs, which prints the same numbers after a build.
const elf = () => import('../scripts/elf-glibc.mjs') as Promise<ElfGlibc>
const buildNative = () => import('../scripts/build-native.mjs') as Promise<BuildNative>

const HOST_TARGET = `${process.platform}-${process.arch}-${detectLibc()}`
const binary = (target: string) => join(ROOT, 'binding', `nsjs.${target}.node`)

function tempDir(t: ExecutionContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `nsjs-${prefix}-`))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** This environment without what an outer `npm test` put in it (npm_config_*, npm_lifecycle_*). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'NSJS_NATIVE_PATH') env[k] = v
  return { ...env, ...extra }
}

// ---------------------------------------------------------------------------------------------
// glibc floor

/** `objdump -p`: the GLIBC_x.y versions under "Version References", as binutils sees them. */
function objdumpGlibc(file: string): string[] {
  const out = execFileSync('objdump', ['-p', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const refs = out.slice(out.indexOf('Version References:'))
  return [...new Set([...refs.matchAll(/\sGLIBC_([0-9.]+)$/gm)].map((m) => m[1]))]
}

test(`the binary for this machine (${HOST_TARGET}) is in binding/`, (t) => {
  t.true(existsSync(binary(HOST_TARGET)), `${binary(HOST_TARGET)}: run npm run build:native`)
})

test(`bundled gnu binaries need at most GLIBC_${GLIBC_FLOOR}; musl ones no glibc`, async (t) => {
  const { maxGlibc, compareVersions, glibcVersions } = await elf()
  const targets = availableTargets()
  t.true(targets.length > 0, 'no binaries in binding/')
  for (const target of targets) {
    const max = maxGlibc(binary(target))
    t.log(`${target}: ${max ? `GLIBC_${max}` : 'no GLIBC_ version'} (${glibcVersions(binary(target)).join(' ')})`)
    if (target.endsWith('-gnu')) {
      t.truthy(max, `${target} names no glibc version: not a glibc binary?`)
      t.true(
        compareVersions(max!, GLIBC_FLOOR) <= 0,
        `binding/nsjs.${target}.node needs GLIBC_${max}, above the floor ${GLIBC_FLOOR}: it was not built with ` +
          'zig (npm run build:native, with ziglang and cargo-zigbuild from PyPI). A debug build ' +
          "(build:native:debug) links against this machine's glibc.",
      )
    } else {
      t.is(max, undefined, `${target} is a musl binary but needs GLIBC_${max}`)
    }
  }
})

test('the ELF reader agrees with objdump (binutils) on the binding and on node itself', async (t) => {
  const { glibcVersions, compareVersions } = await elf()
  for (const file of [binary(HOST_TARGET), process.execPath]) {
    const ours = glibcVersions(file)
    t.deepEqual(ours, objdumpGlibc(file).sort(compareVersions), file)
  }
})

test('compareVersions orders glibc versions numerically', async (t) => {
  const { compareVersions } = await elf()
  t.true(compareVersions('2.9', '2.14') < 0)
  t.true(compareVersions('2.28', '2.28') === 0)
  t.true(compareVersions('2.34', '2.28') > 0)
  t.true(compareVersions('2.3.4', '2.3') > 0)
})

// ---------------------------------------------------------------------------------------------
// npm pack: exactly these files

type PackResult = {
  filename: string
  size: number
  unpackedSize: number
  entryCount: number
  files: { path: string }[]
}

function npmPack(args: string[]): PackResult {
  const out = execFileSync('npm', ['pack', '--json', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return (JSON.parse(out) as PackResult[])[0]
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  )
}

/** What the tarball must hold: the compiled TypeScript for every ts/ source, the binaries, the docs. */
function expectedFiles(): string[] {
  const dist = walk(join(ROOT, 'ts')).flatMap((file) => {
    const rel = relative(join(ROOT, 'ts'), file)
    if (rel.endsWith('.d.ts')) return [`dist/cjs/${rel}`]
    if (rel.endsWith('.ts')) return [`dist/cjs/${rel.slice(0, -3)}.js`, `dist/cjs/${rel.slice(0, -3)}.d.ts`]
    return []
  })
  return [
    'package.json',
    'README.md',
    'LICENSE',
    ...dist,
    'dist/esm/index.mjs',
    'dist/esm/index.d.mts',
    // For bundlers (the "module" condition): the CommonJS package through a file with nothing to
    // lex (scripts/build-ts.mjs).
    'dist/esm/for-bundlers.mjs',
    'dist/esm/nsjs.cjs',
    // Spawning and sockets, bundled apart from dist/cjs/index.js and loaded on first use.
    'dist/cjs/nsjs-spawn.js',
    'dist/cjs/nsjs-net.js',
    // The man page, built from the CLI's help texts (package.json "man").
    'dist/man/nsjs.1',
    ...availableTargets().map((t) => `binding/nsjs.${t}.node`),
  ].sort()
}

test('npm pack holds exactly dist, the binaries, README.md, LICENSE and package.json', (t) => {
  const pack = npmPack(['--dry-run'])
  const files = pack.files.map((f) => f.path).sort()
  t.log(
    `${pack.filename}: ${files.length} files, ${(pack.size / 1024).toFixed(0)} KiB packed, ${(pack.unpackedSize / 1024).toFixed(0)} KiB unpacked`,
  )
  const expected = expectedFiles()
  t.deepEqual(
    { missing: expected.filter((f) => !files.includes(f)), unexpected: files.filter((f) => !expected.includes(f)) },
    { missing: [], unexpected: [] },
  )
  t.deepEqual(files, expected)
  t.true(files.includes(`binding/nsjs.${HOST_TARGET}.node`))
  t.false(
    files.some((f) => /^(crates|ts|__test__|scripts|target|npm|bench|\.github|\.ci)\//.test(f) || f.endsWith('.tgz')),
  )
  t.true(existsSync(join(ROOT, 'README.md')), 'README.md is missing')
  t.regex(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License\n\nCopyright \(c\) 2026 the nsjs authors\n/)
})

test('the package installs with no compiler: no dependencies, no install scripts', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'gypfile']) {
    t.is(pkg[field], undefined, field)
  }
  for (const script of ['preinstall', 'install', 'postinstall']) t.is(pkg.scripts?.[script], undefined, script)
  t.false(existsSync(join(ROOT, 'binding.gyp')), 'binding.gyp makes npm run node-gyp on install')
})

// ---------------------------------------------------------------------------------------------
// install the tarball on a machine view without a compiler

const NO_COMPILER = ['cargo', 'rustc', 'cc', 'gcc', 'g++', 'clang', 'make', 'python3', 'python', 'node-gyp', 'zig']

/** The real npm CLI script, found on this PATH. */
function npmCli(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'npm'))) return realpathSync(join(dir, 'npm'))
  }
  throw new Error('npm is not on PATH')
}

/** Run in the installed project: CommonJS and ES module entry points, current and created namespaces. */
const CHECK_SCRIPT = `
const assert = require('node:assert')
;(async () => {
  const cjs = require('nsjs')
  const esm = await import('nsjs')
  assert.strictEqual(esm.Namespace, cjs.Namespace, 'import and require share one Namespace class')
  assert.strictEqual(esm.NamespaceError, cjs.NamespaceError)
  const { Namespace } = cjs
  const net = Namespace.current('net')
  assert.strictEqual(net.type, 'net')
  const uts = await Namespace.create('uts')
  assert.strictEqual(uts.type, 'uts')
  assert.ok(!uts.equals(Namespace.current('uts')), 'a new uts namespace, not ours')

  // Spawn into new namespaces (uts with a hostname, pid) and into the created one (joined).
  const { exec } = cjs
  const fresh = await exec('/bin/sh', ['-c', 'read h < /proc/sys/kernel/hostname; echo $h; echo $$'], { unshare: ['uts', 'pid'], hostname: 'installed' })
  const joined = await exec('/bin/readlink', ['/proc/self/ns/uts'], { join: [uts] })

  const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
  console.log(JSON.stringify({ net: net.id, uts: uts.id, uts_type: uts.type, fresh: fresh.stdout, joined: joined.stdout.trim(), loaded, resolved: require.resolve('nsjs') }))
  uts.close?.()
  net.close?.()
})().catch((e) => { console.error(e); process.exit(1) })
`

test('the packed tarball installs and works where PATH has only node and npm', async (t) => {
  const tmp = tempDir(t, 'install')
  const packDir = join(tmp, 'pack')
  mkdirSync(packDir)
  const pack = npmPack(['--pack-destination', packDir])
  const tarball = join(packDir, pack.filename)
  t.log(`${pack.filename}: ${pack.entryCount} files, ${(pack.size / 1024).toFixed(0)} KiB`)

  // A machine view with node and npm only, its own home and an empty npm cache.
  const bin = join(tmp, 'bin')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync(npmCli(), join(bin, 'npm'))
  const home = join(tmp, 'home')
  mkdirSync(home)
  const env = {
    PATH: bin,
    HOME: home,
    TMPDIR: tmp,
    npm_config_cache: join(tmp, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'warn',
  }

  for (const tool of NO_COMPILER) {
    const r = spawnSync(tool, ['--version'], { env })
    t.is((r.error as NodeJS.ErrnoException | undefined)?.code, 'ENOENT', `${tool} must not be found in PATH=${bin}`)
  }

  for (const scripts of [['--ignore-scripts'], []]) {
    const project = join(tmp, `project${scripts.length ? '-ignore-scripts' : ''}`)
    mkdirSync(project)
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'nsjs-install-check', version: '1.0.0', private: true }),
    )
    writeFileSync(join(project, 'check.cjs'), CHECK_SCRIPT)
    const install = spawnSync(
      join(bin, 'npm'),
      ['install', '--offline', '--no-audit', '--no-fund', ...scripts, tarball],
      {
        cwd: project,
        env,
        encoding: 'utf8',
      },
    )
    t.is(install.status, 0, `npm install ${scripts.join(' ')}: ${install.stdout}${install.stderr}`)
    const installed = join(project, 'node_modules', 'nsjs')
    t.true(existsSync(join(installed, 'binding', `nsjs.${HOST_TARGET}.node`)))
    t.false(existsSync(join(installed, 'build')), 'nothing was compiled on install')
    t.false(existsSync(join(installed, 'target')))

    const run = spawnSync(join(bin, 'node'), ['check.cjs'], { cwd: project, env, encoding: 'utf8' })
    t.is(run.status, 0, `check.cjs ${scripts.join(' ')}: ${run.stdout}${run.stderr}`)
    const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!)
    t.is(out.uts_type, 'uts')
    t.is(out.fresh, 'installed\n1\n', 'spawned into new uts and pid namespaces')
    t.is(out.joined, out.uts, 'spawned into the created namespace')
    t.regex(out.net, /^net:\[\d+\]$/)
    t.regex(out.uts, /^uts:\[\d+\]$/)
    t.is(out.resolved, join(realpathSync(installed), 'dist', 'cjs', 'index.js'))
    t.deepEqual(
      out.loaded,
      [join(realpathSync(installed), 'binding', `nsjs.${HOST_TARGET}.node`)],
      'the binary came from the installed package',
    )
  }
})

// ---------------------------------------------------------------------------------------------
// the release workflow

type Job = {
  needs?: string | string[]
  if?: string
  permissions?: Record<string, string>
  strategy?: { matrix?: { include?: Record<string, string>[] } }
  steps?: { name?: string; uses?: string; run?: string; with?: Record<string, unknown> }[]
}

function workflow(): { on: unknown; env: Record<string, string>; jobs: Record<string, Job> } {
  return parseYaml(readFileSync(join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8'))
}

test('release.yml builds every target in KNOWN_TARGETS, gnu ones against old glibc', async (t) => {
  const { parseTarget } = await buildNative()
  const { compareVersions } = await elf()
  const { jobs, env } = workflow()
  const builds = jobs.build.strategy!.matrix!.include!
  t.deepEqual(builds.map((b) => b.target).sort(), [...KNOWN_TARGETS].sort())
  for (const b of builds) {
    const spec = parseTarget(b.zig)
    t.is(spec.napi, b.target, `${b.target} builds ${b.zig}`)
    t.is(spec.triple, b.rust)
    if (spec.libc === 'gnu')
      t.true(spec.glibc !== undefined && compareVersions(spec.glibc, GLIBC_FLOOR) <= 0, `${b.zig}`)
  }
  const runs = jobs.build.steps!.map((s) => s.run ?? '').join('\n')
  t.regex(runs, /node scripts\/build-native\.mjs --require-zig --target "\$\{\{ matrix\.zig \}\}"/)
  t.regex(runs, /pip install "ziglang==\$\{ZIGLANG_VERSION\}" "cargo-zigbuild==\$\{CARGO_ZIGBUILD_VERSION\}"/)
  // The same pins as scripts/setup.sh, which builds the binary the suite tests here (.ci/run runs it).
  const ci = readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8')
  t.true(ci.includes(`ziglang==${env.ZIGLANG_VERSION} `), `setup.sh pins ziglang ${env.ZIGLANG_VERSION}`)
  t.true(
    ci.includes(`cargo-zigbuild==${env.CARGO_ZIGBUILD_VERSION}\n`),
    `setup.sh pins cargo-zigbuild ${env.CARGO_ZIGBUILD_VERSION}`,
  )
  const upload = jobs.build.steps!.find((s) => s.uses?.startsWith('actions/upload-artifact'))
  t.is(upload?.with?.path, 'binding/nsjs.${{ matrix.target }}.node')
})

test('release.yml tests every target on its own arch and libc, privileged', (t) => {
  const { jobs } = workflow()
  const matrix = jobs.test.strategy!.matrix! as { target: string[]; node: string[]; include: Record<string, string>[] }
  t.deepEqual([...matrix.target].sort(), [...KNOWN_TARGETS].sort())
  t.deepEqual(matrix.include.map((x) => x.target).sort(), [...KNOWN_TARGETS].sort())
  for (const x of matrix.include) {
    t.is(x.runner, x.target.includes('arm64') ? 'ubuntu-24.04-arm' : 'ubuntu-24.04', x.target)
    t.is(x.distro, x.target.endsWith('-musl') ? 'alpine' : 'bookworm', x.target)
  }
  const runs = jobs.test.steps!.map((s) => s.run ?? '').join('\n')
  t.regex(runs, /docker run --rm --privileged/)
  t.regex(runs, /"node:\$\{\{ matrix\.node \}\}-\$\{\{ matrix\.distro \}\}"/)
  t.regex(runs, /npm test/)
  t.is(jobs.test.needs, 'build')
})

test('release.yml tests on Node 22, 24 and 26, the lines engines and README promise', (t) => {
  const { jobs } = workflow()
  const lines = (jobs.test.strategy!.matrix! as { node: string[] }).node
  t.deepEqual(lines, ['22', '24', '26'])
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.is(pkg.engines.node, '>=20')
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  t.regex(readme, /Node 22, 24 and 26/)
  // .ci/run runs the suite on the current LTS and current release as well (scripts/test-all.mjs).
  const all = readFileSync(join(ROOT, 'scripts', 'test-all.mjs'), 'utf8')
  t.regex(all, /export const NODE_MAJORS = \['24', '26'\]/)
  t.regex(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /npm run test:all\n/)
  t.true(readme.includes('`bash scripts/setup.sh && npm run test:all`'), "README gives .ci/run's command")
  t.is(pkg.scripts['test:all'], 'node scripts/test-all.mjs')
})

test('release.yml publishes with provenance after all tests, with id-token: write', (t) => {
  const { jobs } = workflow()
  const publish = jobs.publish
  t.is(publish.permissions?.['id-token'], 'write')
  t.deepEqual([publish.needs].flat().sort(), ['build', 'floor', 'lint', 'test'])
  // The test containers have no Rust: the static checks run once, in their own job.
  t.regex(jobs.lint.steps?.map((s) => s.run ?? '').join('\n') ?? '', /npm run lint/)
  t.regex(jobs.test.steps?.map((s) => s.run ?? '').join('\n') ?? '', /-e NSJS_SKIP_LINT=1/)
  const step = publish.steps!.find((s) => /\bnpm publish\b/.test(s.run ?? ''))
  t.truthy(step, 'a publish step')
  t.regex(step!.run!, /--provenance/)
  t.regex(step!.run!, /--access public/)
  const download = publish.steps!.find((s) => s.uses?.startsWith('actions/download-artifact'))
  t.is(download?.with?.path, 'binding')
  t.is(download?.with?.pattern, 'binding-*')
  t.is(download?.with?.['merge-multiple'], true)
  t.true(publish.steps!.some((s) => /npm run build:ts/.test(s.run ?? '')))
})
