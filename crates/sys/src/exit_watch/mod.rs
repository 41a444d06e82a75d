//! Exit watching for spawned children: a callback once a child has exited, after it was reaped
//! through its pidfd (never waitpid(-1), so children that Node's child_process owns are left to
//! Node). `epoll` is one native thread for every caller; `libuv` (the `libuv` feature, the Node
//! addon's) watches on the main thread's own event loop and calls its JS exit function directly
//! (`js_call`), without the hop through that thread, where the runtime has a real libuv (Node's;
//! Bun and Deno export libuv names they do not implement, so the addon decides from what the
//! runtime says it is, see `EventLoop`).

#[cfg(any(feature = "libuv", test))]
mod capture;
mod epoll;
#[cfg(feature = "libuv")]
mod js_call;
#[cfg(feature = "libuv")]
mod libuv;

use std::os::fd::RawFd;

use crate::error::Result;

#[cfg(feature = "libuv")]
pub use js_call::{Arg, JsFunction};
#[cfg(feature = "libuv")]
pub use libuv::{capture_on, start_on, stop_capture, watch_on, watching, EventLoop};

/// Called once with `(code, 0)` for an exit, `(-1, signal)` for a death by signal, and `(-1, 0)`
/// if something else reaped the child first.
pub type OnExit = Box<dyn FnOnce(i32, i32) + Send>;

/// Calls `on_exit` on the reaper thread once the process behind `pidfd` has exited and was
/// reaped, for any caller in any runtime. `pidfd` stays the caller's; the watch keeps a duplicate.
pub fn watch(pidfd: RawFd, on_exit: OnExit) -> Result<()> {
  epoll::watch(pidfd, on_exit)
}
