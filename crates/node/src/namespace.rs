//! The native side of a `Namespace`: one class that owns one descriptor, plus the calling-thread
//! operations (join, run's enter/restore, unshare, persist). These run on the JS thread that
//! calls them, never on a pool thread, because namespace membership is per thread.

use napi::bindgen_prelude::BigInt;
use napi_derive::napi;
use nsjs_sys::error::Rule;
use nsjs_sys::{persist, thread, Error, NsHandle, NsType};

use crate::error::{to_napi, IntoNapi, Result};

/// The TypeScript layer validates names first; this only guards direct use of the binding.
pub fn parse_type(name: &str) -> Result<NsType> {
  NsType::from_name(name).ok_or_else(|| napi::Error::new(napi::Status::InvalidArg, format!("unknown namespace type {name:?}")))
}

fn parse_opt_type(name: Option<String>) -> Result<Option<NsType>> {
  name.as_deref().map(parse_type).transpose()
}

#[napi]
pub struct NativeNamespace {
  inner: Option<NsHandle>,
}

impl NativeNamespace {
  pub fn wrap(h: NsHandle) -> Self {
    NativeNamespace { inner: Some(h) }
  }

  pub fn handle(&self) -> Result<&NsHandle> {
    self.inner.as_ref().ok_or_else(|| to_napi(Error::rule(Rule::Closed, "close")))
  }
}

#[napi]
impl NativeNamespace {
  /// `/proc/<pid>/ns/<type>`, pinned by a pidfd against pid reuse.
  #[napi(factory)]
  pub fn open_pid(pid: i32, ns_type: String) -> Result<Self> {
    NsHandle::open_pid(pid, parse_type(&ns_type)?).napi().map(Self::wrap)
  }

  #[napi(factory)]
  pub fn open_path(path: String, ns_type: Option<String>) -> Result<Self> {
    NsHandle::open_path(&path, parse_opt_type(ns_type)?).napi().map(Self::wrap)
  }

  #[napi(factory)]
  pub fn from_fd(fd: i32, ns_type: Option<String>) -> Result<Self> {
    NsHandle::from_raw_dup(fd, parse_opt_type(ns_type)?).napi().map(Self::wrap)
  }

  #[napi(factory)]
  pub fn current(ns_type: String) -> Result<Self> {
    NsHandle::current(parse_type(&ns_type)?).napi().map(Self::wrap)
  }

  #[napi(getter, js_name = "type")]
  pub fn ns_type(&self) -> Result<String> {
    Ok(self.handle()?.ns_type().name().to_string())
  }

  #[napi(getter)]
  pub fn inode(&self) -> Result<BigInt> {
    Ok(BigInt::from(self.handle()?.inode()))
  }

  #[napi(getter)]
  pub fn device(&self) -> Result<BigInt> {
    Ok(BigInt::from(self.handle()?.device()))
  }

  #[napi(getter)]
  pub fn fd(&self) -> Result<i32> {
    Ok(self.handle()?.raw_fd())
  }

  #[napi(getter)]
  pub fn closed(&self) -> bool {
    self.inner.is_none()
  }

  #[napi]
  pub fn equals(&self, other: &NativeNamespace) -> Result<bool> {
    Ok(self.handle()?.same_as(other.handle()?))
  }

  #[napi]
  pub fn owner(&self) -> Result<NativeNamespace> {
    self.handle()?.owner().napi().map(Self::wrap)
  }

  #[napi]
  pub fn parent(&self) -> Result<NativeNamespace> {
    self.handle()?.parent().napi().map(Self::wrap)
  }

  #[napi]
  pub fn owner_uid(&self) -> Result<u32> {
    self.handle()?.owner_uid().napi()
  }

  /// Moves the calling thread into this namespace.
  #[napi]
  pub fn join(&self) -> Result<()> {
    thread::join(self.handle()?).napi()
  }

  /// Enters this namespace on the calling thread; the returned state puts it back.
  #[napi]
  pub fn enter(&self) -> Result<NativeSavedThread> {
    thread::enter(self.handle()?).napi().map(|s| NativeSavedThread { saved: Some(s) })
  }

  #[napi]
  pub fn persist(&self, path: String) -> Result<()> {
    persist::persist(self.handle()?, &path).napi()
  }

  /// Releases the descriptor; closing twice is a no-op.
  #[napi]
  pub fn close(&mut self) {
    self.inner = None;
  }
}

#[napi]
pub struct NativeSavedThread {
  saved: Option<thread::Saved>,
}

#[napi]
impl NativeSavedThread {
  #[napi]
  pub fn restore(&mut self) -> Result<()> {
    match self.saved.take() {
      Some(s) => thread::restore(s).napi(),
      None => Ok(()),
    }
  }
}

#[napi]
pub fn unshare_thread(types: Vec<String>) -> Result<()> {
  let types = types.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>>>()?;
  thread::unshare(&types).napi()
}

#[napi]
pub fn unpersist(path: String) -> Result<()> {
  persist::unpersist(&path).napi()
}

#[napi]
pub fn thread_count() -> u32 {
  nsjs_sys::sys::thread_count() as u32
}
