//! A started child as JS holds it: its pid and pidfd, and the watch that reports its exit through
//! a threadsafe function (no pool thread waits for a child).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::OnceLock;

use napi::bindgen_prelude::Function;
use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use nsjs_sys::spawn::{self, Child};
use nsjs_sys::this_thread::is_main_thread;
use nsjs_sys::{exit_watch, Error, NsHandle, Step};

use crate::error::{to_js, IntoNapi, Result};
use crate::mirror::{type_list, NsType};
use crate::namespace::NativeNamespace;

#[napi]
pub struct NativeChild {
  pid: i32,
  /// Dropped by `release()` once the child has been reaped.
  pidfd: Option<OwnedFd>,
  /// Parent ends of the pipes, for fds 0..2 (-1 where there is no pipe). JS takes ownership.
  stdio_fds: Vec<i32>,
}

#[napi]
impl NativeChild {
  #[napi(getter)]
  pub fn pid(&self) -> i32 {
    self.pid
  }

  #[napi(getter)]
  pub fn stdio_fds(&self) -> Vec<i32> {
    self.stdio_fds.clone()
  }

  /// Signals the child through its pidfd; false once it has exited (ESRCH) or was released.
  #[napi]
  pub fn kill(&self, env: Env, signal: i32) -> Result<bool> {
    let Some(pidfd) = &self.pidfd else { return Ok(false) };
    match spawn::kill(pidfd.as_fd(), self.pid, signal) {
      Ok(()) => Ok(true),
      Err(e) if e.errno == libc::ESRCH => Ok(false),
      Err(e) => Err(to_js(&env, e.pid(self.pid))),
    }
  }

  /// Handles on the child's namespaces of `types` (default: every type this kernel has), taken
  /// through its pidfd, so never another process's even if its pid was reused. ESRCH once the
  /// child has exited (also before it was reaped) or was released.
  #[napi]
  pub fn namespaces(&self, env: Env, types: Option<Vec<NsType>>) -> Result<Vec<NativeNamespace>> {
    let Some(pidfd) = &self.pidfd else {
      return Err(to_js(&env, Error::os(libc::ESRCH, "ioctl").pid(self.pid)));
    };
    let handles = NsHandle::open_pidfd_all(pidfd.as_fd(), self.pid, &type_list(types)).napi(&env)?;
    handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
  }

  /// Closes the pidfd: the child has been reaped and nothing will signal it again.
  #[napi]
  pub fn release(&mut self) {
    self.pidfd = None;
  }
}

/// `onExit([code, signal])`, callable from the thread that sees the exit.
pub type ExitTsfn = ThreadsafeFunction<(i32, i32), (), (i32, i32), Status, false, true>;

pub fn exit_tsfn(on_exit: Function<(i32, i32), ()>) -> Result<ExitTsfn> {
  on_exit.build_threadsafe_function::<(i32, i32)>().callee_handled::<false>().weak::<true>().build()
}

/// Whether this runtime runs Node's libuv, asked once: Bun and Deno export libuv's names but not
/// its behaviour (Bun panics in uv_poll_init, Deno's subset crashes), and say who they are in
/// `process.versions`. Read before any libuv call.
fn runtime_has_libuv(env: &Env) -> bool {
  static REAL: OnceLock<bool> = OnceLock::new();
  *REAL.get_or_init(|| {
    let versions = env
      .get_global()
      .and_then(|g| g.get_named_property::<Object>("process"))
      .and_then(|p| p.get_named_property::<Object>("versions"));
    match versions {
      Ok(v) => !["bun", "deno"].iter().any(|k| v.has_named_property(k).unwrap_or(true)),
      Err(_) => false,
    }
  })
}

/// Where the exit of a child spawned by this thread is seen: the main thread's own libuv loop in
/// Node, the reaper thread otherwise (worker threads, whose loop ends with them while a child may
/// outlive them, and runtimes without libuv).
fn event_loop(env: &Env) -> Option<exit_watch::EventLoop> {
  if !is_main_thread() || !runtime_has_libuv(env) {
    return None;
  }
  exit_watch::EventLoop::new(env.get_uv_event_loop().ok()?.cast())
}

/// Starts watching a started child's exit; on failure ends it rather than leave it running
/// unobserved (nobody would ever reap it).
pub fn watched(env: &Env, child: Child, on_exit: ExitTsfn, stdio_fds: Vec<i32>) -> Result<NativeChild> {
  let on_exit: exit_watch::OnExit = Box::new(move |code, signal| {
    on_exit.call((code, signal), ThreadsafeFunctionCallMode::NonBlocking);
  });
  let pidfd = child.pidfd.as_raw_fd();
  let watching = match event_loop(env) {
    Some(event_loop) => exit_watch::watch_on(&event_loop, pidfd, on_exit),
    None => exit_watch::watch(pidfd, on_exit),
  };
  if let Err(e) = watching {
    spawn::kill_and_reap(child.pidfd.as_fd());
    return Err(to_js(env, e.step(Step::Clone)));
  }
  Ok(NativeChild { pid: child.pid, pidfd: Some(child.pidfd), stdio_fds })
}
