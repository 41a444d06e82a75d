//! Kernel facts and raw syscalls for nsjs. Nothing here knows about Node-API, except behind the
//! `libuv` feature (the Node addon's), which lets `exit_watch` use Node's event loop and call the
//! main thread's JS exit function from it. All `unsafe` code of the project lives in this crate.
//!
//! - `ns_type`: the eight namespace types, one table with their names and flags.
//! - `handle`: a namespace handle (`NsHandle`), opened from a path, a pid or a pidfd.
//! - `last_pidfd`: per thread, the pidfd of the process last opened by pid, for the next open.
//! - `this_thread`: the calling thread's namespace changes (join, enter/restore, unshare) and the
//!   native threads nsjs starts.
//! - `create`: new namespaces that the caller does not move into.
//! - `persist`: keeping a namespace alive by bind-mounting it, and undoing that.
//! - `fd_mount`: mounting, unmounting and unlinking through descriptors (used by `persist`).
//! - `mountinfo`: the calling thread's mount table.
//! - `list`: every namespace on the system, as lsns finds them.
//! - `spawn`: the clone-based spawner (see its own map of modules).
//! - `socket`: sockets made inside a net namespace, their addresses, and which namespace one is in.
//! - `exit_watch`: a callback once a spawned child has exited and was reaped.
//! - `channel_poll`: readiness of an IPC channel's socket on Node's loop (the `libuv` feature).
//! - `uv`: the libuv functions and ABI both of them use (the `libuv` feature).
//! - `clone`: a child stack with a guard page, clone(2) on it, and signals blocked around it.
//! - `environ`: the process environment a child inherits, as it is now or held for a later spawn.
//! - `syscall`: thin checked wrappers over libc, and the raw syscall instruction.
//! - `error`, `step`: the one error shape, and the step of an operation that failed.

#[cfg(feature = "libuv")]
pub mod channel_poll;
pub mod clone;
pub mod create;
pub mod environ;
pub mod error;
pub mod exit_watch;
pub mod fd_mount;
pub mod handle;
pub mod last_pidfd;
pub mod list;
pub mod mountinfo;
pub mod ns_type;
pub mod persist;
pub mod socket;
pub mod spawn;
pub mod step;
pub mod syscall;
pub mod this_thread;
#[cfg(feature = "libuv")]
mod uv;

pub use error::{Error, Result};
pub use handle::NsHandle;
pub use ns_type::NsType;
pub use step::Step;
