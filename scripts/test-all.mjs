// The whole CI run (`.ci/run`, and the test command README.md gives): the suite of
// scripts/test.mjs on the Node that runs this script (static checks, Rust unit tests, ava), the ava
// suite again on the current LTS and the current release of Node, and the smoke suite
// (__test__/runtimes/smoke.mjs) under Bun and Deno. Each run ends with its own
// `N passed, N failed, N skipped`; the last line sums them all. Needs the build (`npm run build`).
//
// The other runtimes come from the npm registry, the one place this machine can download from:
// Node's official binaries as `node-linux-<arch>`, Bun's as `@oven/bun-linux-<arch>` and Deno's as
// `@deno/linux-<arch>-glibc` (their platform packages: the wrapper packages fetch them in install
// scripts). They are installed once into a cache folder (NSJS_RUNTIMES_DIR, default
// ~/.cache/nsjs-runtimes), by major version, and reused offline.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runLines } from './lines.mjs'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CACHE = process.env.NSJS_RUNTIMES_DIR || join(homedir(), '.cache', 'nsjs-runtimes')
const ARCH = { x64: 'x64', arm64: 'arm64' }[process.arch]
const BUN_ARCH = { x64: 'x64', arm64: 'aarch64' }[process.arch]

/** Node's current LTS and current release: the versions besides ours the suite runs on. */
export const NODE_MAJORS = ['24', '26']
/** The Bun and Deno lines the smoke suite runs on. */
export const BUN_VERSION = '1'
export const DENO_VERSION = '2'

/** The runs besides the machine's Node: what to install, its binary, and how to run it. */
export const RUNTIMES = [
  ...NODE_MAJORS.map((major) => ({
    name: `node ${major}`,
    spec: `node-linux-${ARCH}@${major}`,
    bin: `node_modules/node-linux-${ARCH}/bin/node`,
    kind: 'suite',
  })),
  {
    name: 'bun',
    spec: `@oven/bun-linux-${BUN_ARCH}@${BUN_VERSION}`,
    bin: `node_modules/@oven/bun-linux-${BUN_ARCH}/bin/bun`,
    kind: 'bun',
  },
  {
    name: 'deno',
    spec: `@deno/linux-${ARCH}-glibc@${DENO_VERSION}`,
    bin: `node_modules/@deno/linux-${ARCH}-glibc/deno`,
    kind: 'deno',
  },
]

/** The runtime's binary, installed into the cache first if it is not there. */
function install(runtime) {
  const dir = join(CACHE, runtime.spec.replace('/', '+'))
  const bin = join(dir, runtime.bin)
  if (existsSync(bin)) return bin
  mkdirSync(dir, { recursive: true })
  const npm = spawnSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--ignore-scripts',
      runtime.spec,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  )
  if (npm.status !== 0 || !existsSync(bin)) throw new Error(`could not install ${runtime.spec} into ${dir}`)
  return bin
}

const SUMMARY = /^(\d+) passed, (\d+) failed, (\d+) skipped$/

/** Runs one command, its output passed through, and returns the counts of its closing line. */
async function run(title, cmd, args, env) {
  console.log(`# ${title}`)
  let last = ''
  const code = await runLines(
    cmd,
    args,
    (line) => {
      if (line.trim()) last = line
    },
    { cwd: ROOT, env: { ...process.env, ...env } },
  )
  const m = SUMMARY.exec(last.trim())
  const counts = m ? { passed: +m[1], failed: +m[2], skipped: +m[3] } : { passed: 0, failed: 0, skipped: 0 }
  // A run that ended without its summary, or failed without a counted failure, is a failure.
  if (!m || (code !== 0 && counts.failed === 0)) {
    console.log(`# ${title}: exited with ${code}${m ? '' : ' before its summary'}`)
    counts.failed += 1
  }
  console.log(`# ${title}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
  return counts
}

/** `argv` in a private mount namespace with a fresh shared tmpfs on /run, as scripts/test.mjs does. */
function privateRun(argv) {
  const setup = 'mount -t tmpfs -o mode=0755 nsjs-smoke-run /run && mount --make-shared /run && exec "$@"'
  return ['--mount', '--propagation', 'private', 'sh', '-c', setup, 'sh', ...argv]
}

async function main() {
  const total = { passed: 0, failed: 0, skipped: 0 }
  const add = (c) => {
    for (const k of Object.keys(total)) total[k] += c[k]
  }
  add(await run(`suite on node ${process.version} (${process.execPath})`, process.execPath, ['scripts/test.mjs']))
  const smoke = join('__test__', 'runtimes', 'smoke.mjs')
  for (const runtime of RUNTIMES) {
    let bin
    try {
      if (!ARCH) throw new Error(`no ${runtime.name} package for ${process.arch}`)
      bin = install(runtime)
    } catch (e) {
      console.log(`# ${runtime.name}: ${e.message}`)
      add({ passed: 0, failed: 1, skipped: 0 })
      continue
    }
    const version = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]
    if (runtime.kind === 'suite') {
      // The static checks and the Rust tests do not depend on the Node version: the first run had
      // them. `node` and `npm` that the tests start by name are this version's.
      const env = {
        NSJS_SKIP_LINT: '1',
        NSJS_SKIP_CARGO_TEST: '1',
        PATH: `${dirname(bin)}${delimiter}${process.env.PATH}`,
      }
      add(await run(`suite on node ${version} (${bin})`, bin, ['scripts/test.mjs'], env))
    } else {
      const argv = runtime.kind === 'deno' ? [bin, 'run', '--allow-all', smoke] : [bin, smoke]
      add(await run(`smoke on ${runtime.name} ${version.replace(/^deno /, '')}`, 'unshare', privateRun(argv)))
    }
  }
  console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
  process.exit(total.failed ? 1 : 0)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main()
