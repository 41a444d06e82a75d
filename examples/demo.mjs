// The nsjs tour: namespaces created, persisted, listed, joined and spawned into, then removed.
// Run as root on Linux: `npm run demo`.
import os from 'node:os'

import { exec, Namespace, spawn } from 'nsjs'

const say = (what, value = '') => console.log(`${what.padEnd(52)} ${value}`)
const name = `nsjs-demo-${process.pid}`
const path = `/run/netns/${name}`

say("this thread's net namespace", Namespace.current('net').id)

// 1. Create a network namespace without moving this thread, and keep it like `ip netns add`.
const lab = await Namespace.create('net')
await lab.persist(path)
say('created and persisted', `${lab.id} at ${path}`)
say(
  'ip netns list sees it',
  (await exec('ip', ['netns', 'list'])).stdout.split('\n').find((l) => l.startsWith(name)),
)

// 2. Configure it from inside with iproute2, joined by nsjs (like `ip netns exec`).
await lab.exec('ip', ['link', 'set', 'lo', 'up'])
await lab.exec('ip', ['addr', 'add', '10.200.0.1/32', 'dev', 'lo'])
say('addresses inside', (await lab.exec('ip', ['-brief', 'addr'])).stdout.trim().replace(/\s+/g, ' '))

// 3. Run synchronous code inside it on this thread; it is moved back afterwards.
const inside = lab.run(() => Object.keys(os.networkInterfaces()))
say('os.networkInterfaces() inside run()', inside.join(', '))
say('and outside again', Object.keys(os.networkInterfaces()).join(', '))

// 4. List it like lsns: persisted namespaces come with their paths.
const row = (await Namespace.list({ type: 'net' })).find((n) => n.id === Number(lab.inode))
say('Namespace.list() row', JSON.stringify({ id: row.id, nprocs: row.nprocs, paths: row.paths }))

// 5. Spawn a sandbox: new user (mapped root), pid, mnt, uts namespaces, /proc mounted, and the
//    persisted network joined.
const box = spawn(
  'sh',
  [
    '-c',
    'echo "hostname=$(hostname) uid=$(id -u) pid=$$ procs=$(ls /proc | grep -c "^[0-9]")"; readlink /proc/self/ns/net',
  ],
  {
    join: [lab],
    unshare: ['user', 'pid', 'mnt', 'uts'],
    uidMap: 'root',
    gidMap: 'root',
    hostname: 'sandbox',
    mountProc: true,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
)
let out = ''
box.stdout.on('data', (d) => (out += d))
await new Promise((resolve) => box.on('close', resolve))
const [summary, netId] = out.trim().split('\n')
say(`spawned sandbox (pid ${box.pid} outside)`, summary)
say('its net namespace is the persisted one', `${netId === lab.id} (${netId})`)
say('exit', JSON.stringify(await box.exited))

// 6. Clean up: unmount and delete, close the handle.
await Namespace.unpersist(path)
lab.close()
say('unpersisted; ip netns list now', JSON.stringify((await exec('ip', ['netns', 'list'])).stdout.trim()))
