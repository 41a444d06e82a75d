//! Thin, checked wrappers over the libc calls the rest of the crate needs. Each returns the
//! errno as an `Error` naming the syscall; callers add the namespace type, path or pid.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

pub(crate) fn cstr(s: &str, syscall: &'static str) -> Result<CString> {
  CString::new(s).map_err(|_| Error::os(libc::EINVAL, syscall).path(s))
}

pub(crate) fn check(ret: libc::c_int, syscall: &'static str) -> Result<libc::c_int> {
  if ret < 0 {
    Err(Error::last(syscall))
  } else {
    Ok(ret)
  }
}

pub(crate) fn owned(ret: libc::c_int, syscall: &'static str) -> Result<OwnedFd> {
  let fd = check(ret, syscall)?;
  // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
  Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `open(2)` with O_CLOEXEC always added.
pub fn open(path: &str, flags: libc::c_int, mode: libc::mode_t) -> Result<OwnedFd> {
  let c = cstr(path, "open")?;
  // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
  let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) };
  owned(fd, "open").map_err(|e| e.path(path))
}

pub struct FileId {
  pub dev: u64,
  pub ino: u64,
}

pub fn fstat(fd: BorrowedFd<'_>) -> Result<FileId> {
  // SAFETY: an all-zero `stat` is a valid value of this plain C struct.
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  // SAFETY: `fd` is open for the borrow and `st` is a valid, writable `stat`.
  check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) }, "fstat")?;
  Ok(FileId { dev: st.st_dev, ino: st.st_ino })
}

/// The filesystem magic of the file `fd` refers to.
pub fn fstatfs_type(fd: BorrowedFd<'_>) -> Result<i64> {
  // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
  let mut st: libc::statfs = unsafe { std::mem::zeroed() };
  // SAFETY: `fd` is open for the borrow and `st` is writable.
  check(unsafe { libc::fstatfs(fd.as_raw_fd(), &mut st) }, "fstatfs")?;
  Ok(st.f_type as i64)
}

pub fn statfs_type(path: &str) -> Result<i64> {
  let c = cstr(path, "statfs")?;
  // SAFETY: an all-zero `statfs` is a valid value of this plain C struct.
  let mut st: libc::statfs = unsafe { std::mem::zeroed() };
  // SAFETY: `c` is NUL-terminated and `st` is writable.
  check(unsafe { libc::statfs(c.as_ptr(), &mut st) }, "statfs").map_err(|e| e.path(path))?;
  Ok(st.f_type as i64)
}

/// An ioctl without argument whose result is a new file descriptor (NS_GET_USERNS, PIDFD_GET_*).
/// The argument is passed as an explicit 0: ioctl is variadic, so leaving it out passes whatever
/// the register holds, and the pidfd namespace ioctls refuse any argument but 0 with EINVAL.
pub fn ioctl_fd(fd: BorrowedFd<'_>, request: libc::c_ulong, syscall: &'static str) -> Result<OwnedFd> {
  // SAFETY: these requests read no memory through their argument, which is 0; `fd` is open for
  // the borrow.
  owned(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0 as libc::c_ulong) }, syscall)
}

/// An ioctl without argument whose result is an int (NS_GET_NSTYPE); the argument is 0, as above.
pub fn ioctl_int(fd: BorrowedFd<'_>, request: libc::c_ulong, syscall: &'static str) -> Result<libc::c_int> {
  // SAFETY: the request reads no memory through its argument, which is 0; `fd` is open for the
  // borrow.
  check(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, 0 as libc::c_ulong) }, syscall)
}

/// NS_GET_OWNER_UID writes a uid_t through its argument.
pub fn ioctl_owner_uid(fd: BorrowedFd<'_>) -> Result<u32> {
  let mut uid: libc::uid_t = 0;
  // SAFETY: NS_GET_OWNER_UID writes one uid_t to the pointer, which is valid and writable.
  check(unsafe { libc::ioctl(fd.as_raw_fd(), libc::NS_GET_OWNER_UID as _, &mut uid) }, "ioctl")?;
  Ok(uid)
}

/// An ioctl that writes one u64 through its argument (NS_GET_MNTNS_ID).
pub fn ioctl_u64(fd: BorrowedFd<'_>, request: libc::c_ulong) -> Result<u64> {
  let mut v: u64 = 0;
  // SAFETY: the request writes one u64 to the pointer, which is valid and writable.
  check(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, &mut v) }, "ioctl")?;
  Ok(v)
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

pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd> {
  // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; an invalid one gives EBADF, not UB.
  owned(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) }, "dup")
}

/// Grows the process's descriptor table to hold `n` descriptors (at most RLIMIT_NOFILE). The
/// kernel grows it only when a descriptor beyond its size is opened, doubling each time, and in a
/// multithreaded process each growth waits for an RCU grace period (milliseconds) in whichever
/// thread opened that descriptor. Best effort: nothing happens when any step fails.
pub fn reserve_fds(n: u64) {
  let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
  // SAFETY: getrlimit writes only into `lim`, which is valid for writes.
  if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
    return;
  }
  let top = n.min(lim.rlim_cur);
  let Ok(null) = open("/dev/null", libc::O_RDONLY | libc::O_CLOEXEC, 0) else { return };
  if top < 2 {
    return;
  }
  // SAFETY: F_DUPFD_CLOEXEC only reads `null`, which is open; the result is checked below.
  let fd = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, (top - 1) as libc::c_int) };
  if fd >= 0 {
    // SAFETY: `fd` was just created by the fcntl above and is owned by nothing else.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
  }
}

pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> Result<()> {
  // SAFETY: plain syscall on a descriptor that is open for the borrow.
  check(unsafe { libc::setns(fd.as_raw_fd(), nstype) }, "setns").map(drop)
}

pub fn unshare(flags: libc::c_int) -> Result<()> {
  // SAFETY: plain syscall with integer flags.
  check(unsafe { libc::unshare(flags) }, "unshare").map(drop)
}

pub fn fchdir(fd: BorrowedFd<'_>) -> Result<()> {
  // SAFETY: plain syscall on a descriptor that is open for the borrow.
  check(unsafe { libc::fchdir(fd.as_raw_fd()) }, "fchdir").map(drop)
}

pub fn mount(src: &str, target: &str, fstype: Option<&str>, flags: libc::c_ulong) -> Result<()> {
  let s = cstr(src, "mount")?;
  let t = cstr(target, "mount")?;
  let f = fstype.map(|f| cstr(f, "mount")).transpose()?;
  let fptr = f.as_ref().map_or(std::ptr::null(), |f| f.as_ptr());
  // SAFETY: all pointers are NUL-terminated strings (or NULL for fstype) alive for the call.
  let ret = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), fptr, flags, std::ptr::null()) };
  check(ret, "mount").map(drop).map_err(|e| e.path(target))
}

pub fn umount(target: &str, flags: libc::c_int) -> Result<()> {
  let t = cstr(target, "umount2")?;
  // SAFETY: `t` is a NUL-terminated string alive for the call.
  check(unsafe { libc::umount2(t.as_ptr(), flags) }, "umount2").map(drop).map_err(|e| e.path(target))
}

pub fn unlink(path: &str) -> Result<()> {
  let c = cstr(path, "unlink")?;
  // SAFETY: `c` is a NUL-terminated string alive for the call.
  check(unsafe { libc::unlink(c.as_ptr()) }, "unlink").map(drop).map_err(|e| e.path(path))
}

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

pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> Result<()> {
  while !buf.is_empty() {
    // SAFETY: `buf` is a valid readable slice; `fd` is open for the borrow.
    let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
      let e = Error::last("write");
      if e.errno == libc::EINTR {
        continue;
      }
      return Err(e);
    }
    buf = &buf[n as usize..];
  }
  Ok(())
}

/// One `read(2)`, retried on EINTR; 0 means EOF.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize> {
  loop {
    // SAFETY: `buf` is a valid writable slice; `fd` is open for the borrow.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n >= 0 {
      return Ok(n as usize);
    }
    let e = Error::last("read");
    if e.errno != libc::EINTR {
      return Err(e);
    }
  }
}

pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
  let mut fds = [0; 2];
  // SAFETY: `fds` has room for the two descriptors pipe2 writes.
  check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
  // SAFETY: both descriptors were just created and are owned by nobody else.
  Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
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
