// A rootless sandbox: new user, pid, mount and network namespaces, root mapped to the caller,
// and a /proc of its own. The command inside is root (uid 0) and PID 1, sees only the loopback
// interface and only its own processes, while outside it is just the caller. No privilege is
// needed: it runs the same as root and as an unprivileged user such as nobody (uid 65534):
//   node examples/rootless-sandbox.mjs
//   setpriv --reuid=65534 --regid=65534 --clear-groups node examples/rootless-sandbox.mjs
// (after `npm run build`).
import { readdirSync } from 'node:fs'

import { Namespace, spawn } from 'nsjs'

const say = (what, value = '') => console.log(`${what.padEnd(44)} ${value}`)
const hostProcs = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length

say('outside: uid, gid', `${process.getuid()}, ${process.getgid()}`)
say('outside: pid', process.pid)
say('outside: processes in /proc', hostProcs())
say('outside: net namespace', Namespace.current('net').id)

// Everything the sandbox reports, one `key value` line each, from inside.
const script = [
  'echo "uid $(id -u)"',
  'echo "gid $(id -g)"',
  'echo "pid $$"',
  'echo "interfaces $(ip -o link show | cut -d: -f2 | tr -d " " | tr "\\n" " ")"',
  'echo "processes $(for p in /proc/[0-9]*; do printf "%s:%s " "${p#/proc/}" "$(cat $p/comm)"; done)"',
  'echo "net $(readlink /proc/self/ns/net)"',
  'echo "proc $(grep " /proc " /proc/self/mountinfo | cut -d" " -f5,9 | head -n1)"',
].join('; ')

const box = spawn('sh', ['-c', script], {
  unshare: ['user', 'pid', 'mnt', 'net'],
  uidMap: 'root',
  gidMap: 'root',
  mountProc: true,
  dieWithParent: true,
  stdio: ['ignore', 'pipe', 'pipe'],
})
let out = ''
let err = ''
box.stdout.on('data', (d) => (out += d))
box.stderr.on('data', (d) => (err += d))
// 'close' comes once the sandbox has exited and its output is read; `exited` says how it ended
// (and rejects with a NamespaceError naming the step if it could not be set up).
await new Promise((resolve) => box.once('close', resolve))
const status = await box.exited
if (status.code !== 0) {
  console.error(`the sandbox failed: ${JSON.stringify(status)}\n${err}`)
  process.exit(1)
}
const inside = Object.fromEntries(
  out
    .trim()
    .split('\n')
    .map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1).trim()]),
)

say('sandbox: its pid outside', box.pid)
say('inside: uid, gid', `${inside.uid}, ${inside.gid}`)
say('inside: pid', inside.pid)
say('inside: network interfaces', inside.interfaces)
say('inside: processes in its /proc', inside.processes)
say('inside: its /proc mount', inside.proc)
say('inside: net namespace', `${inside.net} (${inside.net === Namespace.current('net').id ? 'the same' : 'a new one'})`)
say('sandbox exit', JSON.stringify(status))
