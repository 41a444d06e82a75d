//! The native side of a `Namespace`: free functions on the descriptor numbers JS holds (the
//! handles themselves are in `handles`), `NativeNamespace` for the few places that pass a handle
//! as an object, and the calling-thread operations (join, run's enter/restore, unshare). These
//! run on the JS thread that calls them, never on a pool thread, because namespace membership is
//! per thread.

use std::cell::RefCell;

use napi::bindgen_prelude::BigInt;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::{persist, this_thread, Error, NsHandle};

use crate::error::{to_js, IntoNapi, Result};
use crate::handles::{self, Slot};
use crate::mirror::{type_list, NsType};

/// A handle as an object: what create(), a child's namespaces() and a socket's namespace hand
/// over (JS then keeps it in the table with `adoptHandle`), and a view of a kept handle for the
/// functions that take one (`handleView`). Closed when the handle is; its finalizer closes a
/// handle that was never kept.
#[napi]
pub struct NativeNamespace {
  slot: Slot,
}

impl NativeNamespace {
  /// A new handle, not yet kept.
  pub fn wrap(env: &Env, h: NsHandle) -> Result<Self> {
    Ok(NativeNamespace { slot: handles::new_slot(env, h) })
  }

  /// Calls `f` with the handle (ERR_NS_CLOSED once closed).
  pub fn with<R>(&self, env: &Env, f: impl FnOnce(&NsHandle) -> Result<R>) -> Result<R> {
    handles::with_slot(env, &self.slot, f)
  }
}

#[napi]
impl NativeNamespace {
  #[napi(getter, js_name = "type")]
  pub fn ns_type(&self, env: Env) -> Result<NsType> {
    self.with(&env, |h| Ok(h.ns_type().into()))
  }

  #[napi(getter)]
  pub fn inode(&self, env: Env) -> Result<BigInt> {
    self.with(&env, |h| Ok(BigInt::from(h.inode())))
  }

  #[napi(getter)]
  pub fn fd(&self, env: Env) -> Result<i32> {
    self.with(&env, |h| Ok(h.raw_fd()))
  }
}

/// The namespace types in the order whose positions the functions below take and give: a
/// handle's type crosses as a number, since reading a string costs more than the rest of a join.
#[napi]
pub fn ns_type_order() -> Vec<NsType> {
  nsjs_sys::NsType::ALL.into_iter().map(Into::into).collect()
}

/// The positions of the types this kernel has.
#[napi]
pub fn supported_types() -> Vec<u32> {
  type_list(None).into_iter().map(|t| t.position() as u32).collect()
}

fn type_at(env: &Env, position: u32) -> Result<nsjs_sys::NsType> {
  let all = nsjs_sys::NsType::ALL;
  all.get(position as usize).copied().ok_or_else(|| to_js(env, Error::os(libc::EINVAL, "setns")))
}

fn maybe_type_at(env: &Env, position: Option<u32>) -> Result<Option<nsjs_sys::NsType>> {
  position.map(|p| type_at(env, p)).transpose()
}

/// `/proc/<pid>/ns/<type>`, pinned by a pidfd against pid reuse: the kept handle's descriptor.
#[napi]
pub fn open_pid(env: Env, pid: i32, position: u32) -> Result<i32> {
  let h = NsHandle::open_pid(pid, type_at(&env, position)?).napi(&env)?;
  handles::keep(&env, h)
}

/// Handles on the namespaces of the types at `positions` that process `pid` is in, in that
/// order, all through one pidfd (so all that one process's).
#[napi]
pub fn open_pid_all(env: Env, pid: i32, positions: Vec<u32>) -> Result<Vec<i32>> {
  let types = positions.into_iter().map(|p| type_at(&env, p)).collect::<Result<Vec<_>>>()?;
  let opened = NsHandle::open_pid_all(pid, &types).napi(&env)?;
  opened.into_iter().map(|h| handles::keep(&env, h)).collect()
}

/// The calling thread's own namespace of the type at `position`.
#[napi]
pub fn open_current(env: Env, position: u32) -> Result<i32> {
  let h = NsHandle::current(type_at(&env, position)?).napi(&env)?;
  handles::keep(&env, h)
}

/// A namespace file (checked to be on nsfs, and of the type at `position` when given).
#[napi]
pub fn open_path(env: Env, path: String, position: Option<u32>) -> Result<i32> {
  let h = NsHandle::open_file(&path, maybe_type_at(&env, position)?).napi(&env)?;
  handles::keep(&env, h)
}

/// A duplicate of the caller's namespace descriptor `fd`.
#[napi]
pub fn open_fd(env: Env, fd: i32, position: Option<u32>) -> Result<i32> {
  let h = NsHandle::from_raw_dup(fd, maybe_type_at(&env, position)?).napi(&env)?;
  handles::keep(&env, h)
}

/// Keeps the handle of `n` in the table: its descriptor, which JS holds from now on.
#[napi]
pub fn adopt_handle(env: Env, n: &NativeNamespace) -> Result<i32> {
  handles::keep_slot(&env, n.slot.clone())
}

/// A `NativeNamespace` on the kept handle `fd`, closed when it is.
#[napi]
pub fn handle_view(env: Env, fd: i32) -> Result<NativeNamespace> {
  Ok(NativeNamespace { slot: handles::slot(&env, fd)? })
}

/// The position of the handle's type.
#[napi]
pub fn handle_type(env: Env, fd: i32) -> Result<u32> {
  handles::with(&env, fd, |h| Ok(h.ns_type().position() as u32))
}

/// The handle's nsfs device and inode, the kernel's identity of a namespace.
#[napi]
pub fn handle_id(env: Env, fd: i32) -> Result<Vec<BigInt>> {
  handles::with(&env, fd, |h| Ok(vec![BigInt::from(h.device()), BigInt::from(h.inode())]))
}

/// The user namespace that owns the handle's namespace (NS_GET_USERNS), kept.
#[napi]
pub fn handle_owner(env: Env, fd: i32) -> Result<i32> {
  let h = handles::with(&env, fd, |h| h.owner().napi(&env))?;
  handles::keep(&env, h)
}

/// The parent of a pid or user namespace (NS_GET_PARENT), kept.
#[napi]
pub fn handle_parent(env: Env, fd: i32) -> Result<i32> {
  let h = handles::with(&env, fd, |h| h.parent().napi(&env))?;
  handles::keep(&env, h)
}

#[napi]
pub fn handle_owner_uid(env: Env, fd: i32) -> Result<u32> {
  handles::with(&env, fd, |h| h.owner_uid().napi(&env))
}

#[napi]
pub fn handle_persist(env: Env, fd: i32, path: String) -> Result<()> {
  handles::with(&env, fd, |h| persist::persist(h, &path).napi(&env))
}

/// Closes the kept handle `fd`; closing twice is a no-op.
#[napi]
pub fn close_handle(fd: i32) {
  handles::close(fd)
}

/// What spawn's `join: { pid, types }` enters (nsenter's rules, see `NsHandle::open_pid_joins`):
/// without `types`, every type this kernel has that the calling thread does not already share.
#[napi]
pub fn open_pid_joins(env: Env, pid: i32, types: Option<Vec<NsType>>) -> Result<Vec<NativeNamespace>> {
  let skip_shared = types.is_none();
  let opened = NsHandle::open_pid_joins(pid, &type_list(types), skip_shared).napi(&env)?;
  opened.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// `join` by descriptor number and type position, for a JS handle that holds the descriptor
/// open and knows its type (setns checks the type again).
#[napi]
pub fn join_fd(env: Env, fd: i32, position: u32) -> Result<()> {
  this_thread::join_raw(fd, type_at(&env, position)?).napi(&env)
}

thread_local! {
  /// What each `run()` of this thread still inside must restore, innermost last: run() calls
  /// runEnter and runRestore in a try/finally, so they pair up last in, first out.
  static RUNS: RefCell<Vec<this_thread::Saved>> = const { RefCell::new(Vec::new()) };
}

/// run()'s entry: moves the calling thread into the namespace of `fd` (see `joinFd`) until
/// `runRestore`.
#[napi]
pub fn run_enter(env: Env, fd: i32, position: u32) -> Result<()> {
  let saved = this_thread::enter_raw(fd, type_at(&env, position)?).napi(&env)?;
  RUNS.with_borrow_mut(|r| r.push(saved));
  Ok(())
}

/// run()'s exit: puts the thread back where the last `runEnter` found it.
#[napi]
pub fn run_restore(env: Env) -> Result<()> {
  match RUNS.with_borrow_mut(|r| r.pop()) {
    Some(saved) => this_thread::restore(saved).napi(&env),
    None => Ok(()),
  }
}

#[napi]
pub fn unshare_thread(env: Env, types: Vec<NsType>) -> Result<()> {
  this_thread::unshare(&types.into_iter().map(Into::into).collect::<Vec<_>>()).napi(&env)
}

#[napi]
pub fn unpersist(env: Env, path: String) -> Result<()> {
  persist::unpersist(&path).napi(&env)
}
