//! A spawn handed to the spawner thread (see nsjs_sys::spawn::spawner), so that a burst of
//! spawns does not hold the event loop: JS learns that the outcome is in through its thread's
//! ready function (by the spawn's id) and takes it with `take()`, or blocks for it with `wait()`
//! when it needs the pid now.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::Either;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::spawn::spawner::{self, Pending};
use nsjs_sys::spawn::SpawnSpec;
use nsjs_sys::{environ, Error, Step};

use super::child::{capture_limit, ready_tsfn, watched, Capture};
use super::request::StdioKind;
use super::request::{release_held, NativeSpawnRequest};
use super::stdio::{captured, make_pipes, plug, NativeStdioPipes};
use crate::error::{to_js, IntoNapi, Result};

/// Whether a spawn from this thread may be handed to the spawner thread now (see
/// nsjs_sys::spawn::spawner): -1 when not. When it may and `hold_env`, this process's
/// environment as it is now is held for it (its request's `envGeneration`, the number returned;
/// a main-thread spawn that inherits the environment must get it as it was at its call);
/// otherwise 0. One call for both, as a burst makes one per spawn.
#[napi]
pub fn spawner_available(hold_env: bool) -> i64 {
  match (spawner::available(), hold_env) {
    (false, _) => -1,
    // available() is only true on the main thread, the one thread that may read the environment.
    (true, true) => environ::hold() as i64,
    (true, false) => 0,
  }
}

/// A spawn handed to the spawner thread; its outcome is taken once, by `take()` or `wait()`.
#[napi]
pub struct NativeSpawnLater {
  pending: Arc<Pending>,
  id: u32,
  /// The parent's ends of the 'capture' slots, collected once the child has started.
  capture: Mutex<Option<Capture>>,
}

impl NativeSpawnLater {
  /// The started (and now watched) child or the failure, once; `None` when already taken or,
  /// without `wait`, not ready yet.
  fn outcome(&self, env: &Env, wait: bool) -> Option<Result<Either<i32, Vec<i32>>>> {
    let outcome = self.pending.take(wait)?;
    let capture = self.capture.lock().unwrap_or_else(|p| p.into_inner()).take();
    let capture = capture.unwrap_or(Capture { fds: [None, None], limit: 0 });
    Some(outcome.napi(env).and_then(|child| watched(env, child, self.id, vec![-1; 3], capture)))
  }
}

#[napi]
impl NativeSpawnLater {
  /// The started child's pid, once the ready function was called with this spawn's id; throws
  /// the failure when it did not start, and returns null when the outcome was taken already.
  #[napi]
  pub fn take(&self, env: Env) -> Result<Option<Either<i32, Vec<i32>>>> {
    self.outcome(&env, false).transpose()
  }

  /// Blocks until the spawner thread has started (or failed to start) this child, for a caller
  /// that needs the pid now. Throws EALREADY when `take()` already had the outcome.
  #[napi]
  pub fn wait(&self, env: Env) -> Result<Either<i32, Vec<i32>>> {
    let taken = || to_js(&env, Error::os(libc::EALREADY, "clone").step(Step::Clone));
    self.outcome(&env, true).unwrap_or_else(|| Err(taken()))
  }
}

/// Hands the spawn to the spawner thread. The ready function of `initSpawnCallbacks` is then
/// called once on this thread with `id`, when `take()` has the outcome (unless `wait()` took it
/// first); the exit is reported as `id` as for spawnChild. `pipes` are the child's ends of the
/// 'pipe' slots.
#[napi]
pub fn spawn_child_later(
  env: Env,
  mut req: NativeSpawnRequest,
  pipes: Option<&mut NativeStdioPipes>,
  id: u32,
) -> Result<NativeSpawnLater> {
  let mut child_ends: Vec<Option<OwnedFd>> = match pipes {
    Some(p) => p.pipes.child_ends.iter_mut().map(Option::take).collect(),
    None => Vec::new(),
  };
  // The 'capture' slots' pipes are made here: JS never sees them.
  // A failure before SpawnSpec::try_from (which takes it) releases the held environment here.
  let mut capture_pipes = make_pipes(&env, &req.stdio, |k| k == StdioKind::Capture)
    .inspect_err(|_| release_held(req.env_generation))?;
  let capture =
    Capture { fds: captured(&req.stdio, &mut capture_pipes), limit: capture_limit(req.capture_limit) };
  child_ends.resize_with(3, || None);
  for (end, made) in child_ends.iter_mut().zip(capture_pipes.child_ends) {
    if made.is_some() {
      *end = made;
    }
  }
  plug(&mut req.stdio, &child_ends);
  // First: it releases the held environment, whatever fails below.
  let mut spec = SpawnSpec::try_from(req).napi(&env)?;
  if spec.own_environ {
    // Read here, on the thread that changes it: the spawner thread must not.
    spec.env = nsjs_sys::environ::current();
    spec.own_environ = false;
  }
  let Some(ready) = ready_tsfn() else {
    return Err(to_js(&env, Error::os(libc::EINVAL, "napi_call_threadsafe_function").step(Step::Clone)));
  };
  let notify: spawner::Notify = Box::new(move || {
    ready.call(id, ThreadsafeFunctionCallMode::NonBlocking);
  });
  let keep = child_ends.into_iter().flatten().collect();
  // The notification runs on this thread, after this call has returned the NativeSpawnLater.
  let pending = spawner::submit(spec, keep, notify).napi(&env)?;
  Ok(NativeSpawnLater { pending, id, capture: Mutex::new(Some(capture)) })
}
