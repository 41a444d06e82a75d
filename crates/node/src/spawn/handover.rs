//! A spawn handed to the spawner thread (see nsjs_sys::spawn::spawner), so that a burst of
//! spawns does not hold the event loop: JS learns the outcome through `onReady`, or blocks for it
//! with `wait()` when it needs the pid now.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::spawn::spawner::{self, Pending};
use nsjs_sys::spawn::SpawnSpec;
use nsjs_sys::{Error, Step};

use super::child::{exit_tsfn, watched, ExitTsfn, NativeChild};
use super::request::NativeSpawnRequest;
use super::stdio::{plug, NativeStdioPipes};
use crate::error::{to_js, IntoNapi, Result};

/// Whether a spawn from this thread may be handed to the spawner thread now (see
/// nsjs_sys::spawn::spawner).
#[napi]
pub fn spawner_available() -> bool {
  spawner::available()
}

/// What the ready notification and `wait()` share; whichever comes first takes the outcome.
struct Later {
  /// Set right after the submit; read only on the JS thread, after that.
  pending: OnceLock<Arc<Pending>>,
  /// Taken together with the outcome, which `Pending` hands out once.
  on_exit: Mutex<Option<ExitTsfn>>,
}

impl Later {
  /// The started (and now watched) child or the failure, once; `None` when already taken or,
  /// without `wait`, not ready yet.
  fn take(&self, env: &Env, wait: bool) -> Option<Result<NativeChild>> {
    let outcome = self.pending.get()?.take(wait)?;
    let on_exit = self.on_exit.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    Some(outcome.napi(env).and_then(|child| watched(env, child, on_exit, vec![-1; 3])))
  }
}

/// A spawn handed to the spawner thread.
#[napi]
pub struct NativeSpawnLater {
  later: Arc<Later>,
}

#[napi]
impl NativeSpawnLater {
  /// Blocks until the spawner thread has started (or failed to start) this child, for a caller
  /// that needs the pid now. Throws EALREADY when `onReady` already had the outcome.
  #[napi]
  pub fn wait(&self, env: Env) -> Result<NativeChild> {
    let taken = || to_js(&env, Error::os(libc::EALREADY, "clone").step(Step::Clone));
    self.later.take(&env, true).unwrap_or_else(|| Err(taken()))
  }
}

/// Hands the spawn to the spawner thread. `onReady` is then called once on the JS thread with
/// the started child, or the failure (the error `wait()` would throw), or null when `wait()` took
/// the outcome first; `onExit` as for spawnChild. `pipes` are the child's ends of the 'pipe' slots.
#[napi(
  ts_args_type = "req: NativeSpawnRequest, pipes: NativeStdioPipes | null, onReady: (outcome: NativeChild | Error | null) => void, onExit: (exit: [code: number, signal: number]) => void"
)]
pub fn spawn_child_later(
  env: Env,
  mut req: NativeSpawnRequest,
  pipes: Option<&mut NativeStdioPipes>,
  on_ready: Function<Option<Either<NativeChild, napi::Error>>, ()>,
  on_exit: Function<(i32, i32), ()>,
) -> Result<NativeSpawnLater> {
  let child_ends: Vec<Option<OwnedFd>> = match pipes {
    Some(p) => p.pipes.child_ends.iter_mut().map(Option::take).collect(),
    None => Vec::new(),
  };
  plug(&mut req.stdio, &child_ends);
  // First: it releases the held environment, whatever fails below.
  let spec = SpawnSpec::try_from(req).napi(&env)?;
  let later = Arc::new(Later { pending: OnceLock::new(), on_exit: Mutex::new(Some(exit_tsfn(on_exit)?)) });
  let shared = later.clone();
  let ready =
    on_ready.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build_callback(
      move |ctx| Ok(shared.take(&ctx.env, false).map(|r| r.map_or_else(Either::B, Either::A))),
    )?;
  let notify: spawner::Notify = Box::new(move || {
    ready.call((), ThreadsafeFunctionCallMode::NonBlocking);
  });
  let keep = child_ends.into_iter().flatten().collect();
  // The notification can only run on this thread, after this call has stored `pending`.
  let pending = spawner::submit(spec, keep, notify).napi(&env)?;
  let _ = later.pending.set(pending);
  Ok(NativeSpawnLater { later })
}
