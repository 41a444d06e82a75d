//! `spawn()`'s native side: the request (request.rs) becomes a `SpawnSpec`, with the child's ends
//! of its pipes (stdio.rs); the child starts on the calling thread (`spawn_child`) or is handed
//! to the spawner thread (handover.rs); either way its exit is reported, by the id JS gave it, to
//! its thread's exit function (child.rs).

mod child;
mod handover;
mod request;
mod stdio;

use napi::bindgen_prelude::{Buffer, Either};
use napi::Env;
use napi_derive::napi;
use nsjs_sys::exit_watch;
use nsjs_sys::spawn::{self, SpawnSpec};

use crate::error::{IntoNapi, Result};
use child::{capture_limit, watched, Capture};
use request::NativeSpawnRequest;
use stdio::{captured, into_raw, make_pipes, plug};

/// `join: { pid, root, cwd }`: descriptors of process `pid`'s root and cwd (-1 for one not asked
/// for), for the request's `joinRoot`/`joinCwd`. The caller closes them after the spawn.
#[napi]
pub fn open_join_dirs(env: Env, pid: i32, root: bool, cwd: bool) -> Result<Vec<i32>> {
  let (r, c) = spawn::target_dirs::open(pid, root, cwd).napi(&env)?;
  Ok([r, c].into_iter().map(|fd| fd.map_or(-1, std::os::fd::IntoRawFd::into_raw_fd)).collect())
}

/// Starts the child on the calling thread: its pid, or `[pid, stdin, stdout, stderr]` when it
/// has pipes (the parent ends, -1 where there is none; the caller owns them). Its exit is
/// reported once, on this thread, as `id` to the exit function of `initSpawnCallbacks`, after
/// the child has been reaped; until then `killChild(id)` and `childNamespaces(id)` reach it.
#[napi]
pub fn spawn_child(env: Env, mut req: NativeSpawnRequest, id: u32) -> Result<Either<i32, Vec<i32>>> {
  let mut pipes = make_pipes(&env, &req.stdio, |_| true)?;
  let capture = Capture { fds: captured(&req.stdio, &mut pipes), limit: capture_limit(req.capture_limit) };
  plug(&mut req.stdio, &pipes.child_ends);
  let spec = SpawnSpec::try_from(req).napi(&env)?;
  let child = spawn::spawn(&spec).napi(&env)?;
  // The child has dup2'ed its ends by now.
  drop(pipes.child_ends);
  watched(&env, child, id, into_raw(pipes.parent_ends), capture)
}

/// The descriptors nsjs keeps open on purpose, for leak checks to leave out: one /dev/null per
/// thread that spawned with an 'ignore' slot (instead of one opened and closed per spawn), and one
/// pidfd per thread that opened namespaces by pid (the last process's, for its next open).
#[napi]
pub fn kept_descriptors() -> Vec<i32> {
  let mut kept = spawn::dev_null::kept();
  kept.extend(nsjs_sys::last_pidfd::kept());
  kept
}

/// Stops collecting the output of child `id` ('capture' slots): what it wrote so far, as
/// [stdout, stderr], or null when the output function has had it already.
#[napi]
pub fn stop_capture(id: u32) -> Option<Vec<Buffer>> {
  exit_watch::stop_capture(id).map(|(out, err)| vec![out.into(), err.into()])
}
