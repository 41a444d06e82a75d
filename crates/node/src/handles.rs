//! The handles JS holds, by descriptor number. A `Namespace` is a plain JS object that keeps its
//! descriptor and type as numbers and passes them to free functions; the handle itself (the
//! `NsHandle` that owns the descriptor) stays here, in a table of the JS thread that opened it,
//! until `closeHandle`: by `close()`, or by a FinalizationRegistry once the object is
//! unreachable. A napi class instance per handle (its reference, type tag and finalizer) cost more
//! than the system calls of an open. The table is per thread, as each JS thread (a Worker's too)
//! is, and a thread that ends drops it, closing what its JS left open.

use std::cell::RefCell;
use std::rc::Rc;

use napi::Env;
use nsjs_sys::error::Rule;
use nsjs_sys::{Error, NsHandle};

use crate::error::{to_js, Result};
use crate::fd_pressure;

/// One handle, shared by the table and by the `NativeNamespace` objects that name it; emptied
/// (the descriptor closed) by `close`, so those see a closed handle.
pub type Slot = Rc<RefCell<Option<NsHandle>>>;

thread_local! {
  /// By descriptor number: the kernel gives the lowest free numbers, so this stays dense.
  static OPEN: RefCell<Vec<Option<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// A new slot for a handle just opened; what V8 is told about it is in `fd_pressure`.
pub fn new_slot(env: &Env, h: NsHandle) -> Slot {
  fd_pressure::opened(env, h.raw_fd());
  Rc::new(RefCell::new(Some(h)))
}

/// Puts `slot` in the table; its descriptor number is what JS holds from now on.
pub fn keep_slot(env: &Env, slot: Slot) -> Result<i32> {
  let fd = slot.borrow().as_ref().map(NsHandle::raw_fd).ok_or_else(|| closed(env))?;
  let at = usize::try_from(fd).map_err(|_| closed(env))?;
  OPEN.with_borrow_mut(|t| {
    if t.len() <= at {
      t.resize(at + 1, None);
    }
    t[at] = Some(slot);
  });
  Ok(fd)
}

/// A new handle, kept: its descriptor number.
pub fn keep(env: &Env, h: NsHandle) -> Result<i32> {
  keep_slot(env, new_slot(env, h))
}

/// The slot of descriptor `fd`, if this thread holds a handle on it.
pub fn slot(env: &Env, fd: i32) -> Result<Slot> {
  let at = usize::try_from(fd).map_err(|_| closed(env))?;
  OPEN.with_borrow(|t| t.get(at).cloned().flatten()).ok_or_else(|| closed(env))
}

/// Calls `f` with the handle of slot `s` (ERR_NS_CLOSED once closed). The table is not borrowed
/// meanwhile, so `f` may keep new handles.
pub fn with_slot<R>(env: &Env, s: &Slot, f: impl FnOnce(&NsHandle) -> Result<R>) -> Result<R> {
  match s.borrow().as_ref() {
    Some(h) => f(h),
    None => Err(closed(env)),
  }
}

/// Calls `f` with the handle on descriptor `fd`.
pub fn with<R>(env: &Env, fd: i32, f: impl FnOnce(&NsHandle) -> Result<R>) -> Result<R> {
  with_slot(env, &slot(env, fd)?, f)
}

/// Closes the handle on descriptor `fd`; nothing when this thread holds none (closed already).
pub fn close(fd: i32) {
  let Ok(at) = usize::try_from(fd) else { return };
  let taken = OPEN.with_borrow_mut(|t| t.get_mut(at).and_then(Option::take));
  if let Some(s) = taken {
    s.borrow_mut().take();
  }
}

pub fn closed(env: &Env) -> napi::Error {
  to_js(env, Error::rule(Rule::Closed, "close"))
}
