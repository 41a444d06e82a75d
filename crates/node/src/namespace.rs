//! The native side of a `Namespace`: one class that owns one descriptor, plus the calling-thread
//! operations (join, run's enter/restore, unshare, persist). These run on the JS thread that
//! calls them, never on a pool thread, because namespace membership is per thread.

use napi::bindgen_prelude::{BigInt, ObjectFinalize};
use napi::Env;
use napi_derive::napi;
use nsjs_sys::error::Rule;
use nsjs_sys::{persist, this_thread, Error, NsHandle, NsType};

use crate::error::{to_napi, IntoNapi, Result};

/// The TypeScript layer validates names first; this only guards direct use of the binding.
pub fn parse_type(name: &str) -> Result<NsType> {
  NsType::from_name(name)
    .ok_or_else(|| napi::Error::new(napi::Status::InvalidArg, format!("unknown namespace type {name:?}")))
}

fn parse_opt_type(name: Option<String>) -> Result<Option<NsType>> {
  name.as_deref().map(parse_type).transpose()
}

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

  pub fn handle(&self) -> Result<&NsHandle> {
    self.inner.as_ref().ok_or_else(|| to_napi(Error::rule(Rule::Closed, "close")))
  }
}

#[napi]
impl NativeNamespace {
  /// `/proc/<pid>/ns/<type>`, pinned by a pidfd against pid reuse.
  #[napi(factory)]
  pub fn open_pid(env: Env, pid: i32, ns_type: String) -> Result<Self> {
    NsHandle::open_pid(pid, parse_type(&ns_type)?).napi().and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn open_path(env: Env, path: String, ns_type: Option<String>) -> Result<Self> {
    NsHandle::open_file(&path, parse_opt_type(ns_type)?).napi().and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn from_fd(env: Env, fd: i32, ns_type: Option<String>) -> Result<Self> {
    NsHandle::from_raw_dup(fd, parse_opt_type(ns_type)?).napi().and_then(|h| Self::wrap(&env, h))
  }

  #[napi(factory)]
  pub fn current(env: Env, ns_type: String) -> Result<Self> {
    NsHandle::current(parse_type(&ns_type)?).napi().and_then(|h| Self::wrap(&env, h))
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
  pub fn owner(&self, env: Env) -> Result<NativeNamespace> {
    self.handle()?.owner().napi().and_then(|h| Self::wrap(&env, h))
  }

  #[napi]
  pub fn parent(&self, env: Env) -> Result<NativeNamespace> {
    self.handle()?.parent().napi().and_then(|h| Self::wrap(&env, h))
  }

  #[napi]
  pub fn owner_uid(&self) -> Result<u32> {
    self.handle()?.owner_uid().napi()
  }

  /// Moves the calling thread into this namespace.
  #[napi]
  pub fn join(&self) -> Result<()> {
    this_thread::join(self.handle()?).napi()
  }

  /// Enters this namespace on the calling thread; the returned state puts it back.
  #[napi]
  pub fn enter(&self) -> Result<NativeSavedThread> {
    this_thread::enter(self.handle()?).napi().map(|s| NativeSavedThread { saved: Some(s) })
  }

  #[napi]
  pub fn persist(&self, path: String) -> Result<()> {
    persist::persist(self.handle()?, &path).napi()
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

#[napi]
pub struct NativeSavedThread {
  saved: Option<this_thread::Saved>,
}

#[napi]
impl NativeSavedThread {
  #[napi]
  pub fn restore(&mut self) -> Result<()> {
    match self.saved.take() {
      Some(s) => this_thread::restore(s).napi(),
      None => Ok(()),
    }
  }
}

/// Handles on the namespaces of `types` that process `pid` is in, in that order, all through
/// one pidfd (so all that one process's); without `types`, every type this kernel has.
#[napi]
pub fn open_pid_all(env: Env, pid: i32, types: Option<Vec<String>>) -> Result<Vec<NativeNamespace>> {
  let handles = NsHandle::open_pid_all(pid, &type_list(types)?).napi()?;
  handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// What spawn's `join: { pid, types }` enters (nsenter's rules, see `NsHandle::open_pid_joins`):
/// without `types`, every type this kernel has that the calling thread does not already share.
#[napi]
pub fn open_pid_joins(env: Env, pid: i32, types: Option<Vec<String>>) -> Result<Vec<NativeNamespace>> {
  let skip_shared = types.is_none();
  let handles = NsHandle::open_pid_joins(pid, &type_list(types)?, skip_shared).napi()?;
  handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// The named types, or every type this kernel has.
pub(crate) fn type_list(types: Option<Vec<String>>) -> Result<Vec<NsType>> {
  match types {
    Some(names) => names.iter().map(|t| parse_type(t)).collect(),
    None => Ok(NsType::ALL.into_iter().filter(|t| t.supported()).collect()),
  }
}

#[napi]
pub fn unshare_thread(types: Vec<String>) -> Result<()> {
  let types = types.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>>>()?;
  this_thread::unshare(&types).napi()
}

#[napi]
pub fn unpersist(path: String) -> Result<()> {
  persist::unpersist(&path).napi()
}

#[napi]
pub fn thread_count() -> u32 {
  nsjs_sys::syscall::thread_count() as u32
}
