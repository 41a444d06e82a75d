//! The pipes of the 'pipe' slots of a spawn's stdio: the child's ends go into its spec (dup2'ed
//! by the child, then closed here), the parent's to JS.

use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};

use napi::bindgen_prelude::Either;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::syscall;

use super::request::{StdioKind, StdioSlot};
use crate::error::{IntoNapi, Result};

/// By slot 0..2, `None` where the slot is no pipe.
pub struct Pipes {
  pub child_ends: Vec<Option<OwnedFd>>,
  pub parent_ends: Vec<Option<OwnedFd>>,
}

fn is_pipe(slot: Option<&StdioSlot>) -> bool {
  matches!(slot, Some(Either::A(StdioKind::Pipe | StdioKind::Capture)))
}

/// The pipes of the slots of `stdio` that `want` picks ('pipe', 'capture' or both).
pub fn make_pipes(env: &Env, stdio: &[StdioSlot], want: impl Fn(StdioKind) -> bool) -> Result<Pipes> {
  let mut pipes = Pipes { child_ends: Vec::new(), parent_ends: Vec::new() };
  for i in 0..3 {
    if matches!(stdio.get(i), Some(Either::A(k)) if want(*k) && is_pipe(stdio.get(i))) {
      let (r, w) = syscall::pipe().napi(env)?;
      let (child, parent) = if i == 0 { (r, w) } else { (w, r) };
      pipes.child_ends.push(Some(child));
      pipes.parent_ends.push(Some(parent));
    } else {
      pipes.child_ends.push(None);
      pipes.parent_ends.push(None);
    }
  }
  Ok(pipes)
}

/// The parent's ends of the 'capture' slots (1 and 2), taken out of `pipes`, for the exit watch.
pub fn captured(stdio: &[StdioSlot], pipes: &mut Pipes) -> [Option<OwnedFd>; 2] {
  let mut take = |i: usize| match stdio.get(i) {
    Some(Either::A(StdioKind::Capture)) => pipes.parent_ends.get_mut(i).and_then(Option::take),
    _ => None,
  };
  [take(1), take(2)]
}

/// Puts the child's end of each pipe in its 'pipe' or 'capture' slot, as a descriptor to pass.
pub fn plug(stdio: &mut [StdioSlot], child_ends: &[Option<OwnedFd>]) {
  for (slot, end) in stdio.iter_mut().zip(child_ends) {
    if let (true, Some(fd)) = (is_pipe(Some(slot)), end) {
      *slot = Either::B(fd.as_raw_fd());
    }
  }
}

/// The parent's ends as JS takes them: raw fds, -1 where there is no pipe.
pub fn into_raw(ends: impl IntoIterator<Item = Option<OwnedFd>>) -> Vec<i32> {
  ends.into_iter().map(|p| p.map_or(-1, |fd| fd.into_raw_fd())).collect()
}

/// The pipes of a spawn that is handed over later: made at its hand-over, or earlier when JS asks
/// for one of its streams. JS owns `parentFds`; the child's ends go with the hand-over.
#[napi]
pub struct NativeStdioPipes {
  pub(super) pipes: Pipes,
  parent_fds: Vec<i32>,
}

#[napi]
impl NativeStdioPipes {
  #[napi(getter)]
  pub fn parent_fds(&self) -> Vec<i32> {
    self.parent_fds.clone()
  }
}

/// The IPC channel of `fork()`: a connected Unix socket pair, [ours, the child's], descriptors
/// JS owns (the child's is closed once the child has started).
#[napi]
pub fn open_ipc_pair(env: Env) -> Result<Vec<i32>> {
  let (ours, theirs) = syscall::socketpair().napi(&env)?;
  Ok(vec![ours.into_raw_fd(), theirs.into_raw_fd()])
}

/// Makes the pipes for the slots of `stdio` that are 'pipe'.
#[napi(ts_args_type = "stdio: Array<StdioKind | number>")]
pub fn open_stdio_pipes(env: Env, stdio: Vec<StdioSlot>) -> Result<NativeStdioPipes> {
  let mut pipes = make_pipes(&env, &stdio, |k| k == StdioKind::Pipe)?;
  let parent_fds = into_raw(pipes.parent_ends.iter_mut().map(Option::take));
  Ok(NativeStdioPipes { pipes, parent_fds })
}
