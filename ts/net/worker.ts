// A.worker(): a worker_threads.Worker whose thread starts inside namespaces. A new thread is born
// in its creator's namespaces, and new Worker() creates its thread synchronously, so the creating
// thread enters them around the constructor only (as run() does) and is back at once.
import type { Worker, WorkerOptions } from 'node:worker_threads'

import { lazyWorkerThreads } from '../builtins'
import { namespaceError } from '../errors'
import { Namespace } from '../namespace'
import { invalidArgType } from '../validate'

/** What a worker may start inside: joinable types whose membership a new thread inherits. */
const WORKER_TYPES = ['net', 'uts', 'ipc', 'cgroup'] as const

/**
 * A Worker (`new Worker(filename, options)`) whose thread is created inside the namespaces given:
 * `this`, plus `options.join` (more handles). Its thread stays inside for its whole life; the
 * calling thread is moved only while the constructor runs. Types: net, uts, ipc, cgroup (a mnt
 * namespace would have to be left by a thread that now shares its root and cwd with the worker,
 * which the kernel refuses; user, pid and time cannot be joined in-process).
 */
export function worker(
  this: Namespace,
  filename: string | URL,
  options: WorkerOptions & { join?: Namespace[] } = {},
): Worker {
  const { join = [], ...rest } = options
  if (!Array.isArray(join)) throw invalidArgType('options.join', 'an instance of Array', join)
  const handles = [this, ...join]
  for (const h of handles) {
    if (!(h instanceof Namespace)) throw invalidArgType('options.join[]', 'an instance of Namespace', h)
    const type = h.type
    if (!(WORKER_TYPES as readonly string[]).includes(type)) {
      throw namespaceError({ code: 'ERR_NS_TYPE_MISMATCH', errno: 0, syscall: 'setns', nsType: type, expected: 'net' })
    }
  }
  const enterAll = (i: number): Worker =>
    i === handles.length
      ? new (lazyWorkerThreads().Worker)(filename, rest)
      : (handles[i] as Namespace).run(() => enterAll(i + 1))
  return enterAll(0)
}
