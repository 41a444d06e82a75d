// The worker of smoke.mjs: spawns from a thread that is not the main one (exits are watched by
// the native reaper thread there) and posts what the command printed.
import { parentPort } from 'node:worker_threads'
import nsjs from '../../dist/esm/index.mjs'

const { stdout } = await nsjs.exec('hostname', [], { unshare: ['uts'], hostname: 'worker' })
parentPort.postMessage(stdout)
