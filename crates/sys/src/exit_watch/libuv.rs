//! Exit watching on the calling thread's own libuv loop: a uv_poll on the child's pidfd, so the
//! exit is seen by the JS thread's event loop without a hop through another thread (which cost
//! about 50 us per spawn and made the next clone slower, bench/README.md). The pidfd becomes
//! readable when the child exits; the callback reaps it through the pidfd and hands the status on.
//!
//! libuv is Node's own: its functions are resolved from the node executable when the addon loads,
//! and the loop is the one napi_get_uv_event_loop names (never uv_default_loop(), which is not the
//! JS thread's loop in every embedder). It lives here, behind the `libuv` feature that only the
//! Node addon enables, and not in the addon's crate, because an FFI call is `unsafe` and all of
//! the project's `unsafe` is in this crate. Runtimes that only imitate libuv (Bun panics in
//! uv_poll_init, Deno's subset crashes) never get here: the addon checks the runtime first and
//! `EventLoop::new` checks that every function used here exists, before any libuv call.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_int, c_void, CStr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use super::OnExit;
use crate::error::{Error, Result};
use crate::syscall;

/// uv_handle_type's UV_POLL, and uv_poll_event's UV_READABLE (stable libuv ABI since 1.0).
const UV_POLL: c_int = 8;
const UV_READABLE: c_int = 1;

extern "C" {
  fn uv_handle_size(kind: c_int) -> usize;
  fn uv_poll_init(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
  fn uv_poll_start(handle: *mut c_void, events: c_int, cb: extern "C" fn(*mut c_void, c_int, c_int))
    -> c_int;
  fn uv_poll_stop(handle: *mut c_void) -> c_int;
  fn uv_close(handle: *mut c_void, cb: extern "C" fn(*mut c_void));
  fn uv_unref(handle: *mut c_void);
}

/// The functions called here, checked with dlsym before the first call (lazy binding would
/// otherwise resolve a missing one at its first call and abort the process), and uv_backend_fd,
/// which only a full libuv has.
const FUNCTIONS: [&CStr; 7] = [
  c"uv_handle_size",
  c"uv_poll_init",
  c"uv_poll_start",
  c"uv_poll_stop",
  c"uv_close",
  c"uv_unref",
  c"uv_backend_fd",
];

/// A libuv loop run by the calling (JS) thread, as napi_get_uv_event_loop gave it.
pub struct EventLoop(*mut c_void);

impl EventLoop {
  /// `event_loop` is what napi_get_uv_event_loop returned on this thread, in a runtime that runs a
  /// real libuv (Node). `None` when it is null or the process lacks one of the functions used
  /// (uv_backend_fd stands for a full libuv: Deno's partial one has no such function).
  pub fn new(event_loop: *mut c_void) -> Option<EventLoop> {
    // Looked up once: the process's symbols do not change, and a spawn should not pay for it.
    static PRESENT: OnceLock<bool> = OnceLock::new();
    let present = *PRESENT.get_or_init(|| {
      FUNCTIONS.iter().all(|name| {
        // SAFETY: a NUL-terminated name; dlsym only looks it up.
        !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
      })
    });
    (present && !event_loop.is_null()).then_some(EventLoop(event_loop))
  }
}

/// What the handle carries. uv_handle_t begins with `void* data`, so the handle's first word
/// points here.
struct Watch {
  pidfd: OwnedFd,
  on_exit: Option<OnExit>,
  layout: Layout,
}

fn layout() -> Layout {
  // SAFETY: uv_handle_size has no preconditions.
  let size = unsafe { uv_handle_size(UV_POLL) };
  Layout::from_size_align(size.max(std::mem::size_of::<usize>()), 16).expect("a small, valid layout")
}

/// Calls `on_exit(code, signal)` on `event_loop`, the calling thread's own, once the process
/// behind `pidfd` has exited and was reaped. The handle does not keep the loop alive (the caller
/// decides that). `pidfd` stays the caller's; the watch keeps a duplicate.
pub fn watch_on(event_loop: &EventLoop, pidfd: RawFd, on_exit: OnExit) -> Result<()> {
  let event_loop = event_loop.0;
  let dup = syscall::dup_cloexec(pidfd)?;
  let layout = layout();
  // SAFETY: a non-zero-sized layout.
  let handle = unsafe { alloc_zeroed(layout) } as *mut c_void;
  if handle.is_null() {
    return Err(Error::os(libc::ENOMEM, "uv_poll_init"));
  }
  let fd = dup.as_raw_fd();
  let data = Box::into_raw(Box::new(Watch { pidfd: dup, on_exit: Some(on_exit), layout }));
  // SAFETY: `handle` is zeroed storage of uv_handle_size(UV_POLL) bytes, `event_loop` is the
  // loop this thread runs (EventLoop's contract), and `fd` is open.
  let r = unsafe { uv_poll_init(event_loop, handle, fd) };
  if r != 0 {
    // SAFETY: uv_poll_init failed before registering anything: both allocations are ours alone.
    unsafe {
      drop(Box::from_raw(data));
      dealloc(handle as *mut u8, layout);
    }
    return Err(Error::os(-r, "uv_poll_init"));
  }
  // SAFETY: an initialised handle; its first field is `void* data` (uv_handle_t's public ABI).
  unsafe {
    *(handle as *mut *mut Watch) = data;
    uv_unref(handle);
  }
  // SAFETY: an initialised poll handle and a callback with libuv's signature.
  let r = unsafe { uv_poll_start(handle, UV_READABLE, on_readable) };
  if r != 0 {
    // SAFETY: initialised, so it must be closed through libuv; on_closed frees both.
    unsafe { uv_close(handle, on_closed) };
    return Err(Error::os(-r, "uv_poll_start"));
  }
  Ok(())
}

extern "C" fn on_readable(handle: *mut c_void, _status: c_int, _events: c_int) {
  // SAFETY: `data` was set in `watch` and is freed only in on_closed, after this handle stops.
  let w = unsafe { &mut **(handle as *mut *mut Watch) };
  let status = match syscall::waitid_pidfd(w.pidfd.as_fd(), true) {
    Ok(Some(s)) => s,
    // Not exited after all (a spurious wakeup): keep watching.
    Ok(None) => return,
    // Reaped by someone else: the status is lost.
    Err(_) => (-1, 0),
  };
  // SAFETY: a started poll handle of this loop, on the loop's own thread.
  unsafe {
    uv_poll_stop(handle);
    uv_close(handle, on_closed);
  }
  if let Some(cb) = w.on_exit.take() {
    // A panic must not unwind into libuv.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(status.0, status.1)));
  }
}

extern "C" fn on_closed(handle: *mut c_void) {
  // SAFETY: libuv is done with the handle; `data` and the storage were allocated in `watch`.
  unsafe {
    let data = *(handle as *mut *mut Watch);
    let layout = (*data).layout;
    drop(Box::from_raw(data));
    dealloc(handle as *mut u8, layout);
  }
}
