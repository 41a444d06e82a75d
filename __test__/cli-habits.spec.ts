// util-linux habits: what users of unshare, nsenter and lsns type by habit, run side by side with
// `nsjs run`, `nsjs exec` and `nsjs ls` spelled the same way: the same exit status and the same
// output (namespace ids, which differ between two new namespaces, written as N).
import { spawn as cpSpawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

import test, { type ExecutionContext } from 'ava'

import { spawn } from '../ts/index'
import { AS_NOBODY, nsLink, ROOT, target, tempDir } from './helpers'

const CLI = join(ROOT, 'dist', 'cjs', 'cli.js')

interface Run {
  status: number | null
  stdout: string
}

/** As uid and gid 65534 without capabilities, for the unprivileged paths. */
const NOBODY = ['setpriv', ...AS_NOBODY]

function run(argv: string[], prefix: string[] = []): Run {
  const [cmd, ...args] = [...prefix, ...(argv[0] === 'nsjs' ? [process.execPath, CLI, ...argv.slice(1)] : argv)]
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, cwd: '/' })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout }
}

/** Namespace ids written as N: two new namespaces never share one. */
const norm = (s: string) => s.replace(/\[\d+\]/g, '[N]')

/** Runs the util-linux line and nsjs's, spelled with `TOOL` replaced, and compares them. */
function same(t: ExecutionContext, tool: string, line: string[], prefix: string[] = []): void {
  const theirs = run([tool, ...line], prefix)
  const ours = run(['nsjs', tool === 'unshare' ? 'run' : 'exec', ...line], prefix)
  const what = `${prefix.length ? 'as 65534: ' : ''}${tool} ${line.join(' ')}`
  t.is(ours.status, theirs.status, `${what}: exit status`)
  t.is(norm(ours.stdout), norm(theirs.stdout), `${what}: output`)
}

// unshare ARGS vs nsjs run ARGS. Root here; each creates namespaces that end with the command.
const UNSHARE: string[][] = [
  ['-u', 'sh', '-c', 'hostname box; hostname'],
  ['--uts', 'sh', '-c', 'hostname box; hostname'],
  ['-Ur', 'id', '-u'],
  ['-r', 'id', '-g'],
  ['--user', '--map-root-user', 'id', '-u'],
  ['-U', '--map-user=1000', '--map-group=1000', 'id', '-u'],
  ['--user', '--map-user', '1000', 'id', '-u'],
  ['-n', 'ip', '-o', 'link'],
  ['--net', 'ip', '-o', 'link'],
  ['-fp', '--mount-proc', 'sh', '-c', 'echo $$'],
  // The shell expands the glob itself (no other process runs): only PID 1 is in the new /proc.
  ['--fork', '--pid', '--mount-proc', 'sh', '-c', 'echo $$; echo /proc/[0-9]*'],
  ['-i', 'readlink', '/proc/self/ns/ipc'],
  ['-C', 'readlink', '/proc/self/ns/cgroup'],
  ['-m', 'findmnt', '-n', '-o', 'PROPAGATION', '/'],
  ['-m', '--propagation', 'slave', 'findmnt', '-n', '-o', 'PROPAGATION', '/'],
  ['--mount', '--propagation=private', 'findmnt', '-n', '-o', 'PROPAGATION', '/'],
  ['-U', '--setgroups', 'deny', 'cat', '/proc/self/setgroups'],
  ['-U', '--setgroups=allow', 'cat', '/proc/self/setgroups'],
  ['-fp', '--kill-child', 'true'],
  ['-fp', '--kill-child=SIGTERM', 'sh', '-c', 'grep ^SigCgt /proc/self/status >/dev/null; echo ok'],
  ['-u', 'sh', '-c', 'exit 7'],
  ['-u', '/nonexistent/command'],
  ['-u', '--wd', '/tmp', 'pwd'],
  ['-u', '-w', '/tmp', 'pwd'],
  ['-u', '-S', '0', '-G', '0', 'id', '-u'],
  ['-u', '--setuid', '65534', '--setgid', '65534', 'id', '-u'],
  ['-n', '-u', '-i', 'sh', '-c', 'readlink /proc/self/ns/net /proc/self/ns/uts /proc/self/ns/ipc'],
  ['--bogus', 'true'],
  ['-X', 'true'],
  ['-u', '--setgroups', 'maybe', 'true'],
]

for (const line of UNSHARE) {
  test(`unshare ${line.join(' ')}`.slice(0, 80), (t) => same(t, 'unshare', line))
}

// The same habits without privilege: a user namespace first, or the kernel's EPERM (exit 1).
const UNSHARE_AS_NOBODY: string[][] = [
  ['-Ur', 'id', '-u'],
  ['-r', '-n', 'ip', '-o', 'link'],
  ['-Ur', '-fp', '--mount-proc', 'sh', '-c', 'echo $$'],
  ['-U', '--map-user=0', 'id', '-u'],
  ['-c', '-u', 'id', '-u'],
  ['-n', 'true'],
  ['-u', 'hostname'],
]

test('unshare habits as uid 65534: the same status and output', (t) => {
  for (const line of UNSHARE_AS_NOBODY) same(t, 'unshare', line, NOBODY)
})

test('run forwards SIGINT sent to nsjs alone, as unshare --forward-signals', async (t) => {
  const script = 'trap "echo got INT; exit 3" INT; echo ready; while :; do sleep 0.05; done'
  const child = cpSpawn(process.execPath, [CLI, 'run', '-u', 'sh', '-c', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  let out = ''
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('ready')) resolve()
    }),
  )
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  child.kill('SIGINT')
  t.is(await exited, 3)
  t.regex(out, /got INT\n/)
})

test('nsenter habits against a target process: the same status and output', async (t) => {
  const pid = String(await target(t, ['--net', '--uts'], 'habit'))
  const lines: string[][] = [
    ['-t', pid, '-u', 'hostname'],
    ['--target', pid, '--uts', 'hostname'],
    [`--target=${pid}`, '-u', 'hostname'],
    ['-t', pid, '-n', 'ip', '-o', 'link'],
    ['-t', pid, '-n', '-u', 'sh', '-c', 'hostname; readlink /proc/self/ns/net'],
    ['-t', pid, '-a', 'hostname'],
    [`--net=/proc/${pid}/ns/net`, 'readlink', '/proc/self/ns/net'],
    [`--uts=/proc/${pid}/ns/uts`, 'hostname'],
    ['-t', pid, '-u', '-S', '1000', '-G', '1000', 'id', '-u'],
    ['-t', pid, '-u', '--setuid=1000', '--setgid=1000', 'id', '-g'],
    ['-t', pid, '-u', '-F', 'hostname'],
    ['-t', pid, '-u', 'sh', '-c', 'exit 5'],
    ['-t', pid, '-u', '/nonexistent/command'],
    ['-t', pid, '-u', '--wd=/tmp', 'pwd'],
    ['-t', pid, '-u', '-w/tmp', 'pwd'],
    // -w DIR is -w (the target's cwd) and the command DIR: not executable, 126.
    ['-t', pid, '-u', '-w', '/tmp', 'pwd'],
    ['-t', pid, '-u', '--wd', '/tmp', 'pwd'],
    [`-u/proc/${pid}/ns/uts`, 'hostname'],
    ['-t', pid, `-n/proc/${pid}/ns/net`, 'readlink', '/proc/self/ns/net'],
    [`--net=/proc/${pid}/ns/net`, '-w', 'pwd'],
    ['--targt', pid, '-u', 'true'],
    ['-t', pid, '--bogus', 'true'],
  ]
  for (const line of lines) same(t, 'nsenter', line)
  t.is(
    run(['nsjs', 'exec', `--net=/proc/${pid}/ns/net`, 'readlink', '/proc/self/ns/net']).stdout,
    `${nsLink(Number(pid), 'net')}\n`,
  )
})

test('nsenter -r and -w take the root and working directory of the target', async (t) => {
  // A target in a mount namespace of its own, its cwd elsewhere than ours ('/').
  const dir = tempDir(t, 'nsjs-habit-dirs-')
  mkdirSync(join(dir, 'sub'))
  const pid = String(await target(t, ['--mount', '--uts', `--wd=${dir}/sub`]))
  const lines: string[][] = [
    ['-t', pid, '-m', '-w', 'pwd'],
    ['-t', pid, '-w', 'pwd'],
    ['-t', pid, '-r', '-w', 'pwd'],
    ['--target', pid, '--root', '--wd', 'pwd'],
    ['-t', pid, '-a', '-r', '-w', 'sh', '-c', 'pwd; ls; readlink /proc/self/ns/mnt'],
    ['-t', pid, '-m', '-r', 'pwd'],
    ['-t', pid, '-u', '-r', 'ls', '-d', `${dir}/sub`],
    ['-t', pid, '-m', '--wd=/tmp', 'pwd'],
    ['-t', pid, '-m', `-w${dir}`, 'ls'],
    ['-t', pid, '-u', '--root=/', 'pwd'],
    ['-t', pid, '-u', `--root=${dir}`, 'pwd'],
  ]
  for (const line of lines) same(t, 'nsenter', line)
  t.is(run(['nsjs', 'exec', '-t', pid, '-m', '-w', 'pwd']).stdout, `${dir}/sub\n`)
  t.is(run(['nsjs', 'exec', '-t', pid, '-m', '-r', 'pwd']).stdout, '/\n')
})

test('nsenter --preserve-credentials keeps our ids in the entered user namespace', async (t) => {
  // Our uid and gid 0 are 65534 in there: kept, the command is 65534 (without the flag, 0).
  const pid = String(await target(t, ['--user', '--map-user=65534', '--map-group=65534']))
  for (const line of [
    ['-t', pid, '-U', '--preserve-credentials', 'id'],
    ['-t', pid, '--all', '--preserve-credentials', 'sh', '-c', 'id; grep ^CapEff /proc/self/status'],
    ['-t', pid, '-U', '--preserve-credentials', '-S', '65534', 'id', '-u'],
    ['-t', pid, '-U', 'id', '-u'],
  ])
    same(t, 'nsenter', line)
  t.is(run(['nsjs', 'exec', '-t', pid, '-U', '--preserve-credentials', 'id', '-u']).stdout, '65534\n')
  // As 65534, whose ids have no id in there (and who may not enter it): refused, exit 1.
  same(t, 'nsenter', ['-t', pid, '-U', '--preserve-credentials', 'id'], NOBODY)
})

test('nsenter --preserve-credentials into a namespace that does not map our ids', async (t) => {
  // Root in there is 100000 outside; our 0 is unmapped: kept, the command shows as 65534.
  const map = [{ inside: 0, outside: 100000, count: 1 }]
  const holder = spawn('sleep', ['600'], { unshare: ['user'], uidMap: map, gidMap: map, stdio: 'ignore' })
  t.teardown(() => holder.kill('SIGKILL'))
  const pid = String(holder.pid)
  for (const line of [
    ['-t', pid, '-U', '--preserve-credentials', 'id'],
    ['-t', pid, '-U', '--preserve-credentials', 'sh', '-c', 'id -u; grep ^CapEff /proc/self/status'],
    ['-t', pid, '-U', '--preserve-credentials', '-S', '0', 'sh', '-c', 'id -u; id -g'],
    [`--user=/proc/${pid}/ns/user`, '--preserve-credentials', 'id', '-u'],
    // Without it the command would be root in there, which is unmapped: both fail.
    ['-t', pid, '-U', 'id', '-u'],
  ])
    same(t, 'nsenter', line)
  t.is(run(['nsjs', 'exec', '-t', pid, '-U', '--preserve-credentials', 'id', '-u']).stdout, '65534\n')
})

/**
 * lsns and nsjs ls lines, sorted; lsns's taken before and after, only lines in both counted. Taken
 * again (up to five times) while no line was the same both times, or one of them is missing from
 * ours: other test files start and end processes meanwhile, so lsns skips some while it reads
 * /proc, and a count or a lowest pid may change and change back between the three runs. A real
 * difference is missing every time.
 */
function lsLines(args: string[]): { theirs: string[]; ours: string[]; status: [number | null, number | null] } {
  // Columns are padded to the widest cell of each tool's own rows: compared with single spaces.
  const lines = (s: string) =>
    s
      .split('\n')
      .filter(Boolean)
      .map((l) => l.trim().replace(/ +/g, ' '))
  for (let attempt = 1; ; attempt++) {
    const before = run(['lsns', ...args])
    const ours = run(['nsjs', 'ls', ...args])
    const after = run(['lsns', ...args])
    const stable = lines(before.stdout).filter((l) => lines(after.stdout).includes(l))
    const mine = lines(ours.stdout)
    const settled = stable.length > 0 && stable.every((l) => mine.includes(l))
    if (settled || attempt === 5)
      return { theirs: stable.sort(), ours: mine.sort(), status: [before.status, ours.status] }
  }
}

// Serial (ava runs these before the concurrent tests): lsns reads all of /proc, and the unshare
// table's processes coming and going meanwhile make it skip namespaces.
test.serial('lsns habits: -n, -o, -r, -l, -t, -p and a namespace id print what lsns prints', async (t) => {
  const pid = String(await target(t, ['--net', '--uts'], 'habit'))
  const netId = nsLink(Number(pid), 'net').replace(/\D/g, '')
  // A user and pid namespace of their own: PNS and ONS are not all the initial ones.
  const nested = String(await target(t, ['--user', '--map-root-user', '--pid', '--fork']))
  const lines: string[][] = [
    ['-n', '-o', 'NS,TYPE', '-t', 'net'],
    ['--noheadings', '--output', 'NS,TYPE,PID', '--type', 'uts'],
    ['-r', '-n', '-o', 'NS,TYPE', '-t', 'uts'],
    ['-l', '-n', '-o', 'NS,TYPE', '-t', 'net'],
    ['-n', '-o', 'NS,TYPE', '-p', pid],
    ['-n', '-o', 'NS,TYPE,NPROCS,PID', netId],
    ['-o', 'NS,TYPE', '-t', 'uts', '-r'],
    ['-n', '-o', 'NS,TYPE,PNS,ONS', '-p', nested],
    ['-n', '-o', 'NS,TYPE,PNS,ONS', '-t', 'user'],
    ['-n', '-o', 'NS,TYPE,NETNSID', '-p', pid],
    ['-n', '-o', 'NS,TYPE,NETNSID', '-t', 'net'],
    ['-t', 'net'],
  ]
  for (const args of lines) {
    const { theirs, ours, status } = lsLines(args)
    t.deepEqual(status, [0, 0], `lsns ${args.join(' ')}`)
    t.true(theirs.length > 0, `lsns ${args.join(' ')} printed something`)
    for (const l of theirs)
      t.true(ours.includes(l), `lsns ${args.join(' ')}: ${JSON.stringify(l)} in ${JSON.stringify(ours)}`)
  }
  // Bad usage: util-linux exits 1, so does nsjs; an unknown column too.
  for (const args of [['--bogus'], ['-o', 'NOPE']]) {
    t.is(run(['nsjs', 'ls', ...args]).status, run(['lsns', ...args]).status, `ls ${args.join(' ')}`)
  }
})

interface TreeNode {
  ns: number
  type: string
  children?: TreeNode[]
  [k: string]: unknown
}

/** `--tree=KIND -J` of lsns or nsjs ls: the roots, each with lsns's nested children. */
function tree(tool: 'lsns' | 'nsjs', kind: string): TreeNode[] {
  const r = run(tool === 'lsns' ? ['lsns', `--tree=${kind}`, '-J'] : ['nsjs', 'ls', `--tree=${kind}`, '-J'])
  if (r.status !== 0) throw new Error(`${tool} --tree=${kind} -J: exit ${r.status}`)
  return JSON.parse(r.stdout).namespaces
}

/** The node of namespace `ns` and the ns of the node it hangs under (0 for a root). */
function findIn(nodes: TreeNode[], ns: number, above = 0): { node: TreeNode; above: number } | undefined {
  for (const n of nodes) {
    if (n.ns === ns) return { node: n, above }
    const deeper = findIn(n.children ?? [], ns, n.ns)
    if (deeper) return deeper
  }
  return undefined
}

/** A subtree with lsns's keys only (nsjs adds path, paths and owner), children by ns. */
function lsnsKeys(n: TreeNode): unknown {
  const { ns, type, nprocs, pid, user, command, children } = n
  const kids = children?.map(lsnsKeys).sort((a, b) => (a as TreeNode).ns - (b as TreeNode).ns)
  return { ns, type, nprocs, pid, user, command, ...(kids && { children: kids }) }
}

test.serial('lsns --tree=owner|parent|process -J: the same nesting and order', async (t) => {
  const owned = await target(t, ['--user', '--map-root-user', '--net', '--uts'])
  // unshare stays in the new user and uts namespaces; its forked child (the sleep) is in the new
  // pid namespace too: that pid namespace's row hangs under unshare's in the process tree.
  const forked = await target(t, ['--user', '--map-root-user', '--uts', '--pid', '--fork'])
  const id = (pid: number, type: string) => Number(nsLink(pid, type).replace(/\D/g, ''))
  for (const kind of ['owner', 'parent', 'process']) {
    const [before, ours, after] = [tree('lsns', kind), tree('nsjs', kind), tree('lsns', kind)]
    const checks: Array<[number, string]> = [
      [owned, 'user'],
      [owned, 'net'],
      [owned, 'uts'],
      [forked, 'user'],
      [forked, 'pid'],
      [forked, 'uts'],
    ]
    for (const [pid, type] of checks) {
      const ns = id(pid, type)
      const theirs = findIn(before, ns)
      t.deepEqual(findIn(after, ns)?.above, theirs?.above, `lsns --tree=${kind}: ${type} of ${pid} stable`)
      const mine = findIn(ours, ns)
      t.truthy(theirs, `lsns --tree=${kind} shows ${type}:[${ns}]`)
      t.is(mine?.above, theirs?.above, `--tree=${kind}: what ${type}:[${ns}] hangs under`)
    }
    // The top-level rows in lsns's order (those lsns printed both times: the machine's processes
    // come and go); in the parent tree, a user namespace before what it owns.
    const tops = (nodes: TreeNode[]) => nodes.map((n) => n.ns)
    const stable = tops(before).filter((ns) => tops(after).includes(ns))
    t.deepEqual(
      tops(ours).filter((ns) => stable.includes(ns)),
      stable,
      `--tree=${kind}: the order of the top-level rows`,
    )
    // The target's own user namespace and all below it, as lsns prints them.
    if (kind !== 'process') {
      const sub = (nodes: TreeNode[]) => lsnsKeys(findIn(nodes, id(owned, 'user'))?.node as TreeNode)
      t.deepEqual(sub(ours), sub(before), `--tree=${kind}: the subtree of the target's user namespace`)
    }
  }
  // lsns's spellings: -TKIND attached, --tree alone (owner); an unknown kind exits 1 as lsns.
  const owner = run(['nsjs', 'ls', '-Towner', '-J']).stdout
  t.deepEqual(
    findIn(JSON.parse(owner).namespaces, id(owned, 'net'))?.above,
    findIn(tree('lsns', 'owner'), id(owned, 'net'))?.above,
  )
  t.is(run(['nsjs', 'ls', '--tree=bogus']).status, run(['lsns', '--tree=bogus']).status)
  t.is(run(['nsjs', 'ls', '-Tbogus']).status, 1)
})

test('run --net=FILE persists the new namespace as unshare --net=FILE does', (t) => {
  // unshare binds onto a file that exists (touched first, by habit); nsjs takes it as well. Each
  // in a directory of its own: persist() binds its directory onto itself, as iproute2 does.
  for (const tool of ['unshare', 'nsjs'] as const) {
    const file = join(tempDir(t, `nsjs-habit-${tool}-`), 'lab')
    spawnSync('touch', [file])
    const r = run(tool === 'nsjs' ? ['nsjs', 'run', `--net=${file}`, 'true'] : ['unshare', `--net=${file}`, 'true'])
    t.is(r.status, 0, tool)
    const inside = run(['nsenter', `--net=${file}`, 'readlink', '/proc/self/ns/net'])
    t.regex(inside.stdout, /^net:\[\d+\]\n$/, tool)
    t.not(inside.stdout, `${nsLink('self', 'net')}\n`)
    t.true(readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${file} `), `${file} is a mount`)
  }
})

test('a typo gets one line naming the closest option or command, exit 1', (t) => {
  for (const [args, near] of [
    [['exec', '--targt', '1', '-n', 'true'], "'--target'"],
    [['exce', '-t', '1'], "'exec'"],
    [['run', '--hostnam', 'x', '-u', 'true'], "'--hostname'"],
    [['ls', '--jsno'], "'--json'"],
  ] as const) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })
    t.is(r.status, 1, args.join(' '))
    t.is(r.stdout, '')
    const lines = r.stderr.split('\n').filter(Boolean)
    t.is(lines.length, 1, r.stderr)
    t.true(lines[0].includes(`did you mean ${near}?`), r.stderr)
  }
})

test('completion bash offers the commands and the options the parser takes', (t) => {
  const script = run(['nsjs', 'completion', 'bash'])
  t.is(script.status, 0)
  t.is(spawnSync('bash', ['-n'], { input: script.stdout }).status, 0, 'valid bash')
  const complete = (words: string[]) => {
    const probe = `source /dev/stdin <<'NSJS'\n${script.stdout}NSJS\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _nsjs; printf '%s\\n' "\${COMPREPLY[@]}"`
    return spawnSync('bash', ['-c', probe], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
  }
  t.deepEqual(complete(['nsjs', 'ru']), ['run'])
  t.deepEqual(complete(['nsjs', 'exec', '--tar']), ['--target'])
  t.true(complete(['nsjs', 'run', '--map-']).includes('--map-user'))
  t.true(complete(['nsjs', 'run', '--ne']).includes('--net='))
  t.deepEqual(complete(['nsjs', 'ls', '-t', 'ne']), ['net'])
  t.deepEqual(complete(['nsjs', 'ls', '-o', 'NP']), ['NPROCS'])
  // zsh runs the same function through bashcompinit.
  t.regex(run(['nsjs', 'completion', 'zsh']).stdout, /^autoload -U \+X bashcompinit && bashcompinit\n/)
  const bad = spawnSync(process.execPath, [CLI, 'completion', 'fish'], { encoding: 'utf8' })
  t.is(bad.status, 1)
  t.regex(bad.stderr, /completion takes one shell: bash or zsh/)
})

test('the man page is built from the help texts and is the package\'s "man"', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.deepEqual(pkg.man, ['./dist/man/nsjs.1'])
  const page = readFileSync(join(ROOT, 'dist', 'man', 'nsjs.1'), 'utf8')
  t.regex(page, /^\.TH NSJS 1 "" "nsjs \d+\.\d+\.\d+" "User Commands"\n\.SH NAME\n/)
  for (const section of ['SYNOPSIS', 'DESCRIPTION', 'LS', 'EXEC', 'RUN', 'CREATE', 'DELETE', 'ID', 'COMPLETION'])
    t.regex(page, new RegExp(`^\\.SH ${section}$`, 'm'))
  t.regex(page, /\\-\\-map\\-user UID/, 'options as roff minus signs')
  t.notRegex(page, /^\.(?!TH|SH|nf|fi)/m, 'no help line read as a roff request')
  // What `man nsjs` shows once installed, rendered by man itself.
  const file = join(ROOT, 'dist', 'man', 'nsjs.1')
  const shown = spawnSync('man', ['-l', file], {
    encoding: 'utf8',
    env: { ...process.env, MANPAGER: 'cat', MANWIDTH: '120' },
  })
  t.is(shown.status, 0, shown.stderr)
  t.regex(shown.stdout, /--map-user UID/)
  t.regex(shown.stdout, /nsjs exec \(--target PID/)
})

test.serial('netns exec NAME runs as ip netns exec: /sys/class/net, /etc/netns, status', (t) => {
  const name = `nsjs-habit-${process.pid}`
  t.is(run(['ip', 'netns', 'add', name]).status, 0)
  const etc = join('/etc/netns', name)
  const hadEtcNetns = existsSync('/etc/netns')
  t.teardown(() => {
    rmSync(etc, { recursive: true, force: true })
    if (!hadEtcNetns) rmSync('/etc/netns', { recursive: true, force: true })
    run(['ip', 'netns', 'delete', name])
  })
  t.is(run(['ip', 'netns', 'exec', name, 'ip', 'link', 'add', 'hv0', 'type', 'veth', 'peer', 'name', 'hv1']).status, 0)
  mkdirSync(etc, { recursive: true })
  writeFileSync(join(etc, 'hostname'), 'from-etc-netns\n')
  for (const cmd of [
    ['ls', '/sys/class/net'],
    ['cat', '/etc/hostname'],
    ['sh', '-c', 'readlink /proc/self/ns/net; exit 4'],
    ['findmnt', '-n', '-o', 'FSTYPE', '/sys'],
  ]) {
    const theirs = run(['ip', 'netns', 'exec', name, ...cmd])
    const ours = run(['nsjs', 'netns', 'exec', name, ...cmd])
    t.is(ours.status, theirs.status, cmd.join(' '))
    t.is(ours.stdout, theirs.stdout, cmd.join(' '))
  }
  t.regex(run(['nsjs', 'netns', 'exec', name, 'ls', '/sys/class/net']).stdout, /^hv0\nhv1\nlo\n$/)
  // Nothing it mounted reached our mount namespace.
  t.false(readFileSync('/proc/self/mountinfo', 'utf8').includes(join(etc, 'hostname')))
  // A name that is not there and a bad name: errors, exit 1; as uid 65534: EPERM, exit 1.
  t.is(run(['nsjs', 'netns', 'exec', `${name}-none`, 'true']).status, 1)
  t.is(run(['nsjs', 'netns', 'exec', '../x', 'true']).status, 1)
  t.is(run(['nsjs', 'netns', 'exec', name, 'true'], NOBODY).status, 1)
  t.not(run(['ip', 'netns', 'exec', name, 'true'], NOBODY).status, 0)
})
