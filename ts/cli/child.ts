// The command of exec and run: a child with stdio passed through; we exit as it did.
import { constants as osConstants } from 'node:os'

import { type SpawnOptions, spawn } from '../index'

/** Signals sent to nsjs alone that the command should get. Ctrl-C and Ctrl-\ reach it directly. */
const FORWARD: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGUSR2']
const IGNORE: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT']

/**
 * Runs `command` with `options` and stdio inherited; resolves with a shell's exit status for it.
 * `forward` adds signals that are forwarded rather than ignored (`run` forwards SIGINT, as unshare
 * --forward-signals does: a kill -INT of nsjs alone reaches the command).
 */
export async function runChild(
  command: string[],
  options: SpawnOptions,
  forward: readonly NodeJS.Signals[] = [],
): Promise<number> {
  const [file, ...rest] = command
  const child = spawn(file, rest, { ...options, stdio: 'inherit' })
  child.on('error', () => {}) // reported through `exited`
  const handlers = new Map<NodeJS.Signals, () => void>()
  for (const s of IGNORE) handlers.set(s, () => {})
  for (const s of [...FORWARD, ...forward]) handlers.set(s, () => child.kill(s))
  for (const [s, h] of handlers) process.on(s, h)
  try {
    const { code, signal } = await child.exited
    return signal ? 128 + (osConstants.signals[signal] ?? 0) : (code ?? 1)
  } finally {
    for (const [s, h] of handlers) process.off(s, h)
  }
}
