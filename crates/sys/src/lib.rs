//! Kernel facts and raw syscalls for nsjs: namespace handles, the calling thread's namespace
//! operations, namespace creation, persistence, listing, and the clone-based spawner.
//!
//! Nothing here knows about Node-API. All `unsafe` code of the project lives in this crate.

pub mod clone;
pub mod create;
pub mod environ;
pub mod error;
pub mod fd_mount;
pub mod handle;
pub mod list;
#[cfg(feature = "libuv")]
pub mod loop_watch;
pub mod mountinfo;
pub mod ns_type;
pub mod persist;
pub mod raw;
pub mod reaper;
pub mod spawn;
pub mod sys;
pub mod thread;

pub use error::{Error, Result};
pub use handle::NsHandle;
pub use ns_type::NsType;
