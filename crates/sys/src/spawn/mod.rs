//! The clone-based spawner: starts a command inside existing and new namespaces without
//! copying the parent's page tables (CLONE_VM | CLONE_VFORK), reporting which step failed.
//!
//! `spec` holds the caller's request, `plan` turns it into what the child reads, `child` is the
//! code between clone and execve, `launch` the parent's side, `id_maps` the user namespace
//! handshake, `report` the failure message between them, `spawner` the thread that spawns for a JS thread
//! whose event loop must not wait.

mod child;
mod child_sys;
mod exec_path;
mod id_maps;
mod launch;
mod plan;
mod report;
pub mod spawner;
mod spec;

#[cfg(test)]
mod tests;

use std::os::fd::BorrowedFd;

pub use spec::{Child, MapSpec, Propagation, SetGroups, SpawnSpec, Stdio};

use crate::error::Result;
use crate::sys;

/// Starts `spec.file`. Returns once the child has exec'ed; a failure before that is an `Error`
/// whose `step` names the stage ("setns", "uid_map", "execve", ...), and leaves no process behind.
pub fn spawn(spec: &SpawnSpec) -> Result<Child> {
  launch::spawn(spec)
}

/// Sends `sig` through the pidfd, so a reused pid can never receive it. ESRCH once reaped.
pub fn kill(pidfd: BorrowedFd<'_>, sig: i32) -> Result<()> {
  sys::pidfd_send_signal(pidfd, sig)
}

/// Ends a child nobody may leave running (a failed spawn, an unwatchable one) and reaps it.
pub fn kill_and_reap(pidfd: BorrowedFd<'_>) {
  let _ = sys::pidfd_send_signal(pidfd, libc::SIGKILL);
  let _ = sys::waitid_pidfd(pidfd, false);
}

/// Reaps the child if it has exited: `Some((code, 0))`, or `Some((-1, signal))` when a signal
/// ended it; `None` while it runs. ECHILD once it was reaped (by this or by the reaper).
pub fn try_wait(pidfd: BorrowedFd<'_>) -> Result<Option<(i32, i32)>> {
  sys::waitid_pidfd(pidfd, true)
}
