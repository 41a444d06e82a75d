// spawn() and exec(): processes started in namespaces. options.ts turns a call into the native
// request, child.ts is the process, pending.ts its hand-over to the spawner thread, stdio.ts its
// streams, exec.ts collects its output, validate.ts checks what only spawn takes;
// namespace-methods.ts adds Namespace#spawn and #exec.
import './namespace-methods'

export type { ExitStatus } from './child'
export { NsChildProcess, spawn } from './child'
export type { ExecError, ExecResult } from './exec'
export { exec } from './exec'
export type { ExecOptions, IdMap, IdMapEntry, JoinOption, SpawnOptions, StdioOption } from './options'
