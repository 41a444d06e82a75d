//! Node's libuv, as nsjs uses it: uv_poll handles on the JS thread's own loop (exit_watch's one
//! epoll of pidfds, channel_poll's IPC sockets). The functions are resolved from the node
//! executable when the addon loads; `present` checks them all with dlsym before the first call
//! (lazy binding would otherwise resolve a missing one at its first call and abort the process).
//! The constants and uv_handle_t's first field (`void* data`) are libuv's stable ABI since 1.0.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ffi::{c_int, c_void, CStr};
use std::os::fd::RawFd;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// uv_handle_type's UV_POLL.
const UV_POLL: c_int = 8;
/// uv_poll_event's UV_READABLE and UV_WRITABLE.
pub const READABLE: u32 = 1;
pub const WRITABLE: u32 = 2;

extern "C" {
  fn uv_handle_size(kind: c_int) -> usize;
  fn uv_poll_init(event_loop: *mut c_void, handle: *mut c_void, fd: c_int) -> c_int;
  pub(crate) fn uv_poll_start(
    handle: *mut c_void,
    events: c_int,
    cb: extern "C" fn(*mut c_void, c_int, c_int),
  ) -> c_int;
  pub(crate) fn uv_poll_stop(handle: *mut c_void) -> c_int;
  pub(crate) fn uv_close(handle: *mut c_void, cb: extern "C" fn(*mut c_void));
  pub(crate) fn uv_ref(handle: *mut c_void);
  pub(crate) fn uv_unref(handle: *mut c_void);
}

/// The functions above, and uv_backend_fd, which only a full libuv has (Deno's partial one does
/// not; Bun's panics in uv_poll_init, so the addon keeps Bun away by name before this).
const FUNCTIONS: [&CStr; 8] = [
  c"uv_handle_size",
  c"uv_poll_init",
  c"uv_poll_start",
  c"uv_poll_stop",
  c"uv_close",
  c"uv_ref",
  c"uv_unref",
  c"uv_backend_fd",
];

/// Whether the process has every function used here; looked up once (its symbols do not change,
/// and a spawn should not pay for it).
pub(crate) fn present() -> bool {
  static PRESENT: OnceLock<bool> = OnceLock::new();
  *PRESENT.get_or_init(|| {
    FUNCTIONS.iter().all(|name| {
      // SAFETY: a NUL-terminated name; dlsym only looks it up.
      !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
    })
  })
}

fn poll_layout() -> Layout {
  // SAFETY: uv_handle_size has no preconditions (`present` was checked by the caller's EventLoop).
  let size = unsafe { uv_handle_size(UV_POLL) };
  Layout::from_size_align(size.max(std::mem::size_of::<usize>()), 16).expect("a small, valid layout")
}

/// A uv_poll handle on `event_loop` (a loop this thread runs, as `EventLoop` vouches) for `fd`,
/// in storage of ours: its `data` word is null until the caller sets it, and it is freed by
/// `free_poll` from uv_close's callback.
pub(crate) fn poll_init(event_loop: *mut c_void, fd: RawFd) -> Result<*mut c_void> {
  let layout = poll_layout();
  // SAFETY: a non-zero-sized layout.
  let handle = unsafe { alloc_zeroed(layout) } as *mut c_void;
  if handle.is_null() {
    return Err(Error::os(libc::ENOMEM, "uv_poll_init"));
  }
  // SAFETY: zeroed storage of uv_handle_size(UV_POLL) bytes and the loop this thread runs; a
  // closed descriptor fails the init.
  let r = unsafe { uv_poll_init(event_loop, handle, fd) };
  if r != 0 {
    // SAFETY: uv_poll_init failed before registering anything: the storage is ours alone.
    unsafe { dealloc(handle as *mut u8, layout) };
    return Err(Error::os(-r, "uv_poll_init"));
  }
  Ok(handle)
}

/// Frees the storage of a handle made by `poll_init`.
///
/// # Safety
/// libuv must be done with it: called from its uv_close callback, once.
pub(crate) unsafe fn free_poll(handle: *mut c_void) {
  // SAFETY: allocated by `poll_init` with this layout; the caller guarantees libuv is done.
  unsafe { dealloc(handle as *mut u8, poll_layout()) };
}
