//! The parent's side of an IPC channel (ts/spawn/channel.ts) below JS: readiness of its socket on
//! this thread's loop (`channel_poll`), and reads and writes that carry descriptors, so handles
//! pass as Node's own channel passes them. Descriptors are numbers JS holds.

use napi::bindgen_prelude::{Buffer, FnArgs, Function};
use napi::{Env, JsValue};
use napi_derive::napi;
use nsjs_sys::exit_watch::{EventLoop, JsFunction};
use nsjs_sys::{channel_poll, syscall, Error};

use crate::error::{IntoNapi, Result};

/// What one read of a channel returned: bytes (empty at end of stream) and the descriptors (ours
/// now, close-on-exec) that arrived with the first of them.
#[napi(object)]
pub struct ChannelRead {
  pub bytes: Buffer,
  pub fds: Vec<i32>,
}

/// Polls channel socket `fd` for reading on this thread's loop: `onReady(id, status, events)`
/// (status 0 or a negative errno; events 1 readable, 2 writable) until `channelPollClose(id)`,
/// which closes `fd` (the poll owns it once started; it is closed too when the env goes).
/// Returns the poll's id. ENOSYS where the runtime has no libuv of Node's.
#[napi(ts_args_type = "fd: number, onReady: (id: number, status: number, events: number) => void")]
pub fn channel_poll_start(env: Env, fd: i32, on_ready: Function<FnArgs<(u32, i32, u32)>, ()>) -> Result<u32> {
  let event_loop = env
    .get_uv_event_loop()
    .ok()
    .and_then(|l| EventLoop::new(l.cast()))
    .ok_or_else(|| Error::os(libc::ENOSYS, "uv_poll_init"))
    .napi(&env)?;
  let f = on_ready.value();
  let on_ready = JsFunction::new(f.env.cast(), f.value.cast()).napi(&env)?;
  channel_poll::start(&event_loop, fd, on_ready).napi(&env)
}

/// Polls for `events` from now on: 1 readable, 2 writable, 3 both.
#[napi]
pub fn channel_poll_events(env: Env, id: u32, events: u32) -> Result<()> {
  channel_poll::set_events(id, events).napi(&env)
}

/// Whether the poll keeps the event loop alive (it does from its start).
#[napi]
pub fn channel_poll_ref(id: u32, referenced: bool) {
  channel_poll::set_ref(id, referenced);
}

/// Ends the poll and closes its socket.
#[napi]
pub fn channel_poll_close(id: u32) {
  channel_poll::close(id);
}

/// One non-blocking read of channel socket `fd`, up to 64 KiB: null when nothing is waiting.
#[napi]
pub fn channel_recv(env: Env, fd: i32) -> Result<Option<ChannelRead>> {
  let mut buf = vec![0u8; 64 * 1024];
  let Some(r) = syscall::recv_with_fds(fd, &mut buf).napi(&env)? else { return Ok(None) };
  buf.truncate(r.len);
  let fds = r.fds.into_iter().map(std::os::fd::IntoRawFd::into_raw_fd).collect();
  Ok(Some(ChannelRead { bytes: buf.into(), fds }))
}

/// One non-blocking write of `bytes` to channel socket `fd`, with descriptor `attach` (-1 for
/// none) on the same message: how many bytes went, or -1 when the socket is full.
#[napi]
pub fn channel_send(env: Env, fd: i32, bytes: Buffer, attach: i32) -> Result<i64> {
  let attach = (attach >= 0).then_some(attach);
  Ok(syscall::send_with_fd(fd, &bytes, attach).napi(&env)?.map_or(-1, |n| n as i64))
}

/// Closes descriptor `fd` (the channel's, a duplicate, or one that arrived on it).
#[napi]
pub fn channel_close_fd(env: Env, fd: i32) -> Result<()> {
  syscall::close_fd(fd).napi(&env)
}

/// A close-on-exec duplicate of `fd`, which the caller owns (a handle's descriptor, held until
/// it has been sent).
#[napi]
pub fn dup_cloexec(env: Env, fd: i32) -> Result<i32> {
  syscall::dup_cloexec(fd).napi(&env).map(std::os::fd::IntoRawFd::into_raw_fd)
}

/// What received socket `fd` is: `[listening (1 or 0), family]` (AF_INET 2, AF_INET6 10,
/// AF_UNIX 1), to rebuild a handle sent in its native form ('net.Native', 'dgram.Native').
#[napi]
pub fn socket_shape(env: Env, fd: i32) -> Result<Vec<i32>> {
  let (listening, family) = syscall::socket_shape(fd).napi(&env)?;
  Ok(vec![i32::from(listening), family])
}
