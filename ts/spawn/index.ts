// spawn() and exec(): processes started in namespaces. options.ts turns a call (its options as
// keys.ts reads them) into the native request, child.ts is the process, pending.ts its hand-over
// to the spawner thread, stdio.ts its streams, exec.ts collects its output, validate.ts checks
// what only spawn takes; namespace-methods.ts adds Namespace#spawn and #exec.
import './namespace-methods'

export type { ChannelControl } from './channel'
export { NsChildProcess } from './child'
export type { ExecError, ExecOptions, ExecResult } from './exec'
export { exec } from './exec'
export type { ExitStatus } from './exits'
export type { ForkOptions, NsForkedProcess, SendHandle } from './fork'
export { fork } from './fork'
export type { MountEntry } from './mounts'
export type { IdMap, IdMapEntry, JoinOption, SpawnOptions } from './options'
export type {
  Capability,
  RlimitName,
  Rlimits,
  RlimitValue,
  SeccompAction,
  SeccompArg,
  SeccompPolicy,
  SeccompRule,
} from './sandbox'
export { spawn } from './start'
export type { StdioOption } from './stdio'
export type { Serialization } from './validate'
