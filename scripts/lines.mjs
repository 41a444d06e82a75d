// Runs a command with its stdout passed through line by line, for the test runners that read
// the summary lines of what they run.
import { spawn } from 'node:child_process'

/**
 * Runs `cmd args`, writing each stdout line through and giving it to `onLine` (stderr goes
 * straight through); resolves with the exit code (1 for a signal).
 */
export function runLines(cmd, args, onLine, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        process.stdout.write(`${line}\n`)
        onLine(line)
      }
    })
    child.on('error', () => {})
    child.on('close', (code, signal) => {
      if (buf) {
        process.stdout.write(`${buf}\n`)
        onLine(buf)
      }
      resolve(code ?? (signal ? 1 : 0))
    })
  })
}
