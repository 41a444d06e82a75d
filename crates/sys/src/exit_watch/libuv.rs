//! Exit watching on the main thread's own libuv loop, with nothing per child but one epoll_ctl:
//! the pidfds of the thread's running children sit in one epoll instance of ours, and one uv_poll
//! on that instance's descriptor wakes the loop when any of them exits. The callback reads the
//! ready pidfds (one epoll_wait for all of them), reaps each child through its pidfd and calls the
//! thread's JS exit function with the child's id, directly, on the JS thread (js_call.rs): no
//! handle, threadsafe function or thread hop per child. (A uv_poll and a threadsafe function per
//! child cost an ioctl, four epoll_ctl, an eventfd write and read and a loop turn each, and libuv
//! checks every async handle on each wakeup, so a burst's cost grew with its square.)
//!
//! libuv is Node's own: its functions are resolved from the node executable when the addon loads,
//! and the loop is the one napi_get_uv_event_loop names (never uv_default_loop(), which is not the
//! JS thread's loop in every embedder). It lives here, behind the `libuv` feature that only the
//! Node addon enables, and not in the addon's crate, because an FFI call is `unsafe` and all of
//! the project's `unsafe` is in this crate. Runtimes that only imitate libuv (Bun panics in
//! uv_poll_init, Deno's subset crashes) never get here: the addon checks the runtime first and
//! `EventLoop::new` checks that every function used here exists, before any libuv call.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::capture::{self, Output};
use super::js_call::{Arg, JsFunction};
use crate::error::{Error, Result};
use crate::syscall;
use crate::uv::{self, uv_close, uv_poll_start, uv_poll_stop, uv_unref};

/// A libuv loop run by the calling (JS) thread, as napi_get_uv_event_loop gave it.
pub struct EventLoop(*mut c_void);

impl EventLoop {
  /// `event_loop` is what napi_get_uv_event_loop returned on this thread, in a runtime that runs a
  /// real libuv (Node). `None` when it is null or the process lacks one of the functions used
  /// (uv_backend_fd stands for a full libuv: Deno's partial one has no such function).
  pub fn new(event_loop: *mut c_void) -> Option<EventLoop> {
    (uv::present() && !event_loop.is_null()).then_some(EventLoop(event_loop))
  }

  /// The loop, for the channel polls (channel_poll.rs).
  pub(crate) fn as_ptr(&self) -> *mut c_void {
    self.0
  }
}

/// The thread's watch. Never mutated after `start_on`: the JS it calls may start (and so watch)
/// more children while it runs.
struct LoopWatch {
  epoll: OwnedFd,
  /// The uv_poll handle on `epoll`; its first word (uv_handle_t's `data`) points to this watch.
  handle: *mut c_void,
  on_exit: JsFunction,
  /// `onOutput(id, stdout, stderr, overflow)` for output collected here (capture.rs).
  on_output: JsFunction,
  /// Told each reaped child's id before its exit is reported: the caller closes its pidfd there.
  reaped: fn(u32),
}

thread_local! {
  /// The watch of this thread, from `start_on` until its env's cleanup.
  static WATCH: Cell<Option<&'static LoopWatch>> = const { Cell::new(None) };
}

/// Starts watching exits on `event_loop`, the calling thread's own: from now on `watch_on` may
/// be called on this thread, and `on_exit(id, code, signal)` is called on it for each watched
/// child once it has exited and was reaped; `on_output(id, stdout, stderr, overflow)` once the
/// output collected by `capture_on` is complete, unless it completed with the exit, which then
/// brings it: `on_exit(id, code, signal, stdout, stderr, overflow)`; an empty stream is null.
/// `reaped(id)` is called just before each exit is reported, once the child has been reaped: its
/// pidfd may be closed there (nothing of the watch uses it after). The watch does not keep the
/// loop alive (the caller decides that), and ends when the env of `on_exit` is torn down. Once
/// per thread.
pub fn start_on(
  event_loop: &EventLoop,
  on_exit: JsFunction,
  on_output: JsFunction,
  reaped: fn(u32),
) -> Result<()> {
  if WATCH.with(Cell::get).is_some() {
    return Err(Error::os(libc::EALREADY, "uv_poll_init"));
  }
  // SAFETY: plain syscall; the result is checked before use.
  let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
  if ep < 0 {
    return Err(Error::last("epoll_create1"));
  }
  // SAFETY: a descriptor the kernel just returned, owned by nothing else.
  let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
  let handle = uv::poll_init(event_loop.0, epoll.as_raw_fd())?;
  let watch: &'static LoopWatch =
    Box::leak(Box::new(LoopWatch { epoll, handle, on_exit, on_output, reaped }));
  // SAFETY: an initialised handle; its first field is `void* data` (uv_handle_t's public ABI).
  unsafe {
    *(handle as *mut *const LoopWatch) = watch;
    uv_unref(handle);
  }
  // SAFETY: an initialised poll handle and a callback with libuv's signature.
  let r = unsafe { uv_poll_start(handle, uv::READABLE as c_int, on_readable) };
  let hooked = watch.on_exit.at_env_cleanup(on_env_cleanup);
  if r != 0 || hooked.is_err() {
    close(watch);
    return Err(if r != 0 { Error::os(-r, "uv_poll_start") } else { hooked.unwrap_err() });
  }
  WATCH.with(|w| w.set(Some(watch)));
  Ok(())
}

/// Whether this thread watches exits on its loop (`start_on`).
pub fn watching() -> bool {
  WATCH.with(Cell::get).is_some()
}

/// Reports the exit of the child behind `pidfd` as `id` to this thread's exit function. `pidfd`
/// stays the caller's and must stay open until `reaped(id)` (closing it ends the watch): the
/// watch keeps no duplicate. EINVAL when this thread has no watch (`start_on`).
pub fn watch_on(pidfd: BorrowedFd<'_>, id: u32) -> Result<()> {
  // One-shot: an exit is reported once, even if the report does not close the pidfd.
  add(pidfd.as_raw_fd(), id, EXIT, libc::EPOLLIN | libc::EPOLLONESHOT)
}

/// Collects what child `id` writes to `fds` (the read ends of its stdout and stderr pipes, which
/// the watch now owns), each up to `limit` bytes, for this thread's output function.
pub fn capture_on(id: u32, fds: [Option<OwnedFd>; 2], limit: usize) -> Result<()> {
  capture::start(id, fds, limit, |fd, stream| add(fd, id, stream, libc::EPOLLIN))
}

/// Stops collecting child `id`'s output: what it wrote so far, as (stdout, stderr), unless the
/// output function has had it already.
pub fn stop_capture(id: u32) -> Option<(Vec<u8>, Vec<u8>)> {
  capture::stop(id).map(|o| (o.stdout, o.stderr))
}

/// What an event is about: the child's exit, or its stdout (1) or stderr (2).
const EXIT: u8 = 0;

fn add(fd: RawFd, id: u32, kind: u8, events: libc::c_int) -> Result<()> {
  let Some(watch) = WATCH.with(Cell::get) else {
    return Err(Error::os(libc::EINVAL, "epoll_ctl"));
  };
  let mut ev = libc::epoll_event { events: events as u32, u64: key(fd, id, kind) };
  // SAFETY: `ev` is a valid epoll_event; both descriptors are open.
  if unsafe { libc::epoll_ctl(watch.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
    return Err(Error::last("epoll_ctl"));
  }
  Ok(())
}

/// The event's data: the child's id, what the descriptor is for, and its number (below 2^30,
/// the kernel's limit on a process's descriptors).
fn key(fd: RawFd, id: u32, kind: u8) -> u64 {
  (u64::from(id) << 32) | (u64::from(kind) << 30) | u64::from(fd as u32 & 0x3fff_ffff)
}

/// Exits and output read per callback; more wait for the next turn of the loop (the poll is
/// level-triggered), so that a burst's exits (each a call into JS) do not hold the loop long.
const BATCH: usize = 32;

extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
  // SAFETY: `data` was set in `start_on` to a watch that outlives the started handle.
  let watch = unsafe { &**(handle as *const *const LoopWatch) };
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
  // SAFETY: `events` is writable for the count passed; timeout 0 never blocks.
  let n = unsafe { libc::epoll_wait(watch.epoll.as_raw_fd(), events.as_mut_ptr(), BATCH as c_int, 0) };
  let events = &events[..n.max(0) as usize];
  // Output first: a child whose output completes in the batch that has its exit (exec() of a
  // command that ends: its pipes close as it exits) gets both in one call into JS, not two.
  let mut complete: Vec<(u32, Output)> = Vec::new();
  for ev in events {
    let (id, kind, _) = decode(ev);
    // Found by id, not by the event's descriptor, which an earlier report may have closed.
    if kind != EXIT {
      if let Some(o) = capture::readable(id, kind) {
        complete.push((id, o));
      }
    }
  }
  for ev in events {
    let (id, kind, fd) = decode(ev);
    if kind != EXIT {
      continue;
    }
    // SAFETY: the pidfd stays open until `reaped(id)` (watch_on's contract), which comes below,
    // after its last use here; reports go out one by one, each after its own reaping.
    let pidfd = unsafe { BorrowedFd::borrow_raw(fd) };
    let (code, signal) = match syscall::waitid_pidfd(pidfd, true) {
      Ok(Some(s)) => s,
      // Not exited after all (a spurious wakeup): watch it again.
      Ok(None) => {
        let _ = watch_on(pidfd, id);
        continue;
      }
      // Reaped by someone else: the status is lost.
      Err(_) => (-1, 0),
    };
    (watch.reaped)(id);
    match complete.iter().position(|(c, _)| *c == id) {
      Some(i) => {
        let (_, o) = complete.swap_remove(i);
        let (out, err, overflow) =
          (Arg::Bytes(&o.stdout), Arg::Bytes(&o.stderr), Arg::U32(u32::from(o.overflow)));
        watch.on_exit.call(&[Arg::U32(id), Arg::I32(code), Arg::I32(signal), out, err, overflow]);
      }
      None => watch.on_exit.call(&[Arg::U32(id), Arg::I32(code), Arg::I32(signal)]),
    }
  }
  for (id, o) in &complete {
    let args = [Arg::U32(*id), Arg::Bytes(&o.stdout), Arg::Bytes(&o.stderr), Arg::U32(u32::from(o.overflow))];
    watch.on_output.call(&args);
  }
}

/// An event's child id, what it is about (EXIT or a stream) and its descriptor (see `key`).
fn decode(ev: &libc::epoll_event) -> (u32, u8, RawFd) {
  ((ev.u64 >> 32) as u32, (ev.u64 >> 30 & 3) as u8, (ev.u64 & 0x3fff_ffff) as RawFd)
}

/// Stops the watch before its env goes: nothing may call into JS after that.
extern "C" fn on_env_cleanup(_: *mut c_void) {
  if let Some(watch) = WATCH.with(|w| w.take()) {
    close(watch);
  }
}

fn close(watch: &'static LoopWatch) {
  // SAFETY: an initialised poll handle of this thread's loop; on_closed frees its storage once
  // libuv is done with it. The watch itself (the epoll descriptor, the JS function) is leaked
  // with the handle's data pointer (it is one per thread and the env is going).
  unsafe {
    uv_poll_stop(watch.handle);
    uv_close(watch.handle, on_closed);
  }
}

extern "C" fn on_closed(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle, made by poll_init in `start_on`.
  unsafe { uv::free_poll(handle) };
}
