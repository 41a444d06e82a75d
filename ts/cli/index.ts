/**
 * nsjs: the command-line tool (package.json "bin", through ts/cli.ts), built only on the public API
 * of the library (`../index`). Arguments are parsed with Node's own `util.parseArgs`; the tool has no
 * dependency.
 *
 *   nsjs ls [--type TYPE] [--pid PID] [--json] [--tree]   like lsns, persisted namespaces included
 *   nsjs exec (--target PID [-n -m -u -i -p -U -C -T | -a] | --ns PATH...) [--wd DIR] -- CMD [ARGS]
 *                                                          like nsenter
 *   nsjs run --unshare TYPES [--map-root|--map-current] [--hostname H] [--mount-proc] -- CMD [ARGS]
 *                                                          like unshare --fork
 *   nsjs create TYPE PATH                                  like ip netns add
 *   nsjs delete PATH...                                    like ip netns delete
 *   nsjs id PID [--json]                                   the namespaces of a process
 *
 * Exit status: 0 on success; 1 on an error, printed as ONE line `nsjs: <CODE>: <message>` on stderr
 * (a NamespaceError's code and message), and 1 on bad usage as util-linux's tools (the problem
 * and a usage line; one line with the closest valid name for a mistyped option or command). `exec`
 * and `run` exit with the command's status, 128+N when signal N killed it, 127 when it was not
 * found and 126 when it could not be executed (like a shell and nsenter).
 *
 * JSON output (stable; keys are never renamed or removed, new keys may be added):
 *
 * `nsjs ls --json` prints
 *   {"namespaces":[{"ns":4026531840,"type":"net","nprocs":3,"pid":812,"user":"root",
 *                   "command":"sleep 600","path":"/run/netns/x","paths":["/run/netns/x"]}, ...]}
 *   ns, type, nprocs, pid, user and command have the names and meanings of `lsns --json`: ns is
 *   the inode number, nprocs counts processes (not threads), pid is the lowest pid in the
 *   namespace and user/command are that process's. pid, user and command are null when only a
 *   bind mount holds the namespace. paths are the places it is bind-mounted (persisted) in our
 *   mount namespace, path is the first of them or null. With --tree every entry also has
 *   "owner": the ns of the user namespace that owns it (for a user namespace: its parent), or
 *   null when that is outside our view.
 *
 * `nsjs id PID --json` prints
 *   {"pid":812,"namespaces":{"cgroup":"cgroup:[4026531835]","ipc":"ipc:[...]", ...}}
 *   with one key per namespace type the kernel has, valued as `readlink /proc/PID/ns/TYPE` prints.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'

import { NamespaceError } from '../index'
import { closest, parse, UsageError } from './args'
import { cmdCompletion } from './commands/completion'
import { cmdCreate } from './commands/create'
import { cmdDelete } from './commands/delete'
import { cmdExec } from './commands/exec'
import { cmdId } from './commands/id'
import { cmdLs } from './commands/ls'
import { cmdNetns } from './commands/netns'
import { cmdRun } from './commands/run'
import { out } from './format'
import { help, USAGE } from './help'

function version(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'nsjs') return pkg.version ?? 'unknown'
    }
    if (dirname(dir) === dir) return 'unknown'
  }
}

// The commands by name; each parses its own arguments and resolves with the exit status.
const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  ls: cmdLs,
  exec: cmdExec,
  run: cmdRun,
  create: cmdCreate,
  delete: cmdDelete,
  id: cmdId,
  netns: cmdNetns,
  completion: cmdCompletion,
}

/** Runs the tool on `argv` (without node and the script) and resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    const [first, ...rest] = argv
    if (first === undefined) throw new UsageError('a command is needed')
    if (first === 'help') return help(rest[0] !== undefined && rest[0] in COMMANDS ? rest[0] : 'nsjs')
    if (first.startsWith('-')) {
      const { values } = parse('nsjs', argv, { version: { type: 'boolean', short: 'V' } })
      if (values.version) {
        out(version())
        return 0
      }
      return help('nsjs')
    }
    const run = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
    if (!run) {
      const near = closest(first, Object.keys(COMMANDS))
      if (near)
        throw new UsageError(`unknown command '${first}'; did you mean '${near}'?`, undefined, 'ERR_USAGE', true)
      throw new UsageError(`unknown command '${first}'`)
    }
    return await run(rest)
  } catch (err) {
    return report(err)
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim()
}

/** Prints an error as described at the top of this file and gives the exit status. */
function report(err: unknown): number {
  if (err instanceof UsageError) {
    const cmd = err.command ?? 'nsjs'
    const help = cmd === 'nsjs' ? 'nsjs --help' : `nsjs ${cmd} --help`
    process.stderr.write(
      err.brief
        ? `nsjs: ${err.code}: ${oneLine(err.message)} (${help})\n`
        : `nsjs: ${err.code}: ${oneLine(err.message)}\nusage: ${USAGE[cmd]}${cmd === 'nsjs' ? '' : `   (${help})`}\n`,
    )
    return 1
  }
  const e = err as Partial<NamespaceError> & Error
  const code = typeof e?.code === 'string' ? e.code : (e?.name ?? 'Error')
  process.stderr.write(`nsjs: ${code}: ${oneLine(String(e?.message ?? err))}\n`)
  if (err instanceof NamespaceError && err.step === 'execve') return err.code === 'ENOENT' ? 127 : 126
  return 1
}
