//! Thin, checked wrappers over the libc calls the rest of the crate needs, grouped by what they
//! act on (`fd`, `ns`, `proc`, `net`; `scm`: messages that carry descriptors). Each returns the
//! errno as an `Error` naming the syscall; callers add the namespace type, path or pid. `raw` is
//! the syscall instruction itself, for code that may not touch errno (a CLONE_VM child).

mod fd;
mod net;
mod ns;
mod proc;
pub mod raw;
mod scm;

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::{Error, Result};

pub use fd::{
  dup_cloexec, dup_cloexec_above, fd_limit, fstat, fstatfs_type, ioctl_fd, ioctl_int, ioctl_owner_uid,
  ioctl_u64, open, pipe, read, reserve_fds, socketpair, write_all, FileId,
};
pub use net::{bind, getaddrinfo, getsockname, setsockopt_int, socket};
pub use ns::{fchdir, mount, setns, setns_raw, unshare};
pub use proc::{
  effective_caps, online_cpus, pidfd_getfd, pidfd_open, pidfd_send_signal, pin_to_cpu, swap_signal_mask_raw,
  thread_count, waitid_pidfd, waitpid,
};
pub use scm::{close_fd, recv_with_fds, send_with_fd, socket_shape, Received, MAX_FDS};

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
