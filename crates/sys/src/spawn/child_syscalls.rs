//! The syscalls the spawned child makes before execve, as safe functions over `crate::syscall::raw`.
//! Each returns the raw result: >= 0 on success, -errno on failure. Nothing here allocates,
//! locks or touches errno, so all of it may run in a CLONE_VM child. Descriptors are plain
//! integers here: without CLONE_FILES they name entries of the child's own copy of the fd table.

use std::ffi::{c_char, CStr};

use crate::syscall::raw;

/// Pointer arguments go to the kernel as plain words.
#[inline(always)]
fn w<T>(p: *const T) -> usize {
  p as usize
}

#[inline(always)]
fn s(c: &CStr) -> usize {
  w(c.as_ptr())
}

pub fn exit_group(code: i32) -> ! {
  // SAFETY: integer argument; the call does not return.
  unsafe { raw::call(libc::SYS_exit_group, &[code as usize]) };
  #[allow(clippy::empty_loop)]
  loop {}
}

pub fn read(fd: i32, buf: &mut [u8]) -> isize {
  // SAFETY: `buf` is writable for its whole length.
  unsafe { raw::call(libc::SYS_read, &[fd as usize, w(buf.as_mut_ptr()), buf.len()]) }
}

pub fn write(fd: i32, buf: &[u8]) -> isize {
  // SAFETY: `buf` is readable for its whole length.
  unsafe { raw::call(libc::SYS_write, &[fd as usize, w(buf.as_ptr()), buf.len()]) }
}

pub fn close(fd: i32) -> isize {
  // SAFETY: integer argument; closing a descriptor of the child's own fd table.
  unsafe { raw::call(libc::SYS_close, &[fd as usize]) }
}

pub fn open(path: &CStr, flags: i32) -> isize {
  // SAFETY: `path` is NUL-terminated; no mode is needed without O_CREAT.
  unsafe { raw::call(libc::SYS_openat, &[libc::AT_FDCWD as usize, s(path), flags as usize, 0]) }
}

/// The kernel's `struct sigaction` with every field zero: SIG_DFL, no flags, empty mask. Four
/// words covers both layouts (x86_64 has sa_restorer, aarch64 does not).
const SIGACTION_DFL: [usize; 4] = [0; 4];
const SIGSET_SIZE: usize = 8;

pub fn signal_default(sig: i32) -> isize {
  // SAFETY: the new action points to a valid zeroed kernel sigaction; no old action is asked for.
  unsafe { raw::call(libc::SYS_rt_sigaction, &[sig as usize, w(SIGACTION_DFL.as_ptr()), 0, SIGSET_SIZE]) }
}

pub fn unblock_all_signals() -> isize {
  let empty: u64 = 0;
  // SAFETY: the new mask points to a valid 8-byte sigset; no old mask is asked for.
  unsafe { raw::call(libc::SYS_rt_sigprocmask, &[libc::SIG_SETMASK as usize, w(&empty), 0, SIGSET_SIZE]) }
}

pub fn setsid() -> isize {
  // SAFETY: no arguments.
  unsafe { raw::call(libc::SYS_setsid, &[]) }
}

pub fn getppid() -> isize {
  // SAFETY: no arguments.
  unsafe { raw::call(libc::SYS_getppid, &[]) }
}

pub fn set_pdeathsig(sig: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_prctl, &[libc::PR_SET_PDEATHSIG as usize, sig as usize]) }
}

pub fn set_no_new_privs() -> isize {
  // SAFETY: integer arguments; the kernel requires the unused ones to be 0.
  unsafe { raw::call(libc::SYS_prctl, &[libc::PR_SET_NO_NEW_PRIVS as usize, 1, 0, 0, 0]) }
}

pub fn setns(fd: i32, nstype: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_setns, &[fd as usize, nstype as usize]) }
}

pub fn unshare(flags: i32) -> isize {
  // SAFETY: integer argument.
  unsafe { raw::call(libc::SYS_unshare, &[flags as usize]) }
}

pub fn sethostname(name: &[u8]) -> isize {
  // SAFETY: `name` is readable for its length; the kernel takes no NUL.
  unsafe { raw::call(libc::SYS_sethostname, &[w(name.as_ptr()), name.len()]) }
}

pub fn mount(src: Option<&CStr>, target: &CStr, fstype: Option<&CStr>, flags: libc::c_ulong) -> isize {
  let opt = |c: Option<&CStr>| c.map_or(0, s);
  // SAFETY: every string is NUL-terminated or NULL, and no data pointer is passed.
  unsafe { raw::call(libc::SYS_mount, &[opt(src), s(target), opt(fstype), flags as usize, 0]) }
}

pub fn umount2(target: &CStr, flags: i32) -> isize {
  // SAFETY: `target` is NUL-terminated.
  unsafe { raw::call(libc::SYS_umount2, &[s(target), flags as usize]) }
}

pub fn chroot(path: &CStr) -> isize {
  // SAFETY: `path` is NUL-terminated.
  unsafe { raw::call(libc::SYS_chroot, &[s(path)]) }
}

pub fn fchdir(fd: i32) -> isize {
  // SAFETY: integer argument.
  unsafe { raw::call(libc::SYS_fchdir, &[fd as usize]) }
}

pub fn chdir(path: &CStr) -> isize {
  // SAFETY: `path` is NUL-terminated.
  unsafe { raw::call(libc::SYS_chdir, &[s(path)]) }
}

pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> isize {
  // SAFETY: both paths are NUL-terminated.
  unsafe { raw::call(libc::SYS_pivot_root, &[s(new_root), s(put_old)]) }
}

pub fn clear_groups() -> isize {
  // SAFETY: a zero-length list needs no pointer.
  unsafe { raw::call(libc::SYS_setgroups, &[0, 0]) }
}

pub fn setresgid(gid: u32) -> isize {
  let g = gid as usize;
  // SAFETY: integer arguments. Raw, so only this thread changes: the child is single-threaded.
  unsafe { raw::call(libc::SYS_setresgid, &[g, g, g]) }
}

pub fn setresuid(uid: u32) -> isize {
  let u = uid as usize;
  // SAFETY: integer arguments. Raw, so only this thread changes: the child is single-threaded.
  unsafe { raw::call(libc::SYS_setresuid, &[u, u, u]) }
}

/// A CLOEXEC duplicate of `fd` numbered at least `min`.
pub fn dup_above(fd: i32, min: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_fcntl, &[fd as usize, libc::F_DUPFD_CLOEXEC as usize, min as usize]) }
}

/// dup3 rather than dup2, which aarch64 lacks; callers never pass `old == new`.
pub fn dup_onto(old: i32, new: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_dup3, &[old as usize, new as usize, 0]) }
}

/// Lets `fd` survive execve. EBADF for a descriptor that is not open.
pub fn keep_across_exec(fd: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_fcntl, &[fd as usize, libc::F_SETFD as usize, 0]) }
}

pub fn cloexec_from(first: u32) -> isize {
  // SAFETY: integer arguments.
  unsafe {
    raw::call(libc::SYS_close_range, &[first as usize, u32::MAX as usize, libc::CLOSE_RANGE_CLOEXEC as usize])
  }
}

/// # Safety
/// `argv` and `envp` must be NULL-terminated arrays of pointers to NUL-terminated strings.
pub unsafe fn execve(path: &CStr, argv: &[*const c_char], envp: &[*const c_char]) -> isize {
  // SAFETY: `path` is NUL-terminated and the caller vouches for `argv` and `envp`.
  unsafe { raw::call(libc::SYS_execve, &[s(path), w(argv.as_ptr()), w(envp.as_ptr())]) }
}

/// Every signal but SIGKILL and SIGSTOP (which cannot be caught), as the kernel's 64-bit set.
pub const CATCHABLE: u64 = !((1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1)));

/// A close-on-exec signalfd for the signals in `mask` (which must be blocked to be read there).
pub fn signalfd(mask: u64) -> isize {
  // SAFETY: `mask` is a valid 8-byte sigset for the duration of the call.
  unsafe { raw::call(libc::SYS_signalfd4, &[usize::MAX, w(&mask), SIGSET_SIZE, libc::SFD_CLOEXEC as usize]) }
}

pub fn kill(pid: i32, sig: i32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_kill, &[pid as usize, sig as usize]) }
}

/// Reaps any one child that has ended, without waiting: (pid, wait status); pid 0 when none has
/// ended, -errno (ECHILD: no child left).
pub fn reap_any() -> (isize, i32) {
  let mut status: i32 = 0;
  // SAFETY: `status` is a writable int; no rusage is asked for.
  let pid = unsafe {
    raw::call(libc::SYS_wait4, &[usize::MAX, w(&mut status as *mut i32), libc::WNOHANG as usize, 0])
  };
  (pid, status)
}

/// Closes every descriptor from `first` to `last` inclusive.
pub fn close_range(first: u32, last: u32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_close_range, &[first as usize, last as usize, 0]) }
}

/// Starts `f(arg)` on `stack_top` as a child sharing this process's memory, which waits until that
/// child has exec'ed or exited (vfork). Only for a process with memory of its own (the init of a
/// pid namespace, cloned without CLONE_VM): glibc's clone sets errno on failure, read back here.
///
/// # Safety
/// `stack_top` must be the top of a mapped stack, and `f` must obey clone_on's contract.
pub unsafe fn vfork_on(
  stack_top: *mut libc::c_void,
  f: crate::clone::ChildFn,
  arg: *mut libc::c_void,
) -> isize {
  let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
  // SAFETY: the caller vouches for the stack and `f`; `arg` is passed through.
  let pid = unsafe { libc::clone(f, stack_top, flags, arg) };
  if pid < 0 {
    // SAFETY: this process's own errno (see above), read right after the failed call.
    return -(unsafe { *libc::__errno_location() } as isize);
  }
  pid as isize
}

/// Sets resource `res` of this process to (`soft`, `hard`); u64::MAX is RLIM_INFINITY.
pub fn set_rlimit(res: u32, soft: u64, hard: u64) -> isize {
  let new: [u64; 2] = [soft, hard];
  // SAFETY: `new` is a valid struct rlimit64; no old value is asked for; pid 0 is ourselves.
  unsafe { raw::call(libc::SYS_prlimit64, &[0, res as usize, w(new.as_ptr()), 0]) }
}

pub fn drop_bounding_cap(cap: u32) -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_prctl, &[libc::PR_CAPBSET_DROP as usize, cap as usize, 0, 0, 0]) }
}

/// PR_CAP_AMBIENT with `op` (CLEAR_ALL, RAISE) on `cap`.
pub fn ambient(op: i32, cap: u32) -> isize {
  // SAFETY: integer arguments; the kernel requires the unused ones to be 0.
  unsafe { raw::call(libc::SYS_prctl, &[libc::PR_CAP_AMBIENT as usize, op as usize, cap as usize, 0, 0]) }
}

pub fn set_keep_caps() -> isize {
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_prctl, &[libc::PR_SET_KEEPCAPS as usize, 1, 0, 0, 0]) }
}

const CAP_VERSION_3: u32 = 0x2008_0522;

/// This process's permitted set (capget, version 3: two 32-bit words).
pub fn permitted_caps() -> Result<u64, isize> {
  let header: [u32; 2] = [CAP_VERSION_3, 0];
  // Per word: effective, permitted, inheritable.
  let mut data = [0u32; 6];
  // SAFETY: `header` and `data` are the version-3 cap_user_header and two cap_user_data.
  let r = unsafe { raw::call(libc::SYS_capget, &[w(header.as_ptr()), w(data.as_mut_ptr())]) };
  if r < 0 {
    return Err(r);
  }
  Ok(data[1] as u64 | (data[4] as u64) << 32)
}

/// Sets effective, permitted and inheritable to `caps`.
pub fn set_caps(caps: u64) -> isize {
  let header: [u32; 2] = [CAP_VERSION_3, 0];
  let (lo, hi) = (caps as u32, (caps >> 32) as u32);
  let data: [u32; 6] = [lo, lo, lo, hi, hi, hi];
  // SAFETY: `header` and `data` are the version-3 cap_user_header and two cap_user_data.
  unsafe { raw::call(libc::SYS_capset, &[w(header.as_ptr()), w(data.as_ptr())]) }
}

/// Installs the classic BPF program `filter` (sock_filter entries, 8 bytes each) as this
/// process's seccomp filter.
pub fn set_seccomp(filter: &[u8]) -> isize {
  // struct sock_fprog: an unsigned short count, then (aligned) the pointer.
  let prog: [usize; 2] = [filter.len() / 8, w(filter.as_ptr())];
  // SAFETY: `prog` is a valid sock_fprog pointing at `filter`, which the kernel copies.
  unsafe { raw::call(libc::SYS_seccomp, &[libc::SECCOMP_SET_MODE_FILTER as usize, 0, w(prog.as_ptr())]) }
}
