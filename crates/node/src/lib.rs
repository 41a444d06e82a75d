//! Node-API glue over `nsjs-sys`: argument shapes in, errors out. No syscalls and no `unsafe`
//! here; the hand-written TypeScript wrapper validates arguments before calling in.

mod caller_thread;
mod channel;
mod create_task;
mod error;
mod fd_pressure;
mod handles;
mod list_task;
mod lookup;
mod mirror;
mod namespace;
mod socket;
mod spawn;
