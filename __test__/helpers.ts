import { type ChildProcess, spawn as cpSpawn, execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import type { ExecutionContext } from 'ava'

import { binding } from '../ts/loader'

export const ROOT = join(__dirname, '..')

/** A process started with util-linux unshare in new namespaces; killed when the test ends. */
export async function target(t: ExecutionContext, flags: string[], hostname?: string): Promise<number> {
  const script = hostname ? `hostname ${hostname}; exec sleep 600` : 'exec sleep 600'
  const child = cpSpawn('unshare', [...flags, 'sh', '-c', script], { stdio: 'ignore' })
  let sleeper: number | undefined
  t.teardown(async () => {
    // With --fork the sleep is unshare's child: killed first, it is reaped by unshare, which then
    // exits by itself. Killing unshare first would leave it to PID 1 instead.
    if (sleeper !== undefined && sleeper !== child.pid) {
      try {
        process.kill(sleeper, 'SIGKILL')
      } catch {
        // already gone
      }
      const exited = new Promise((r) => child.once('exit', r))
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))])
    }
    await killAndWait(child)
  })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  // Wait until sh has exec'ed sleep (with --fork, in unshare's child), so the hostname is set
  // and the namespaces are final; that sleep is the target.
  for (let i = 0; i < 300; i++) {
    const found = findSleep(child.pid as number)
    if (found) {
      sleeper = found
      return found
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`target ${flags.join(' ')} did not start`)
}

function findSleep(pid: number): number | undefined {
  try {
    if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep') return pid
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    for (const k of kids) {
      const f = findSleep(Number(k))
      if (f) return f
    }
  } catch {
    // exited meanwhile
  }
  return undefined
}

export function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

/** `readlink /proc/<pid>/ns/<type>`, as a user would compare it. */
export function nsLink(pid: number | 'self' | 'thread-self', type: string): string {
  return readlinkSync(`/proc/${pid}/ns/${type}`)
}

/**
 * Threads of this process whose net namespace is `net:[inode]`, the async create's own thread
 * left out: `Namespace.create()` unshares a thread that exists for that alone and resolves just
 * before it ends, so under load it may still be listed for a moment.
 */
export function threadsInNet(inode: string | number | bigint): string[] {
  const id = `net:[${inode}]`
  return readdirSync('/proc/self/task').filter((tid) => {
    try {
      return (
        readlinkSync(`/proc/self/task/${tid}/ns/net`) === id &&
        readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'nsjs-create'
      )
    } catch {
      return false
    }
  })
}

export function fdCount(): number {
  return readdirSync('/proc/self/fd').length
}

const NS_LINK = /^(cgroup|ipc|mnt|net|pid|time|user|uts):\[\d+\]$/
const NSJS_LINK = /^((cgroup|ipc|mnt|net|pid|time|user|uts|pipe):\[\d+\]|anon_inode:\[pidfd\]|\/dev\/null)$/

/** Descriptors of this process whose /proc/self/fd link matches `link`. */
export function countFds(link: RegExp): number {
  let n = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (link.test(readlinkSync(`/proc/self/fd/${fd}`))) n++
    } catch {
      // closed while we looked (the readdir's own descriptor)
    }
  }
  return n
}

/** Descriptors of this process that are open on a namespace (what handles hold). */
export function nsFdCount(): number {
  return countFds(NS_LINK)
}

/**
 * The descriptors of the kinds nsjs makes (namespaces, pidfds, pipes, /dev/null), as `fd=link`
 * entries, leaving out the test runner's own sockets and files and the one /dev/null that each
 * spawning thread keeps for 'ignore' slots (`keptDescriptors()`): a test that compares these sets
 * sees what it opened and left, while descriptors of earlier tests that close meanwhile (their
 * children's pipes, a pidfd) cannot shift a count.
 */
export function nsjsFds(): Set<string> {
  const out = new Set<string>()
  // The /dev/null each spawning thread keeps for 'ignore' slots is nsjs's own, and stays.
  const kept = new Set(binding().keptDescriptors().map(String))
  for (const fd of readdirSync('/proc/self/fd')) {
    if (kept.has(fd)) continue
    try {
      const link = readlinkSync(`/proc/self/fd/${fd}`)
      if (NSJS_LINK.test(link)) out.add(`${fd}=${link}`)
    } catch {
      // closed while we looked (the readdir's own descriptor)
    }
  }
  return out
}

/**
 * The descriptors of nsjs's kinds opened since `before` (an `nsjsFds()` set) and still open: what
 * a test itself left. Those that close a little later (a stream's teardown, a worker's) get up
 * to `ms` to go, so only what stays open is reported.
 */
export async function fdsLeftSince(before: Set<string>, ms = 2000): Promise<string[]> {
  const left = () => [...nsjsFds()].filter((f) => !before.has(f))
  for (const end = Date.now() + ms; left().length > 0 && Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 20))
  }
  return left()
}

export function nsfsMounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(' - nsfs '))
    .map((l) => l.split(' ')[4])
}

export function tempDir(t: ExecutionContext, prefix = 'nsjs-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => {
    unmountBelow(dir)
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** The mount points at or below `dir` in this thread's mount namespace, deepest first. */
export function mountsBelow(dir: string): string[] {
  const points = readFileSync('/proc/thread-self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
  return points.sort((a, b) => b.length - a.length)
}

/**
 * Lazily unmounts everything at or below `dir`: persist() leaves a directory it bound onto itself
 * a mount point, as `ip netns add` leaves /run/netns.
 */
export function unmountBelow(dir: string): void {
  for (let points = mountsBelow(dir); points.length > 0; points = mountsBelow(dir)) {
    execFileSync('umount', ['-l', points[0]])
  }
}

/** util-linux setpriv's arguments that make what follows run as uid/gid 65534, no capabilities. */
export const AS_NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all']

/**
 * Runs a script as uid/gid 65534 with no capabilities, through util-linux setpriv, with nsjs
 * loaded from source. Resolves with its stdout parsed as JSON.
 */
export function asNobody(script: string): unknown {
  const code = `const nsjs = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))});\n${script}`
  const out = execFileSync(
    'setpriv',
    [...AS_NOBODY, process.execPath, '--require', require.resolve('tsx/cjs'), '-e', code],
    {
      cwd: '/',
      encoding: 'utf8',
      env: { ...process.env, HOME: '/tmp', TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
    },
  )
  return JSON.parse(out)
}

/**
 * Runs a script in a new Node process with nsjs loaded from source (as `nsjs`), started through
 * `wrapper` (e.g. `['unshare', '-m', 'sh', '-c', 'mount ...; exec "$0" "$@"']`). Resolves with its
 * stdout parsed as JSON. For what must not happen on the test runner's own threads.
 */
export function nodeScript(script: string, wrapper: string[] = []): unknown {
  const code = `const nsjs = require(${JSON.stringify(join(ROOT, 'ts', 'index.ts'))});\n${script}`
  const argv = [...wrapper, process.execPath, '--require', require.resolve('tsx/cjs'), '-e', code]
  const out = execFileSync(argv[0], argv.slice(1), {
    cwd: '/',
    encoding: 'utf8',
    env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
  })
  return JSON.parse(out)
}

/** Records a thrown error's public fields, for asNobody scripts. */
export const CATCH_FIELDS = `(e) => ({ name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, nsType: e.nsType, step: e.step, message: e.message })`

/** State and parent pid of a process, from /proc/<pid>/stat; undefined once it is gone. */
export function procStat(pid: number | string): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: f[0], ppid: Number(f[1]) }
  } catch {
    return undefined
  }
}

/** Our children that have exited and not been reaped. */
export function zombieChildren(): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      const s = procStat(p)
      return s?.state === 'Z' && s.ppid === process.pid
    })
}

/**
 * A classic-BPF seccomp program, as `bwrap --seccomp` takes one: mkdir and mkdirat fail with
 * EPERM, anything else is allowed; another architecture is killed.
 */
export function denyMkdir(): Buffer {
  const [arch, nrs] = process.arch === 'arm64' ? [0xc00000b7, [34, 34]] : [0xc000003e, [83, 258]]
  const ins = (code: number, jt: number, jf: number, k: number): Buffer => {
    const b = Buffer.alloc(8)
    b.writeUInt16LE(code, 0)
    b.writeUInt8(jt, 2)
    b.writeUInt8(jf, 3)
    b.writeUInt32LE(k >>> 0, 4)
    return b
  }
  return Buffer.concat([
    ins(0x20, 0, 0, 4), // A = arch
    ins(0x15, 1, 0, arch),
    ins(0x06, 0, 0, 0x80000000), // another architecture: kill
    ins(0x20, 0, 0, 0), // A = syscall number
    ins(0x15, 2, 0, nrs[0]),
    ins(0x15, 1, 0, nrs[1]),
    ins(0x06, 0, 0, 0x7fff0000), // allow
    ins(0x06, 0, 0, 0x00050000 | 1), // errno EPERM
  ])
}
