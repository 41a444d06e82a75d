// The whole test run: the static checks of scripts/lint.mjs (one test each), the Rust unit tests
// of crates/sys (real kernel, as root), then the ava suite in TAP form. Prints one closing line
// `N passed, N failed, N skipped` over all three and exits non-zero if any failed.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runLines as run } from './lines.mjs'
import { lint } from './lint.mjs'

const extra = process.argv.slice(2)

// The tests persist namespaces, run `ip netns` and mount: they run in a mount namespace of their
// own with a fresh tmpfs on /run (shared, as systemd makes it), so they never race other users of
// the machine's /run/netns and nothing they mount can outlive the run.
if (!process.env.NSJS_TEST_PRIVATE_RUN) {
  const setup = 'mount -t tmpfs -o mode=0755 nsjs-test-run /run && mount --make-shared /run && exec "$0" "$@"'
  const r = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      setup,
      process.execPath,
      fileURLToPath(import.meta.url),
      ...extra,
    ],
    {
      stdio: 'inherit',
      env: { ...process.env, NSJS_TEST_PRIVATE_RUN: '1' },
    },
  )
  if (r.error) throw r.error
  process.exit(r.status ?? 1)
}

const total = { passed: 0, failed: 0, skipped: 0 }
let status = 0

// NSJS_SKIP_LINT: where there is no Rust toolchain (the release workflow's test containers,
// whose lint runs in a job of its own), and on the second and third Node of scripts/test-all.mjs.
if (extra.length === 0 && !process.env.NSJS_SKIP_LINT) {
  const [passed, failed] = lint()
  total.passed += passed
  total.failed += failed
  status |= failed ? 1 : 0
}

if (!process.env.NSJS_SKIP_CARGO_TEST && extra.length === 0) {
  // cargo's summary: "test result: ok. 15 passed; 0 failed; 2 ignored; ..."
  status |= await run('cargo', ['test', '-p', 'nsjs-sys', '--quiet'], (line) => {
    const m = /test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/.exec(line)
    if (m) {
      total.passed += Number(m[1])
      total.failed += Number(m[2])
      total.skipped += Number(m[3])
    }
  })
}

let avaSummary = false
const ava = new URL('../node_modules/ava/entrypoints/cli.mjs', import.meta.url).pathname
const avaStatus = await run(process.execPath, [ava, '--tap', ...extra], (line) => {
  const m = /^# (pass|fail|skip) +(\d+)/.exec(line)
  if (m) {
    avaSummary = true
    total[{ pass: 'passed', fail: 'failed', skip: 'skipped' }[m[1]]] += Number(m[2])
  }
  // ava's TAP reporter names a test that timed out as "not ok ... Timed out" without counting it.
  if (/^not ok \d+ - .*[Tt]imed out/.test(line)) total.failed += 1
})
status |= avaStatus
// A run that ended without its summary (a crash, a timeout) or failed without a counted failure
// still counts as a failure, so the closing line never hides it.
if ((!avaSummary || avaStatus !== 0) && total.failed === 0) {
  console.log(`# ava exited with status ${avaStatus}${avaSummary ? '' : ' before printing its summary'}`)
  total.failed += 1
}

console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
process.exit(status || (total.failed ? 1 : 0))
