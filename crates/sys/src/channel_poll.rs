//! Readiness of an IPC channel's socket on the calling thread's own libuv loop: one uv_poll per
//! channel that calls a JS function with the events (readable, writable) it saw, from which JS
//! reads with `recv_with_fds` and writes with `send_with_fd` (syscall/scm.rs). A net.Socket cannot
//! be the channel: it reads with read(), and the kernel drops the descriptors of a message read
//! that way; Node's own IPC pipe is not exported.
//!
//! A poll keeps its loop alive until `unref` (Node's parent side of a channel does). It ends with
//! `close`, or when its env is torn down (a worker thread's): nothing calls into JS after that.
//! libuv and Node-API are Node's own, as in exit_watch (whose `EventLoop` check and `JsFunction`
//! this uses); the Node addon alone enables the `libuv` feature.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::os::fd::RawFd;

use crate::error::{Error, Result};
use crate::exit_watch::{Arg, EventLoop, JsFunction};
use crate::uv::{uv_close, uv_poll_start, uv_poll_stop, uv_ref, uv_unref};

pub use crate::uv::{READABLE, WRITABLE};

/// One channel's poll. Reached from libuv through the handle's `data` and from JS through its id.
struct Poll {
  id: u32,
  handle: *mut c_void,
  /// The channel's socket, which the poll owns from `start` and closes in `close`.
  fd: RawFd,
  /// Taken (and dropped, on the JS thread while the env lives) when the poll closes.
  on_ready: RefCell<Option<JsFunction>>,
  /// Inside a call of `on_ready`: a `close` from that call is finished once it returns.
  calling: Cell<bool>,
  closing: Cell<bool>,
}

thread_local! {
  /// This thread's open polls, by id, for `close` and the env's cleanup.
  static POLLS: RefCell<HashMap<u32, *mut Poll>> = RefCell::new(HashMap::new());
  static NEXT_ID: Cell<u32> = const { Cell::new(1) };
  static CLEANUP_HOOKED: Cell<bool> = const { Cell::new(false) };
}

/// Starts polling `fd` (a channel's socket, which the poll owns from now on if it starts, and
/// closes in `close`: also when the env goes, so that the child sees the channel end) for reading on
/// `event_loop`, the calling thread's: `on_ready(status, events)` is called on this thread with
/// libuv's status (0, or a negative errno) and the events seen (READABLE | WRITABLE). The id
/// names the poll to `set_events`, `set_ref` and `close`.
pub fn start(event_loop: &EventLoop, fd: RawFd, on_ready: JsFunction) -> Result<u32> {
  if !CLEANUP_HOOKED.with(Cell::get) {
    on_ready.at_env_cleanup(on_env_cleanup)?;
    CLEANUP_HOOKED.with(|h| h.set(true));
  }
  let handle = crate::uv::poll_init(event_loop.as_ptr(), fd)?;
  let id = NEXT_ID.with(|n| n.replace(n.get().wrapping_add(1).max(1)));
  let poll = Box::into_raw(Box::new(Poll {
    id,
    handle,
    fd,
    on_ready: RefCell::new(Some(on_ready)),
    calling: Cell::new(false),
    closing: Cell::new(false),
  }));
  // SAFETY: an initialised handle whose first field is `void* data` (uv_handle_t's public ABI).
  unsafe { *(handle as *mut *mut Poll) = poll };
  POLLS.with(|p| p.borrow_mut().insert(id, poll));
  if let Err(e) = set_events(id, READABLE) {
    // Not started: the descriptor stays the caller's, and only the handle goes.
    POLLS.with(|p| p.borrow_mut().remove(&id));
    finish(poll);
    return Err(e);
  }
  Ok(id)
}

fn with_poll<T>(id: u32, f: impl FnOnce(&Poll) -> T) -> Option<T> {
  let poll = POLLS.with(|p| p.borrow().get(&id).copied())?;
  // SAFETY: a poll stays allocated while it is in POLLS (it is removed before it is freed).
  Some(f(unsafe { &*poll }))
}

/// Polls for `events` (READABLE | WRITABLE) from now on. EBADF for a closed poll.
pub fn set_events(id: u32, events: u32) -> Result<()> {
  let r = with_poll(id, |poll| {
    // SAFETY: an initialised poll handle of this thread's loop; a callback of libuv's signature.
    unsafe { uv_poll_start(poll.handle, (events & (READABLE | WRITABLE)) as c_int, on_event) }
  });
  match r {
    Some(0) => Ok(()),
    Some(r) => Err(Error::os(-r, "uv_poll_start")),
    None => Err(Error::os(libc::EBADF, "uv_poll_start")),
  }
}

/// Whether the poll keeps its loop alive (it does from `start`).
pub fn set_ref(id: u32, referenced: bool) {
  with_poll(id, |poll| {
    // SAFETY: an initialised handle of this thread's loop.
    unsafe {
      if referenced {
        uv_ref(poll.handle)
      } else {
        uv_unref(poll.handle)
      }
    }
  });
}

/// Stops the poll and closes its descriptor; `on_ready` is not called again. Closing a closed
/// poll does nothing.
pub fn close(id: u32) {
  let Some(poll) = POLLS.with(|p| p.borrow_mut().remove(&id)) else { return };
  // SAFETY: removed from POLLS just now, so still allocated (freed only by `finish`).
  let p = unsafe { &*poll };
  // SAFETY: an initialised handle: stopping takes the descriptor out of the loop at once.
  unsafe { uv_poll_stop(p.handle) };
  // Out of the loop's epoll set now, so closing cannot leave libuv a stale registration.
  let _ = crate::syscall::close_fd(p.fd);
  p.closing.set(true);
  if !p.calling.get() {
    finish(poll);
  }
}

/// Drops the JS function and has libuv close the handle (`on_closed` frees both allocations).
fn finish(poll: *mut Poll) {
  // SAFETY: a poll removed from POLLS and not inside its callback: only this reference is used.
  let p = unsafe { &*poll };
  drop(p.on_ready.borrow_mut().take());
  // SAFETY: an initialised, stopped handle; `on_closed` runs once libuv is done with it.
  unsafe { uv_close(p.handle, on_closed) };
}

extern "C" fn on_event(handle: *mut c_void, status: c_int, events: c_int) {
  // SAFETY: `data` points at the Poll, which is freed only after uv_close's callback.
  let poll = unsafe { *(handle as *const *mut Poll) };
  // SAFETY: as above; the callback runs on the loop's (JS) thread, as every other use.
  let p = unsafe { &*poll };
  if p.closing.get() {
    return;
  }
  p.calling.set(true);
  if let Some(f) = p.on_ready.borrow().as_ref() {
    f.call(&[Arg::U32(p.id), Arg::I32(status), Arg::U32(events as u32)]);
  }
  p.calling.set(false);
  if p.closing.get() {
    finish(poll);
  }
}

extern "C" fn on_closed(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle; `data` is the Poll boxed in `start` and nothing else
  // refers to it any more (it left POLLS before it was closed).
  unsafe {
    drop(Box::from_raw(*(handle as *const *mut Poll)));
    crate::uv::free_poll(handle);
  }
}

/// The env is going: close every poll of this thread while its JS functions can still be freed.
extern "C" fn on_env_cleanup(_: *mut c_void) {
  let ids: Vec<u32> = POLLS.with(|p| p.borrow().keys().copied().collect());
  for id in ids {
    close(id);
  }
  CLEANUP_HOOKED.with(|h| h.set(false));
}
