//! Descriptors: opening, stat and statfs, the nsfs and pidfd ioctls, duplicating, pipes, reads
//! and writes.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{check, cstr, owned};
use crate::error::{Error, Result};

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

pub fn dup_cloexec(fd: RawFd) -> Result<OwnedFd> {
  dup_cloexec_above(fd, 3)
}

/// A close-on-exec duplicate of `fd` numbered `min` or above.
pub fn dup_cloexec_above(fd: RawFd, min: RawFd) -> Result<OwnedFd> {
  // SAFETY: F_DUPFD_CLOEXEC only reads `fd`; an invalid one gives EBADF, not UB.
  owned(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) }, "dup")
}

/// The soft RLIMIT_NOFILE: descriptors get numbers below it.
pub fn fd_limit() -> Option<u64> {
  let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
  // SAFETY: getrlimit writes only into `lim`, which is valid for writes.
  (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_cur)
}

/// Grows the process's descriptor table to hold `n` descriptors (at most RLIMIT_NOFILE). The
/// kernel grows it only when a descriptor beyond its size is opened, doubling each time, and in a
/// multithreaded process each growth waits for an RCU grace period (milliseconds) in whichever
/// thread opened that descriptor. Best effort: nothing happens when any step fails.
pub fn reserve_fds(n: u64) {
  let Some(limit) = fd_limit() else { return };
  let top = n.min(limit);
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

/// A connected pair of close-on-exec Unix stream sockets (a fork()'s IPC channel).
pub fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
  let mut fds = [0; 2];
  let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
  // SAFETY: `fds` has room for the two descriptors socketpair writes.
  check(unsafe { libc::socketpair(libc::AF_UNIX, ty, 0, fds.as_mut_ptr()) }, "socketpair")?;
  // SAFETY: both descriptors were just created and are owned by nobody else.
  Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
  let mut fds = [0; 2];
  // SAFETY: `fds` has room for the two descriptors pipe2 writes.
  check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
  // SAFETY: both descriptors were just created and are owned by nobody else.
  Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
