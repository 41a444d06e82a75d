import { resolve } from 'node:path'
import { types as utilTypes } from 'node:util'

import { native, nativeAsync } from './errors'
import { closedError, dropped, positionOf, supportedPositions, types } from './handles'
import { binding } from './loader'
import type { NativeNamespace } from './native'
import { cwdChanged, returnedPromise } from './thread'
import type { ListOptions, NamespaceInfo, NamespaceType } from './types'
import {
  invalidArgType,
  validateFd,
  validateFunction,
  validateObject,
  validateOptionalType,
  validatePath,
  validatePid,
  validateType,
  validateTypes,
} from './validate'

const wrapKey = Symbol('nsjs.native')

/**
 * A handle on one Linux namespace: an open, close-on-exec descriptor on its nsfs file. The
 * handle keeps the namespace alive while it is open. It is released by `close()`, by `using`
 * (Symbol.dispose), or, for a handle dropped without either, after it has been garbage-collected
 * and the event loop has turned: code that drops handles without returning to the event loop
 * keeps all their descriptors open meanwhile (and fails with EMFILE at RLIMIT_NOFILE).
 *
 * Namespace membership belongs to threads, not processes: `join()` and `run()` act on the
 * calling JS thread only. See the README section "What moves when you join".
 *
 * @example
 * const net = Namespace.open(pid, 'net') // the network namespace of process `pid`
 * const name = net.run(() => os.networkInterfaces()) // its interfaces, seen from inside
 * net.close()
 */
export class Namespace {
  /** The descriptor, which the binding's table holds for this handle; -1 after close(). */
  #fd: number
  /** The type's position in {@link types}. */
  readonly #position: number
  /** nsfs device and inode, read when first asked. */
  #id: readonly bigint[] | undefined
  /** The native object for this handle, made when first asked ({@link Namespace.nativeHandle}). */
  #view: NativeNamespace | undefined

  // Private, so the published types offer no constructor; the key refuses a call from JS too.
  private constructor(key: typeof wrapKey, fd: number, position: number) {
    if (key !== wrapKey)
      throw new TypeError('Namespace handles are made by Namespace.open(), current(), fromPath(), fromFd() or create()')
    this.#fd = fd
    this.#position = position
    dropped.register(this, fd, this)
  }

  /** @internal Takes over a handle the binding handed out as an object. */
  static wrap(n: NativeNamespace): Namespace {
    const b = binding()
    const fd = native(() => b.adoptHandle(n))
    return new Namespace(wrapKey, fd, b.handleType(fd))
  }

  /**
   * @internal The native object for this handle, for the binding's functions that take one.
   * Throws ERR_NS_CLOSED after close().
   */
  get nativeHandle(): NativeNamespace {
    const fd = this.#open()
    this.#view ??= native(() => binding().handleView(fd))
    return this.#view
  }

  /** The descriptor; ERR_NS_CLOSED after close(). */
  #open(): number {
    if (this.#fd < 0) throw closedError()
    return this.#fd
  }

  /** [device, inode] */
  #identity(): readonly bigint[] {
    const fd = this.#open()
    this.#id ??= native(() => binding().handleId(fd))
    return this.#id
  }

  /**
   * The namespace of type `type` that process `pid` is in (`/proc/<pid>/ns/<type>`). Safe
   * against pid reuse: the process is pinned by a pidfd before its namespace is taken.
   *
   * @throws NamespaceError `ESRCH` when no such process exists; `ERR_NS_THREAD_ID` when `pid`
   *   is the id of a thread that is not its process's first (`tgid` names the process);
   *   `EACCES`/`EPERM` without ptrace access to it; `ERR_NS_UNSUPPORTED` when the kernel lacks
   *   the type.
   * @example const net = Namespace.open(pid, 'net')
   */
  static open(pid: number, type: NamespaceType): Namespace {
    validatePid(pid)
    validateType(type)
    const position = positionOf(type)
    const kept = native(() => binding().openPid(pid, position))
    return new Namespace(wrapKey, kept, position)
  }

  /**
   * Handles on several namespaces of process `pid` (default: every type this kernel has), in
   * the order of `types`. All are taken through one pidfd, so they are all that one process's,
   * even if it exits and its pid is reused meanwhile. On failure none is left open.
   *
   * @throws NamespaceError as {@link Namespace.open}.
   * @example const [net, mnt] = Namespace.openAll(pid, ['net', 'mnt'])
   */
  static openAll(pid: number, types?: readonly NamespaceType[]): Namespace[] {
    validatePid(pid)
    const positions = types === undefined ? supportedPositions() : validateTypes(types).map(positionOf)
    const fds = native(() => binding().openPidAll(pid, positions))
    return fds.map((fd, i) => new Namespace(wrapKey, fd, positions[i] as number))
  }

  /** The calling thread's own namespace of `type` (`/proc/thread-self/ns/<type>`). */
  static current(type: NamespaceType): Namespace {
    validateType(type)
    const position = positionOf(type)
    const kept = native(() => binding().openCurrent(position))
    return new Namespace(wrapKey, kept, position)
  }

  /**
   * Opens a namespace file, such as a persisted `/run/netns/<name>` or `/proc/<pid>/ns/<type>`.
   * With `type`, the file must be a namespace of that type. The file is checked to be on nsfs
   * through an O_PATH descriptor before it is opened, so naming a FIFO or device opens nothing.
   *
   * @throws NamespaceError `ERR_NS_NOT_NAMESPACE` when the file is not on nsfs,
   *   `ERR_NS_TYPE_MISMATCH` when it is another type, `ENOENT` when it does not exist.
   */
  static fromPath(path: string, type?: NamespaceType): Namespace {
    validatePath(path)
    validateOptionalType(type)
    const position = type === undefined ? undefined : positionOf(type)
    const fd = native(() => binding().openPath(resolve(path), position))
    return new Namespace(wrapKey, fd, position ?? binding().handleType(fd))
  }

  /**
   * Adopts a namespace descriptor, for example one received over a Unix socket. The handle
   * holds its own duplicate; the caller still owns (and closes) `fd`. The type is read from the
   * kernel (NS_GET_NSTYPE) and checked against `type` when given.
   */
  static fromFd(fd: number, type?: NamespaceType): Namespace {
    validateFd(fd)
    validateOptionalType(type)
    const position = type === undefined ? undefined : positionOf(type)
    const own = native(() => binding().openFd(fd, position))
    return new Namespace(wrapKey, own, position ?? binding().handleType(own))
  }

  /**
   * Creates a new namespace of `type`, held by the returned handle. The caller is not moved into
   * it: the work happens on a short-lived native thread (user and pid: a short-lived child) that
   * the calling thread starts, so the new namespace is a copy of the calling thread's (its
   * hostname for uts, its mount table for mnt), as with `createSync`, never of a pool thread's.
   * Persist it with `persist()` to keep it after the handle is closed.
   *
   * A new pid namespace's first process is its init; nsjs's init exits at once, after which the
   * kernel admits no more processes into it. To run processes in a new pid namespace use
   * `spawn(cmd, args, { unshare: ['pid'] })`.
   */
  static async create(type: NamespaceType): Promise<Namespace> {
    validateType(type)
    return Namespace.wrap(await nativeAsync(() => binding().create(type)))
  }

  /** Synchronous twin of {@link Namespace.create}. */
  static createSync(type: NamespaceType): Namespace {
    validateType(type)
    return Namespace.wrap(native(() => binding().createSync(type)))
  }

  /**
   * Gives the calling JS thread new namespaces of the given types (unshare(2)). Like `join()`,
   * only this thread moves. A Node process cannot unshare a user namespace for itself, nor a pid
   * namespace (a thread whose children go elsewhere can no longer start threads):
   * `ERR_NS_MULTITHREADED`. A new time namespace applies to children spawned afterwards.
   *
   * This is {@link Namespace.unshareSync} wrapped in a Promise, for a Promise API alike across
   * the class: unshare(2) must run on the calling thread itself, so no other thread can do the
   * work, and the Promise is settled when this returns (errors, argument errors too, reject it).
   */
  static async unshare(types: readonly NamespaceType[]): Promise<void> {
    Namespace.unshareSync(types)
  }

  /** Synchronous twin of {@link Namespace.unshare}. */
  static unshareSync(types: readonly NamespaceType[]): void {
    const list = validateTypes(types)
    native(() => binding().unshareThread(list))
  }

  /**
   * Removes a namespace persisted with `persist()` (or `ip netns add`): unmounts the bind mount
   * and deletes the file, like `ip netns delete`. The namespace itself lives on while a process
   * or handle still holds it. Also removes the empty file a persist killed mid-way leaves. The
   * last component of `path` is never followed as a symbolic link.
   *
   * This is {@link Namespace.unpersistSync} wrapped in a Promise, for a Promise API alike across
   * the class: the work is a few syscalls that must run on the calling thread, in its mount
   * namespace, so the Promise is settled when this returns (errors reject it).
   *
   * @throws NamespaceError `ENOENT` when nothing is at `path`, `ERR_NS_NOT_NAMESPACE` when the
   *   file there is not a persisted namespace, `ELOOP` when it is a symbolic link.
   * @example await Namespace.unpersist('/run/netns/lab')
   */
  static async unpersist(path: string): Promise<void> {
    Namespace.unpersistSync(path)
  }

  /** Synchronous twin of {@link Namespace.unpersist}. */
  static unpersistSync(path: string): void {
    validatePath(path)
    native(() => binding().unpersist(resolve(path)))
  }

  /**
   * Every namespace on the system, found where util-linux 2.41 `lsns --json` finds them: those
   * processes are in (`/proc/<pid>/ns`), those only an open descriptor holds (`/proc/<pid>/fd`,
   * `Namespace` handles of this or any process included), net namespaces only a socket holds,
   * those persisted by bind mounts (with their paths), and the user namespaces (and pid or user
   * parents) that those keep alive. A namespace no process is in has `nprocs: 0` and no `pid` or
   * `command`. With `pid`, only the namespaces that process is in (`lsns -p`).
   *
   * Namespaces that processes are in are found by stat and readlink, never opened; one that no
   * process is in is opened to ask the kernel its owner (as lsns does). Sockets are looked into
   * with pidfd_getfd (Linux 5.6). The descriptors of processes the caller may not ptrace, and of
   * PID 1 (unlike lsns), are not looked into. The cost grows with the number of descriptors open
   * on the machine (one readlink each) and of sockets (a pidfd_getfd and an ioctl each).
   *
   * The scan runs on a native thread that the calling thread starts, in the calling thread's
   * namespaces: `paths` are those of its mount namespace, as `listSync` gives them.
   */
  static async list(options?: ListOptions): Promise<NamespaceInfo[]> {
    const { type, pid } = listOptions(options)
    return await nativeAsync(() => binding().list(type, pid))
  }

  /** Synchronous twin of {@link Namespace.list}. */
  static listSync(options?: ListOptions): NamespaceInfo[] {
    const { type, pid } = listOptions(options)
    return native(() => binding().listSync(type, pid))
  }

  /** The namespace type: 'net', 'mnt', ... */
  get type(): NamespaceType {
    this.#open()
    return types()[this.#position] as NamespaceType
  }

  /** The nsfs inode number that identifies the namespace (the number in `net:[4026532177]`). */
  get inode(): bigint {
    return this.#identity()[1] as bigint
  }

  /** The nsfs device number; with `inode` the kernel's identity of a namespace. */
  get device(): bigint {
    return this.#identity()[0] as bigint
  }

  /** The identifier `readlink /proc/<pid>/ns/<type>` prints, e.g. `'net:[4026532177]'`. */
  get id(): string {
    return `${this.type}:[${this.inode}]`
  }

  /** The descriptor this handle owns (close-on-exec). Valid until `close()`. */
  get fd(): number {
    return this.#open()
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#fd < 0
  }

  /** Whether both handles refer to the same namespace (same nsfs device and inode). */
  equals(other: Namespace): boolean {
    if (!(other instanceof Namespace)) {
      throw invalidArgType('other', 'an instance of Namespace', other)
    }
    const [dev, ino] = this.#identity()
    const [otherDev, otherIno] = other.#identity()
    return dev === otherDev && ino === otherIno
  }

  /**
   * Moves the calling JS thread into this namespace (setns(2), with the type checked), and
   * leaves it there. Other threads of the process, including libuv's pool threads that already
   * exist, stay where they were. For mnt, the thread first gets its own root and cwd
   * (unshare(CLONE_FS)), and its cwd becomes the namespace's root.
   *
   * This is {@link Namespace.joinSync} wrapped in a Promise, for a Promise API alike across the
   * class: only the calling thread can move itself, so the move happens before `join()` returns
   * and the Promise is already settled (errors reject it).
   *
   * @throws NamespaceError `ERR_NS_MULTITHREADED` for user, time and pid namespaces (use spawn
   *   with `join`), `EPERM` without CAP_SYS_ADMIN over the namespace, `ERR_NS_CLOSED`.
   */
  join(): Promise<void> {
    try {
      this.joinSync()
      return Promise.resolve()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Synchronous twin of {@link Namespace.join}. */
  joinSync(): void {
    const fd = this.#open()
    const position = this.#position
    native(() => binding().joinFd(fd, position))
    if (types()[position] === 'mnt') cwdChanged()
  }

  /**
   * Runs the synchronous `fn` with the calling thread inside this namespace, then moves the
   * thread back (and, for mnt, restores its cwd), also when `fn` throws. Returns what `fn` returns.
   *
   * Only work done synchronously inside `fn` happens in the namespace: a socket created one tick
   * later (`net.connect`, `listen(port, host)`, dgram `bind`) is created outside. `fn` must not
   * return a Promise, since the awaited part would run outside: its type refuses such a `fn`,
   * an `async` function is refused before anything runs, and any other `fn` that returns a
   * thenable throws after it ran (and the thread is back). For sockets inside a net namespace
   * use `listen()`, `connect()`, `createSocket()`, `agent()` and `dispatcher()` instead. From its
   * first run() of a type on, a thread keeps a descriptor on its own namespace of that type open.
   * @throws NamespaceError `ERR_NS_NO_WAY_BACK` (step `restore`), before moving, for a thread that
   *   could not come back (its namespace owned above the process's user namespace; no CAP_SYS_ADMIN).
   */
  run<T>(fn: () => T & (T extends PromiseLike<unknown> ? never : unknown)): T {
    validateFunction(fn)
    if (utilTypes.isAsyncFunction(fn)) throw returnedPromise(fn, 'is an async function')
    const fd = this.#open()
    const position = this.#position
    const b = binding()
    native(() => b.runEnter(fd, position))
    const mnt = types()[position] === 'mnt'
    if (mnt) cwdChanged()
    let result: T
    try {
      result = fn()
    } finally {
      native(() => b.runRestore())
      if (mnt) cwdChanged()
    }
    if (
      utilTypes.isPromise(result) ||
      (result !== null && typeof (result as { then?: unknown })?.then === 'function')
    ) {
      throw returnedPromise(fn, 'returned a Promise')
    }
    return result
  }

  /**
   * Keeps the namespace alive at `path` with a bind mount of its nsfs file, like
   * `ip netns add` (for a net namespace at `/run/netns/<name>`, `ip netns` sees it). The file
   * is created and must not exist; missing parent directories are created (as `ip netns add`
   * makes /run/netns). The mount is made in the calling thread's mount namespace and survives
   * `close()`; remove it with `Namespace.unpersist(path)`.
   *
   * The directory is treated as iproute2 treats /run/netns: a mount point is mounted into as it
   * is; a directory that is not one is bound onto itself once and made shared (private for a mnt
   * namespace under a shared mount, which the kernel requires), and stays a mount point. The last
   * component is never followed as a symbolic link. See the README section on persist.
   *
   * This is {@link Namespace.persistSync} wrapped in a Promise, for a Promise API alike across
   * the class: the mount is made by the calling thread, in its mount namespace, so the Promise is
   * settled when this returns (errors reject it).
   *
   * @throws NamespaceError `EEXIST` when `path` exists, `ERR_NS_SHARED_MOUNT` for a mnt namespace
   *   in a shared mount point, `ELOOP` for a mount namespace not newer than the caller's, `EPERM`
   *   without CAP_SYS_ADMIN over the caller's mount namespace.
   * @example await (await Namespace.create('net')).persist('/run/netns/lab')
   */
  async persist(path: string): Promise<void> {
    this.persistSync(path)
  }

  /** Synchronous twin of {@link Namespace.persist}. */
  persistSync(path: string): void {
    validatePath(path)
    const fd = this.#open()
    native(() => binding().handlePersist(fd, resolve(path)))
  }

  /** The user namespace that owns this namespace (NS_GET_USERNS). */
  owner(): Namespace {
    const fd = this.#open()
    const kept = native(() => binding().handleOwner(fd))
    return new Namespace(wrapKey, kept, positionOf('user'))
  }

  /**
   * The parent of a pid or user namespace (NS_GET_PARENT).
   *
   * @throws NamespaceError `EINVAL` for other types, `EPERM` when the parent is outside the
   *   caller's own namespace.
   */
  parent(): Namespace {
    const fd = this.#open()
    const kept = native(() => binding().handleParent(fd))
    return new Namespace(wrapKey, kept, this.#position)
  }

  /** The uid of the creator of a user namespace (NS_GET_OWNER_UID). */
  ownerUid(): number {
    const fd = this.#open()
    return native(() => binding().handleOwnerUid(fd))
  }

  // spawn() and exec() are added by ts/spawn/namespace-methods.ts: spawn needs this class (join
  // handles, NsChildProcess#namespaces), so this module does not import it.

  /** Releases the descriptor. Idempotent. */
  close(): void {
    const fd = this.#fd
    if (fd < 0) return
    this.#fd = -1
    this.#view = undefined
    dropped.unregister(this)
    binding().closeHandle(fd)
  }

  /** Closes the handle at the end of a `using` scope, as {@link Namespace.close}. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** @internal */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.closed ? 'Namespace <closed>' : `Namespace <${this.id}>`
  }
}

function listOptions(options: unknown): ListOptions {
  const o = validateObject(options, 'options')
  return {
    type: validateOptionalType(o.type, 'options.type'),
    pid: o.pid === undefined ? undefined : validatePid(o.pid, 'options.pid'),
  }
}
