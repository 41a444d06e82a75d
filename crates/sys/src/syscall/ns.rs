//! Namespace changes of the calling thread: setns, unshare, and the fchdir that puts its cwd back
//! after a mnt setns.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::check;
use crate::error::Result;

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
