//! A spawn handed to the spawner thread (see nsjs_sys::spawn::spawner), so that a burst of
//! spawns does not hold the event loop: JS learns that the outcome is in through its thread's
//! ready function (by the spawn's id) and takes it with `takeSpawn(id)`, or blocks for it with
//! `waitSpawn(id)` when it needs the pid now.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::spawn::spawner::{self, Pending};
use nsjs_sys::spawn::SpawnSpec;
use nsjs_sys::{environ, Error, Step};

use super::child::{self, ready_tsfn, watched, Capture};
use super::request::StdioKind;
use super::request::{release_held, JoinFd, NativeSpawnMore, NativeSpawnRequest, StdioSlot};
use super::stdio::{captured, make_pipes, plug, NativeStdioPipes};
use crate::error::{to_js, IntoNapi, Result};
use crate::mirror::NsType;

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

/// A spawn handed to the spawner thread, until its outcome is taken (by id: no JS object, with
/// its weak reference and finalizer for the garbage collector to handle, for each of a burst).
struct Later {
  pending: Arc<Pending>,
  /// The parent's ends of the 'capture' slots, collected once the child has started.
  capture: Capture,
}

thread_local! {
  /// This thread's handed-over spawns whose outcome has not been taken, by id.
  static LATER: RefCell<HashMap<u32, Later>> = RefCell::new(HashMap::new());
}

/// The started (and now watched) child or the failure of spawn `id`, once; `None` when already
/// taken or, without `wait`, not ready yet.
fn outcome(env: &Env, id: u32, wait: bool) -> Option<Result<Either<i32, Vec<i32>>>> {
  let pending = LATER.with_borrow(|later| later.get(&id).map(|l| Arc::clone(&l.pending)))?;
  let outcome = pending.take(wait)?;
  let capture = LATER.with_borrow_mut(|later| later.remove(&id)).map(|l| l.capture);
  let capture = capture.unwrap_or(Capture { fds: [None, None], limit: 0 });
  Some(outcome.napi(env).and_then(|child| watched(env, child, id, vec![-1; 3], capture)))
}

/// The started child's pid of the handed-over spawn `id`, once the ready function was called
/// with `id`; throws the failure when it did not start, and returns null when the outcome was
/// taken already.
#[napi]
pub fn take_spawn(env: Env, id: u32) -> Result<Option<Either<i32, Vec<i32>>>> {
  outcome(&env, id, false).transpose()
}

/// Blocks until the spawner thread has started (or failed to start) the handed-over spawn `id`,
/// for a caller that needs the pid now. Throws EALREADY when `takeSpawn` already had the outcome.
#[napi]
pub fn wait_spawn(env: Env, id: u32) -> Result<Either<i32, Vec<i32>>> {
  let taken = || to_js(&env, Error::os(libc::EALREADY, "clone").step(Step::Clone));
  outcome(&env, id, true).unwrap_or_else(|| Err(taken()))
}

/// Hands the spawn to the spawner thread. The ready function of `initSpawnCallbacks` is then
/// called once on this thread with `id`, when `takeSpawn(id)` has the outcome (unless
/// `waitSpawn(id)` took it first); the exit is reported as `id` as for spawnChild. `pipes` are
/// the child's ends of the 'pipe' slots. The request comes one field per argument, as for
/// spawnChild (read by position, not by name: no V8 string made per field).
#[napi(
  ts_args_type = "file: string, argv: Array<string>, vars: Array<string> | undefined, envGeneration: number | undefined, path: string | undefined, join: Array<JoinFd> | undefined, unshare: Array<NsType> | undefined, cwd: string | undefined, stdio: Array<StdioKind | number>, extraFds: Array<number> | undefined, captureLimit: number | undefined, more: NativeSpawnMore | undefined, pipes: NativeStdioPipes | undefined | null, id: number"
)]
#[allow(clippy::too_many_arguments)]
pub fn spawn_child_later(
  env: Env,
  file: String,
  argv: Vec<String>,
  vars: Option<Vec<String>>,
  env_generation: Option<i64>,
  path: Option<String>,
  join: Option<Vec<JoinFd>>,
  unshare: Option<Vec<NsType>>,
  cwd: Option<String>,
  stdio: Vec<StdioSlot>,
  extra_fds: Option<Vec<i32>>,
  capture_limit: Option<f64>,
  more: Option<NativeSpawnMore>,
  pipes: Option<&mut NativeStdioPipes>,
  id: u32,
) -> Result<()> {
  let mut req = NativeSpawnRequest {
    file,
    argv,
    env: vars,
    env_generation,
    path,
    join,
    unshare,
    cwd,
    stdio,
    extra_fds,
    capture_limit,
    more,
  };
  let mut child_ends: Vec<Option<OwnedFd>> = match pipes {
    Some(p) => p.pipes.child_ends.iter_mut().map(Option::take).collect(),
    None => Vec::new(),
  };
  // The 'capture' slots' pipes are made here: JS never sees them.
  // A failure before SpawnSpec::try_from (which takes it) releases the held environment here.
  let mut capture_pipes = make_pipes(&env, &req.stdio, |k| k == StdioKind::Capture)
    .inspect_err(|_| release_held(req.env_generation))?;
  let capture =
    Capture { fds: captured(&req.stdio, &mut capture_pipes), limit: child::capture_limit(req.capture_limit) };
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
  // The notification runs on this thread, after this call has returned.
  let pending = spawner::submit(spec, keep, notify).napi(&env)?;
  LATER.with_borrow_mut(|later| later.insert(id, Later { pending, capture }));
  Ok(())
}
