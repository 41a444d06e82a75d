//! Node-API glue over `nsjs-sys`: argument shapes in, errors out. No syscalls and no `unsafe`
//! here; the hand-written TypeScript wrapper validates arguments before calling in.

mod error;
mod caller_thread;
mod namespace;
mod list_task;
mod create_task;
mod spawn;
