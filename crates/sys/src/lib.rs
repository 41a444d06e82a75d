//! Kernel facts and raw syscalls for nsjs: namespace handles, the calling thread's namespace
//! operations, namespace creation, persistence, listing, and the clone-based spawner.
//!
//! Nothing here knows about Node-API. All `unsafe` code of the project lives in this crate.

pub mod error;
pub mod ns_type;
pub mod sys;
pub mod raw;
pub mod handle;
pub mod thread;
pub mod create;
pub mod persist;
pub mod fd_mount;
pub mod mountinfo;
pub mod list;
pub mod clone;
pub mod spawn;
pub mod reaper;
pub mod environ;
#[cfg(feature = "libuv")]
pub mod loop_watch;

pub use error::{Error, Result};
pub use handle::NsHandle;
pub use ns_type::NsType;
