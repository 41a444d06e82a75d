//! Namespace changes of the calling thread: setns, unshare, and the fchdir that puts its cwd back
//! after a mnt setns.

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use super::check;
use crate::error::Result;

pub fn setns(fd: BorrowedFd<'_>, nstype: libc::c_int) -> Result<()> {
  // SAFETY: plain syscall on a descriptor that is open for the borrow.
  check(unsafe { libc::setns(fd.as_raw_fd(), nstype) }, "setns").map(drop)
}

/// setns by descriptor number, for one the caller holds open without a borrow to show for it
/// (a JS handle's): a number that is not an open namespace descriptor fails (EBADF, EINVAL).
pub fn setns_raw(fd: RawFd, nstype: libc::c_int) -> Result<()> {
  // SAFETY: plain syscall; the kernel checks the number, and nothing is read from or kept of it.
  check(unsafe { libc::setns(fd, nstype) }, "setns").map(drop)
}

pub fn unshare(flags: libc::c_int) -> Result<()> {
  // SAFETY: plain syscall with integer flags.
  check(unsafe { libc::unshare(flags) }, "unshare").map(drop)
}

pub fn fchdir(fd: BorrowedFd<'_>) -> Result<()> {
  // SAFETY: plain syscall on a descriptor that is open for the borrow.
  check(unsafe { libc::fchdir(fd.as_raw_fd()) }, "fchdir").map(drop)
}

/// `mount(2)` by path, without a filesystem type or data: a bind mount or a propagation change.
/// Only for a mount namespace of the calling thread's own (the resolver's), where what the paths
/// name cannot be changed by anyone else.
pub fn mount(src: Option<&str>, target: &str, flags: libc::c_ulong) -> Result<()> {
  let s = src.map(|s| super::cstr(s, "mount")).transpose()?;
  let t = super::cstr(target, "mount")?;
  let sp = s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
  // SAFETY: both strings are NUL-terminated and live through the call; no type or data is given.
  check(unsafe { libc::mount(sp, t.as_ptr(), std::ptr::null(), flags, std::ptr::null()) }, "mount")
    .map(drop)
    .map_err(|e| e.path(target))
}
