//! Processes and threads: pidfds, waiting for a child, and what the scheduler offers the caller.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::{check, owned};
use crate::error::{Error, Result};

pub fn pidfd_open(pid: libc::pid_t) -> Result<OwnedFd> {
  // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
  let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
  owned(ret, "pidfd_open").map_err(|e| e.pid(pid))
}

/// A duplicate, in this process, of descriptor `fd` of the process behind `pidfd` (close-on-exec,
/// as pidfd_getfd always makes it). Needs ptrace access to that process.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: RawFd) -> Result<OwnedFd> {
  // SAFETY: pidfd_getfd takes a pidfd, a descriptor number and flags 0, and returns a new
  // descriptor or -1; `pidfd` is open for the borrow.
  let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), fd, 0) } as libc::c_int;
  owned(ret, "pidfd_getfd")
}

pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> Result<()> {
  // SAFETY: no siginfo pointer is passed (NULL), flags 0; `pidfd` is open for the borrow.
  let ret = unsafe {
    libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0)
  } as libc::c_int;
  check(ret, "pidfd_send_signal").map(drop)
}

/// `waitid(P_PIDFD)`: `Some((code, signal))` once the child has exited and was reaped; `None`
/// when `nohang` and it is still running. `code` is -1 when a signal ended it.
/// __WALL: a child whose exit signal is not SIGCHLD is otherwise invisible to waitid.
pub fn waitid_pidfd(pidfd: BorrowedFd<'_>, nohang: bool) -> Result<Option<(i32, i32)>> {
  // SAFETY: an all-zero siginfo_t is valid; the kernel fills it in.
  let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
  let flags = libc::WEXITED | libc::__WALL | if nohang { libc::WNOHANG } else { 0 };
  loop {
    // SAFETY: `info` is writable; P_PIDFD takes the descriptor as the id.
    let ret = unsafe { libc::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, flags) };
    if ret < 0 {
      let e = Error::last("waitid");
      if e.errno == libc::EINTR {
        continue;
      }
      return Err(e);
    }
    break;
  }
  // SAFETY: si_pid and si_status are valid to read after waitid returned for a child event.
  let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
  if pid == 0 {
    return Ok(None);
  }
  Ok(Some(match info.si_code {
    libc::CLD_EXITED => (status, 0),
    _ => (-1, status),
  }))
}

/// `waitpid` that retries on EINTR; for children this crate made and reaps itself.
pub fn waitpid(pid: libc::pid_t) -> Result<libc::c_int> {
  let mut status = 0;
  loop {
    // SAFETY: `status` is writable; `pid` is a child of ours that nobody else reaps.
    let ret = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    if ret >= 0 {
      return Ok(status);
    }
    let e = Error::last("waitpid");
    if e.errno != libc::EINTR {
      return Err(e.pid(pid));
    }
  }
}

/// How many threads the calling process has, from /proc/self/stat.
pub fn thread_count() -> usize {
  std::fs::read_to_string("/proc/self/stat")
    .ok()
    .and_then(|s| {
      let after = s.rsplit_once(')')?.1;
      after.split_whitespace().nth(17)?.parse().ok()
    })
    .unwrap_or(usize::MAX)
}

/// How many CPUs are online (CPU numbers below it may still be outside this process's cpuset).
pub fn online_cpus() -> usize {
  // SAFETY: sysconf has no preconditions.
  unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize
}

/// Lets the calling thread run on `cpu` only.
pub fn pin_to_cpu(cpu: usize) -> Result<()> {
  if cpu >= libc::CPU_SETSIZE as usize {
    return Err(Error::os(libc::EINVAL, "sched_setaffinity"));
  }
  // SAFETY: an all-zero cpu_set_t is the empty set.
  let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
  // SAFETY: CPU_SET writes within the set: `cpu` is below CPU_SETSIZE.
  unsafe { libc::CPU_SET(cpu, &mut set) };
  // SAFETY: `set` is valid and its size is passed; 0 is the calling thread.
  check(
    unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) },
    "sched_setaffinity",
  )
  .map(drop)
}

/// The calling thread's effective capabilities (capget, version 3: two 32-bit words), bit `n`
/// for capability `n`.
pub fn effective_caps() -> Result<u64> {
  // _LINUX_CAPABILITY_VERSION_3, pid 0: the calling thread.
  let header: [u32; 2] = [0x2008_0522, 0];
  // Two { effective, permitted, inheritable } structs: the low and the high 32 capabilities.
  let mut data = [0u32; 6];
  // SAFETY: capget reads the 8-byte header and writes the two 12-byte structs of version 3.
  let ret = unsafe { libc::syscall(libc::SYS_capget, header.as_ptr(), data.as_mut_ptr()) } as libc::c_int;
  check(ret, "capget")?;
  Ok(u64::from(data[0]) | u64::from(data[3]) << 32)
}

/// Sets the calling thread's signal mask with the raw rt_sigprocmask (glibc's own refuses to
/// block the signals it uses for setuid and setgroups across threads) and returns the old one.
pub fn swap_signal_mask_raw(mask: u64) -> Result<u64> {
  let mut old: u64 = 0;
  // SAFETY: the kernel's sigset_t is 8 bytes on Linux; both pointers are valid for it.
  let ret = unsafe {
    libc::syscall(
      libc::SYS_rt_sigprocmask,
      libc::SIG_SETMASK,
      &mask as *const u64,
      &mut old as *mut u64,
      8usize,
    )
  } as libc::c_int;
  check(ret, "rt_sigprocmask").map(|_| old)
}
