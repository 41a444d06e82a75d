//! A started child as JS holds it: by its id alone. Its pid and pidfd are kept here per thread
//! under that id (a plain table, not an object per child: a wrapped class instance cost about
//! 10 us of a spawn's parent CPU), and the watch reports its exit, by the id, to its thread's
//! exit function (no pool thread waits for a child).

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::{Arc, OnceLock};

use napi::bindgen_prelude::{Buffer, Either, FnArgs, Function, JsObjectValue, JsValue, Object};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use nsjs_sys::spawn::{self, Child};
use nsjs_sys::this_thread::is_main_thread;
use nsjs_sys::{exit_watch, Error, NsHandle, Step};

use crate::error::{to_js, IntoNapi, Result};
use crate::mirror::{type_list, NsType};
use crate::namespace::NativeNamespace;

thread_local! {
  /// The running children of this thread, by the id JS gave each: their pid and the pidfd that
  /// every signal goes through. JS holds only the id (no object per child); an entry goes once
  /// the child has been reaped (`forget`), so an id never names another process.
  static CHILDREN: RefCell<HashMap<u32, (i32, OwnedFd)>> = RefCell::new(HashMap::new());
}

/// Drops child `id`'s pidfd: it has been reaped and nothing will signal it again. Called by the
/// exit watch of this thread's loop before it reports the exit, and by JS for the others.
fn forget(id: u32) {
  let gone = CHILDREN.with(|c| c.borrow_mut().remove(&id));
  drop(gone);
}

/// Signals child `id` through its pidfd; false once it has exited (ESRCH) or was reaped.
#[napi]
pub fn kill_child(env: Env, id: u32, signal: i32) -> Result<bool> {
  CHILDREN.with(|c| {
    let children = c.borrow();
    let Some((pid, pidfd)) = children.get(&id) else { return Ok(false) };
    match spawn::kill(pidfd.as_fd(), *pid, signal) {
      Ok(()) => Ok(true),
      Err(e) if e.errno == libc::ESRCH => Ok(false),
      Err(e) => Err(to_js(&env, e.pid(*pid))),
    }
  })
}

/// Handles on child `id`'s namespaces of `types` (default: every type this kernel has), taken
/// through its pidfd, so never another process's even if its pid was reused. ESRCH once the
/// child has exited (also before it was reaped).
#[napi]
pub fn child_namespaces(env: Env, id: u32, types: Option<Vec<NsType>>) -> Result<Vec<NativeNamespace>> {
  let handles = CHILDREN.with(|c| match c.borrow().get(&id) {
    Some((pid, pidfd)) => NsHandle::open_pidfd_all(pidfd.as_fd(), *pid, &type_list(types)),
    None => Err(Error::os(libc::ESRCH, "ioctl")),
  });
  handles.napi(&env)?.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
}

/// Forgets child `id` once JS has its exit, on a thread whose exits the reaper thread reports
/// (there the reaper holds a pidfd of its own); on a thread whose loop watches exits the watch
/// has done it already, before the report.
#[napi]
pub fn release_child(id: u32) {
  forget(id);
}

/// `onExit(id, code, signal)`, for a thread whose exits the reaper thread sees.
type ExitTsfn = ThreadsafeFunction<FnArgs<(u32, i32, i32)>, (), FnArgs<(u32, i32, i32)>, Status, false, true>;
/// `onReady(id)`, called by the spawner thread once a handed-over spawn's outcome can be taken.
pub type ReadyTsfn = ThreadsafeFunction<u32, (), u32, Status, false, true>;

/// How this thread learns of its children's exits and of its handed-over spawns.
struct Callbacks {
  /// None where the thread's own event loop reports exits (exit_watch::start_on).
  exit: Option<Arc<ExitTsfn>>,
  ready: Arc<ReadyTsfn>,
}

thread_local! {
  /// Set once per thread by `initSpawnCallbacks` (a thread runs one env).
  static CALLBACKS: RefCell<Option<Callbacks>> = const { RefCell::new(None) };
}

/// Names the functions that every child spawned by this thread reports to, each with the id it
/// was spawned with: `onExit(id, code, signal)` once it has exited and was reaped (code -1 when a
/// signal ended it), `onReady(id)` once a handed-over spawn's outcome can be taken, and
/// `onOutput(id, stdout, stderr, overflow)` once the output of its 'capture' slots is complete
/// (overflow: 1 or 2 when stdout or stderr went past its limit; an empty stream is null), or
/// `onExit(id, code, signal, stdout, stderr, overflow)` when it completed with the exit. One set
/// per thread, for all its children: nothing per child but its id. Called once per thread,
/// before its first spawn. Answers whether 'capture' slots may be used on this thread (its own
/// loop watches exits).
#[napi(
  ts_args_type = "onExit: (id: number, code: number, signal: number, stdout?: Buffer | null, stderr?: Buffer | null, overflow?: number) => void, onReady: (id: number) => void, onOutput: (id: number, stdout: Buffer | null, stderr: Buffer | null, overflow: number) => void"
)]
pub fn init_spawn_callbacks(
  env: Env,
  on_exit: Function<FnArgs<(u32, i32, i32)>, ()>,
  on_ready: Function<u32, ()>,
  on_output: Function<FnArgs<(u32, Buffer, Buffer, u32)>, ()>,
) -> Result<bool> {
  if CALLBACKS.with(|c| c.borrow().is_some()) {
    return Err(to_js(&env, Error::os(libc::EALREADY, "napi_create_threadsafe_function")));
  }
  let ready =
    Arc::new(on_ready.build_threadsafe_function::<u32>().callee_handled::<false>().weak::<true>().build()?);
  let exit = match event_loop(&env) {
    Some(event_loop) => {
      let (x, o) = (on_exit.value(), on_output.value());
      let on_exit = exit_watch::JsFunction::new(x.env.cast(), x.value.cast()).napi(&env)?;
      let on_output = exit_watch::JsFunction::new(o.env.cast(), o.value.cast()).napi(&env)?;
      exit_watch::start_on(&event_loop, on_exit, on_output, forget).napi(&env)?;
      None
    }
    None => Some(Arc::new(
      on_exit
        .build_threadsafe_function::<FnArgs<(u32, i32, i32)>>()
        .callee_handled::<false>()
        .weak::<true>()
        .build()?,
    )),
  };
  let capture = exit.is_none();
  CALLBACKS.with(|c| *c.borrow_mut() = Some(Callbacks { exit, ready }));
  Ok(capture)
}

/// This thread's ready notification (initSpawnCallbacks), for a spawn handed over with `id`.
pub fn ready_tsfn() -> Option<Arc<ReadyTsfn>> {
  CALLBACKS.with(|c| c.borrow().as_ref().map(|c| c.ready.clone()))
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

/// Where the exits of children spawned by this thread are seen: the main thread's own libuv loop
/// in Node, the reaper thread otherwise (worker threads, whose loop ends with them while a child
/// may outlive them, and runtimes without libuv).
fn event_loop(env: &Env) -> Option<exit_watch::EventLoop> {
  if !is_main_thread() || !runtime_has_libuv(env) {
    return None;
  }
  exit_watch::EventLoop::new(env.get_uv_event_loop().ok()?.cast())
}

/// The read ends of a child's 'capture' slots (stdout, stderr), and how much of each to keep.
pub struct Capture {
  pub fds: [Option<OwnedFd>; 2],
  pub limit: usize,
}

/// The request's `captureLimit` in bytes: 16 MiB by default, Infinity (or beyond) for no limit.
pub fn capture_limit(limit: Option<f64>) -> usize {
  match limit {
    None => 16 << 20,
    Some(l) if l.is_finite() && l < usize::MAX as f64 => l.max(0.0) as usize,
    Some(_) => usize::MAX,
  }
}

/// Starts watching a started child's exit, reported as `id`, and collecting the output of its
/// 'capture' slots; on failure ends it rather than leave it running unobserved (nobody would ever
/// reap it). What JS gets: the pid alone when the child has no pipe of ours (a number: an array
/// made through napi costs a spawn about 4 us), else `[pid, stdin, stdout, stderr]`, the parent
/// ends of its pipes (-1 where there is none; JS owns them). The pidfd stays here, under `id`.
pub fn watched(
  env: &Env,
  child: Child,
  id: u32,
  stdio_fds: Vec<i32>,
  capture: Capture,
) -> Result<Either<i32, Vec<i32>>> {
  let capturing = capture.fds.iter().any(Option::is_some);
  let watching = if exit_watch::watching() {
    exit_watch::watch_on(child.pidfd.as_fd(), id).and_then(|()| {
      if capturing {
        exit_watch::capture_on(id, capture.fds, capture.limit)
      } else {
        Ok(())
      }
    })
  } else if capturing {
    Err(Error::os(libc::EINVAL, "epoll_ctl"))
  } else {
    match CALLBACKS.with(|c| c.borrow().as_ref().and_then(|c| c.exit.clone())) {
      Some(tsfn) => {
        let on_exit: exit_watch::OnExit = Box::new(move |code, signal| {
          tsfn.call((id, code, signal).into(), ThreadsafeFunctionCallMode::NonBlocking);
        });
        exit_watch::watch(child.pidfd.as_raw_fd(), on_exit)
      }
      None => Err(Error::os(libc::EINVAL, "napi_call_threadsafe_function")),
    }
  };
  if let Err(e) = watching {
    spawn::kill_and_reap(child.pidfd.as_fd());
    return Err(to_js(env, e.step(Step::Clone)));
  }
  // Its exit cannot be reported before this thread's loop runs again (or, from the reaper
  // thread, before JS has it), so the entry is in place by then.
  CHILDREN.with(|c| c.borrow_mut().insert(id, (child.pid, child.pidfd)));
  if stdio_fds.iter().all(|&fd| fd < 0) {
    return Ok(Either::A(child.pid));
  }
  let mut got = Vec::with_capacity(1 + stdio_fds.len());
  got.push(child.pid);
  got.extend(stdio_fds);
  Ok(Either::B(got))
}
