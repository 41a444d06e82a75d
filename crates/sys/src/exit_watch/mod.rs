//! Exit watching for spawned children: a callback once a child has exited, after it was reaped
//! through its pidfd (never waitpid(-1), so children that Node's child_process owns are left to
//! Node). `epoll` is one native thread for every caller; `libuv` (the `libuv` feature, the Node
//! addon's) watches on the main thread's own event loop, without the hop through that thread.

mod epoll;
#[cfg(feature = "libuv")]
mod libuv;

use std::os::fd::RawFd;

use crate::error::Result;

/// Called once with `(code, 0)` for an exit, `(-1, signal)` for a death by signal, and `(-1, 0)`
/// if something else reaped the child first.
pub type OnExit = Box<dyn FnOnce(i32, i32) + Send>;

/// Calls `on_exit` once the process behind `pidfd` has exited and was reaped: on the event loop
/// of the process's main thread when that is the caller and the `libuv` feature is on, on the
/// epoll thread otherwise. `pidfd` stays the caller's; the watch keeps a duplicate.
pub fn watch(pidfd: RawFd, on_exit: OnExit) -> Result<()> {
  #[cfg(feature = "libuv")]
  if crate::this_thread::is_main_thread() {
    return libuv::watch(pidfd, on_exit);
  }
  epoll::watch(pidfd, on_exit)
}
