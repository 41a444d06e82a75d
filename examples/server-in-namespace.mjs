// An HTTP server that lives inside its own network namespace, reached from the host over a veth
// pair (host side 10.78.0.1/24, inside 10.78.0.2/24), the way a container's port is reached.
// The listening socket is created by this process while its thread is inside the namespace
// (ns.run), so the server is there and nowhere else: ss finds it inside, not on the host.
// Everything is removed at the end.
// Run as root on Linux after `npm run build`: `node examples/server-in-namespace.mjs`.
import http from 'node:http'
import os from 'node:os'

import { exec, Namespace } from 'nsjs'

const say = (what, value = '') => console.log(`${what.padEnd(44)} ${value}`)
const name = `nsjs-srv-${process.pid}`
const path = `/run/netns/${name}`
const hostDev = `nsjsv${process.pid}h` // at most 15 characters, as interface names must be
const PORT = 8078

const hostAddrs = () =>
  Object.values(os.networkInterfaces())
    .flat()
    .map((i) => i.address)
if (hostAddrs().some((ip) => ip.startsWith('10.78.0.'))) {
  console.error('10.78.0.0/24 is already in use on this host; this example needs it free')
  process.exit(1)
}

function get(host) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port: PORT, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`))
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
  })
}

let ns
let persisted = false
let vethMade = false
let server
try {
  // 1. The namespace, persisted so that ip can name it when moving the veth's end into it.
  ns = await Namespace.create('net')
  await ns.persist(path)
  persisted = true
  say('server namespace', `${ns.id} at ${path}`)

  // 2. The veth pair: one end on the host, the other created directly inside as eth0.
  await exec('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name])
  vethMade = true
  await exec('ip', ['addr', 'add', '10.78.0.1/24', 'dev', hostDev])
  await exec('ip', ['link', 'set', hostDev, 'up'])
  await ns.exec('ip', ['link', 'set', 'lo', 'up'])
  await ns.exec('ip', ['addr', 'add', '10.78.0.2/24', 'dev', 'eth0'])
  await ns.exec('ip', ['link', 'set', 'eth0', 'up'])
  say('host side', `${hostDev} 10.78.0.1/24`)
  say('inside', (await ns.exec('ip', ['-brief', '-4', 'addr', 'show', 'eth0'])).stdout.trim().replace(/\s+/g, ' '))

  // 3. The server. Its request handling runs on this thread as usual, but its listening socket
  //    is made while the thread is inside the namespace: listen(port) with no host creates the
  //    socket synchronously, inside run(). (listen(port, host) would create it a tick later,
  //    back outside; see the README.)
  server = http.createServer((req, res) => {
    const v4 = (ip) => ip.replace(/^::ffff:/, '')
    res.end(`hello ${v4(req.socket.remoteAddress)}, from ${v4(req.socket.localAddress)}:${PORT} inside ${ns.id}\n`)
  })
  ns.run(() => server.listen(PORT))
  await new Promise((resolve) => server.once('listening', resolve))
  say(
    'listening inside (ss in the namespace)',
    (await ns.exec('ss', ['-Htln', `sport = :${PORT}`])).stdout.trim().replace(/\s+/g, ' '),
  )
  say(
    'listening on the host (ss on the host)',
    (await exec('ss', ['-Htln', `sport = :${PORT}`])).stdout.trim() || 'nothing',
  )

  // 4. From the host (this process's own client socket is outside), over the veth.
  say(`GET http://10.78.0.2:${PORT}/`, await get('10.78.0.2'))
} finally {
  // 5. Clean up: close the server (its socket holds the namespace), delete the veth pair (both
  //    ends go), remove the mount, close the handle.
  await new Promise((resolve) => (server?.listening ? server.close(resolve) : resolve()))
  if (vethMade) await exec('ip', ['link', 'del', hostDev])
  if (persisted) await Namespace.unpersist(path)
  ns?.close()
  say('removed', `${hostDev}, ${path}; host has 10.78.0.1: ${hostAddrs().includes('10.78.0.1') ? 'yes' : 'no'}`)
}
