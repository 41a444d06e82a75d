//! The clone-based spawner: starts a command inside existing and new namespaces without
//! copying the parent's page tables (CLONE_VM | CLONE_VFORK), reporting which step failed.
//!
//! - `spec`: what a caller asks for.
//! - `plan`: what is decided before clone (immutable once built), and `exec_path`, the paths the
//!   child tries to execve.
//! - `parent`: the parent's side: clone, then the handshake; `cgroup`, the directory the child is
//!   cloned into.
//! - `child`: the code between clone and execve, a flat list of checked steps, over
//!   `child_syscalls` (raw syscalls that neither allocate nor touch errno).
//! - `handshake`: the typed parent<->child protocol (the go byte, the failure report), `site` the
//!   places in the child where a syscall can fail, each with its step and syscall.
//! - `id_maps`: a new user namespace's setgroups, uid_map and gid_map, in their one order.
//! - `signal`: `kill`, with PID 1 of a new pid namespace's exception.
//! - `init`: the minimal init that `init: true` leaves as PID 1 of a new pid namespace.
//! - `mounts` (planned) and `mount_steps` (done by the child, over `mount_syscalls`): `mounts`
//!   and `root_tmpfs`.
//! - `privileges`: rlimits, capabilities and seccomp, the sandbox's last steps.
//! - `target_dirs`: the root and cwd of a joined process (`join_root`, `join_cwd`).
//! - `seccomp`: the rule form of `seccomp`, compiled with the seccompiler crate.
//! - `spawner`: the thread that spawns for a JS thread whose event loop must not wait.
//! - `dev_null`: the /dev/null of 'ignore' slots, kept open per spawning thread.

mod cgroup;
mod child;
mod child_syscalls;
pub mod dev_null;
mod exec_path;
mod handshake;
mod id_maps;
mod init;
mod mount_steps;
mod mount_syscalls;
mod mounts;
mod parent;
mod plan;
mod privileges;
mod seccomp;
mod signal;
mod site;
pub mod spawner;
mod spec;
pub mod target_dirs;

#[cfg(test)]
mod tests;

use std::os::fd::BorrowedFd;

pub use signal::kill;
pub use spec::{Child, IdMapLine, Mount, MountKind, Propagation, SetGroups, SpawnSpec, Stdio, MAX_EXTRA_FDS};

use crate::error::Result;
use crate::syscall;

/// Starts `spec.file`. Returns once the child has exec'ed; a failure before that is an `Error`
/// whose `step` names the stage (setns, uid_map, execve, ...), and leaves no process behind.
pub fn spawn(spec: &SpawnSpec) -> Result<Child> {
  parent::spawn(spec)
}

/// Ends a child nobody may leave running (a failed spawn, an unwatchable one) and reaps it.
pub fn kill_and_reap(pidfd: BorrowedFd<'_>) {
  let _ = syscall::pidfd_send_signal(pidfd, libc::SIGKILL);
  let _ = syscall::waitid_pidfd(pidfd, false);
}
