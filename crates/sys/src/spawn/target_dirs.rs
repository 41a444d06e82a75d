//! `join: { pid, root, cwd }` (nsenter -r -w): the root and working directory of the process the
//! spawn joins, opened before clone so that the child only has to fchdir to them.

use std::os::fd::{AsFd, OwnedFd};

use crate::error::Result;
use crate::step::Step;
use crate::syscall;

/// O_PATH descriptors of `/proc/<pid>/root` and `/proc/<pid>/cwd`, as asked, both that process's:
/// its pidfd, taken first, says it is still alive once they are open, and a pid is not reused
/// before its process is gone.
pub fn open(pid: i32, root: bool, cwd: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
  let pidfd = syscall::pidfd_open(pid)?;
  let dir = |what: &str, step: Step| -> Result<OwnedFd> {
    let path = format!("/proc/{pid}/{what}");
    syscall::open(&path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC, 0)
      .map_err(|e| e.step(step).pid(pid).path(path))
  };
  let root = root.then(|| dir("root", Step::Chroot)).transpose()?;
  let cwd = cwd.then(|| dir("cwd", Step::Chdir)).transpose()?;
  syscall::pidfd_send_signal(pidfd.as_fd(), 0).map_err(|e| e.pid(pid))?;
  Ok((root, cwd))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn our_own_root_and_cwd_are_opened_and_a_gone_pid_is_esrch() {
    let (root, cwd) = open(std::process::id() as i32, true, true).unwrap();
    assert!(root.is_some() && cwd.is_some());
    let (root, cwd) = open(std::process::id() as i32, false, true).unwrap();
    assert!(root.is_none() && cwd.is_some());
    let e = open(i32::MAX, true, true).unwrap_err();
    assert_eq!(e.errno, libc::ESRCH);
  }
}
