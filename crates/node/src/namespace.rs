//! The native side of a `Namespace`: one class that owns one descriptor, plus the calling-thread
//! operations (join, run's enter/restore, unshare, persist). These run on the JS thread that
//! calls them, never on a pool thread, because namespace membership is per thread.

use std::cell::RefCell;

use napi::bindgen_prelude::{BigInt, ObjectFinalize};
use napi::Env;
use napi_derive::napi;
use nsjs_sys::error::Rule;
use nsjs_sys::{persist, this_thread, Error, NsHandle};

use crate::error::{to_js, IntoNapi, Result};
use crate::mirror::{type_list, NsType};

#[napi(custom_finalize)]
pub struct NativeNamespace {
  inner: Option<NsHandle>,
}

/// What V8 is told each open handle costs. A descriptor is a scarce resource that V8 cannot see;
/// reporting it as external memory makes the collector run (and finalizers close descriptors)
/// long before a program that drops handles without close() reaches RLIMIT_NOFILE.
const EXTERNAL_WEIGHT: i64 = 256 * 1024;

impl NativeNamespace {
  pub fn wrap(env: &Env, h: NsHandle) -> Result<Self> {
    env.adjust_external_memory(EXTERNAL_WEIGHT)?;
    Ok(NativeNamespace { inner: Some(h) })
  }

  pub fn handle(&self, env: &Env) -> Result<&NsHandle> {
    self.inner.as_ref().ok_or_else(|| to_js(env, Error::rule(Rule::Closed, "close")))
  }
}

#[napi]
impl NativeNamespace {
  /// `/proc/<pid>/ns/<type>`, pinned by a pidfd against pid reuse.
  #[napi(factory)]
  pub fn open_pid(env: Env, pid: i32, ns_type: NsType) -> Result<Self> {
    NsHandle::open_pid(pid, ns_type.into()).napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn open_path(env: Env, path: String, ns_type: Option<NsType>) -> Result<Self> {
    NsHandle::open_file(&path, ns_type.map(Into::into)).napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn from_fd(env: Env, fd: i32, ns_type: Option<NsType>) -> Result<Self> {
    NsHandle::from_raw_dup(fd, ns_type.map(Into::into)).napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn current(env: Env, ns_type: NsType) -> Result<Self> {
    NsHandle::current(ns_type.into()).napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi(getter, js_name = "type")]
  pub fn ns_type(&self, env: Env) -> Result<NsType> {
    Ok(self.handle(&env)?.ns_type().into())
  }

  #[napi(getter)]
  pub fn inode(&self, env: Env) -> Result<BigInt> {
    Ok(BigInt::from(self.handle(&env)?.inode()))
  }

  #[napi(getter)]
  pub fn device(&self, env: Env) -> Result<BigInt> {
    Ok(BigInt::from(self.handle(&env)?.device()))
  }

  #[napi(getter)]
  pub fn fd(&self, env: Env) -> Result<i32> {
    Ok(self.handle(&env)?.raw_fd())
  }

  #[napi(getter)]
  pub fn closed(&self) -> bool {
    self.inner.is_none()
  }

  #[napi]
  pub fn equals(&self, env: Env, other: &NativeNamespace) -> Result<bool> {
    Ok(self.handle(&env)?.same_as(other.handle(&env)?))
  }

  #[napi]
  pub fn owner(&self, env: Env) -> Result<NativeNamespace> {
    self.handle(&env)?.owner().napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi]
  pub fn parent(&self, env: Env) -> Result<NativeNamespace> {
    self.handle(&env)?.parent().napi(&env).and_then(|h| Self::wrap(&env, h))
  }

  #[napi]
  pub fn owner_uid(&self, env: Env) -> Result<u32> {
    self.handle(&env)?.owner_uid().napi(&env)
  }

  #[napi]
  pub fn persist(&self, env: Env, path: String) -> Result<()> {
    persist::persist(self.handle(&env)?, &path).napi(&env)
  }

  /// Releases the descriptor; closing twice is a no-op.
  #[napi]
  pub fn close(&mut self, env: Env) -> Result<()> {
    if self.inner.take().is_some() {
      env.adjust_external_memory(-EXTERNAL_WEIGHT)?;
    }
    Ok(())
  }
}

impl ObjectFinalize for NativeNamespace {
  fn finalize(mut self, env: Env) -> Result<()> {
    self.close(env)
  }
}

/// Handles on the namespaces of `types` that process `pid` is in, in that order, all through
/// one pidfd (so all that one process's); without `types`, every type this kernel has.
#[napi]
pub fn open_pid_all(env: Env, pid: i32, types: Option<Vec<NsType>>) -> Result<Vec<NativeNamespace>> {
  let handles = NsHandle::open_pid_all(pid, &type_list(types)).napi(&env)?;
  handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// What spawn's `join: { pid, types }` enters (nsenter's rules, see `NsHandle::open_pid_joins`):
/// without `types`, every type this kernel has that the calling thread does not already share.
#[napi]
pub fn open_pid_joins(env: Env, pid: i32, types: Option<Vec<NsType>>) -> Result<Vec<NativeNamespace>> {
  let skip_shared = types.is_none();
  let handles = NsHandle::open_pid_joins(pid, &type_list(types), skip_shared).napi(&env)?;
  handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// The namespace types in the order whose positions `joinFd`, `runEnter` and the raw openers
/// take: a handle's type crosses as a number, since reading a string costs more than the rest of
/// such a call.
#[napi]
pub fn ns_type_order() -> Vec<NsType> {
  nsjs_sys::NsType::ALL.into_iter().map(Into::into).collect()
}

fn type_at(env: &Env, position: u32) -> Result<nsjs_sys::NsType> {
  let all = nsjs_sys::NsType::ALL;
  all.get(position as usize).copied().ok_or_else(|| to_js(env, Error::os(libc::EINVAL, "setns")))
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
