// A private network of two namespaces, like two machines on one cable: both made with
// Namespace.create('net') and persisted under /run/netns (so `ip netns` sees them), a veth pair
// between them configured with ip from inside each, a TCP exchange from one to the other, and
// then everything removed. Nothing touches the host's network: the addresses exist only in the
// two namespaces. Run as root on Linux after `npm run build`: `node examples/private-network.mjs`.
import net from 'node:net'
import os from 'node:os'

import { Namespace } from 'nsjs'

const say = (what, value = '') => console.log(`${what.padEnd(44)} ${value}`)
const names = { a: `nsjs-pn-a-${process.pid}`, b: `nsjs-pn-b-${process.pid}` }
const path = (name) => `/run/netns/${name}`
const PORT = 7077

const made = []
let server
try {
  // 1. Two network namespaces, created without moving this thread, kept where ip netns looks.
  const a = await Namespace.create('net')
  made.push([a, path(names.a)])
  await a.persist(path(names.a))
  const b = await Namespace.create('net')
  made.push([b, path(names.b)])
  await b.persist(path(names.b))
  say('namespace a', `${a.id} at ${path(names.a)}`)
  say('namespace b', `${b.id} at ${path(names.b)}`)

  // 2. The cable: a veth pair made inside a, its peer end moved straight into b (by name, which
  //    is why they are persisted). Each side is configured from inside its namespace.
  await a.exec('ip', ['link', 'add', 'veth-a', 'type', 'veth', 'peer', 'name', 'veth-b', 'netns', names.b])
  for (const [ns, dev, addr] of [
    [a, 'veth-a', '10.77.0.1/24'],
    [b, 'veth-b', '10.77.0.2/24'],
  ]) {
    await ns.exec('ip', ['link', 'set', 'lo', 'up'])
    await ns.exec('ip', ['addr', 'add', addr, 'dev', dev])
    await ns.exec('ip', ['link', 'set', dev, 'up'])
  }
  say('a: addresses', (await a.exec('ip', ['-brief', 'addr', 'show', 'veth-a'])).stdout.trim().replace(/\s+/g, ' '))
  say('b: addresses', (await b.exec('ip', ['-brief', 'addr', 'show', 'veth-b'])).stdout.trim().replace(/\s+/g, ' '))

  // 3. A tiny TCP server in b, in this very process: run() creates the listening socket on this
  //    thread while it is inside b (listen(port) with no host is synchronous, so it is inside).
  server = net.createServer((socket) => {
    const v4 = (ip) => ip.replace(/^::ffff:/, '')
    socket.end(`hello ${v4(socket.remoteAddress)}, this is ${v4(socket.localAddress)}\n`)
  })
  b.run(() => server.listen(PORT))
  await new Promise((resolve) => server.once('listening', resolve))
  say(
    'b: listening (ss inside b)',
    (await b.exec('ss', ['-Htln', `sport = :${PORT}`])).stdout.trim().replace(/\s+/g, ' '),
  )

  // 4. A client in a: node itself, spawned into a, connects across the cable.
  const client = `
    const s = require('node:net').connect(${PORT}, '10.77.0.2')
    let got = ''
    s.on('data', (d) => (got += d))
    s.on('end', () => process.stdout.write(got))
    s.on('error', (e) => { console.error(e.message); process.exit(1) })
    s.setTimeout(5000, () => { console.error('timed out'); process.exit(1) })`
  const reply = await a.exec(process.execPath, ['-e', client])
  say(`a -> 10.77.0.2:${PORT} (TCP)`, reply.stdout.trim())

  // 5. And the host cannot see any of it.
  const hostAddrs = Object.values(os.networkInterfaces())
    .flat()
    .map((i) => i.address)
  say(
    'host has an address in 10.77.0.0/24',
    hostAddrs.some((ip) => ip.startsWith('10.77.0.')) ? 'yes (unexpected)' : 'no',
  )
} finally {
  // 6. Clean up: the server socket holds b, the mounts and handles hold both. Once all are gone
  //    the kernel frees the namespaces, and the veth pair with them.
  await new Promise((resolve) => (server?.listening ? server.close(resolve) : resolve()))
  for (const [ns, p] of made) {
    try {
      await Namespace.unpersist(p)
    } catch (err) {
      // Reported, not thrown: a throw here would replace the error that ended the demo, if any.
      if (err.code !== 'ERR_NS_NOT_NAMESPACE' && err.code !== 'ENOENT') {
        console.error(`could not remove ${p}:`, err)
        process.exitCode = 1
      }
    }
    ns.close()
  }
  say('removed', made.map(([, p]) => p).join(', '))
}
