//! `spawn()`'s native side: turns the validated JS request into a `SpawnSpec`, makes the stdio
//! pipes, starts the child on the calling thread, and reports its exit through the reaper thread
//! and a threadsafe function (no pool thread waits for a child).

use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use nsjs_sys::spawn::{self, MapSpec, Propagation, SetGroups, SpawnSpec, Stdio};
use nsjs_sys::{loop_watch, reaper, sys, Error};

use crate::error::{to_napi, IntoNapi, Result};
use crate::namespace::parse_type;

/// What JS asks for, already validated and resolved ('root' maps turned into lines, env into
/// "K=V" strings) by ts/spawn.ts.
#[napi(object)]
pub struct NativeSpawnRequest {
  pub file: String,
  pub argv: Vec<String>,
  /// "K=V" strings; absent: this process's own environment.
  pub env: Option<Vec<String>>,
  pub join_fds: Vec<i32>,
  pub join_types: Vec<String>,
  pub unshare: Vec<String>,
  /// Flattened (inside, outside, count) triples.
  pub uid_map: Option<Vec<u32>>,
  pub gid_map: Option<Vec<u32>>,
  pub setgroups: Option<String>,
  pub hostname: Option<String>,
  pub mount_proc: bool,
  pub propagation: String,
  /// Seconds: [monotonic, boottime].
  pub time_offsets: Option<Vec<i64>>,
  pub root: Option<String>,
  pub pivot_root: bool,
  pub cwd: Option<String>,
  pub uid: Option<u32>,
  pub gid: Option<u32>,
  pub die_with_parent: Option<i32>,
  pub new_session: bool,
  /// Per fd 0..2: -1 inherit, -2 ignore (/dev/null), -3 a new pipe, or a parent fd to pass.
  pub stdio: Vec<i32>,
}

/// The process environment as execve takes it. Node's process.env on the main thread writes
/// through to it, so it is what the user sees there.
fn own_environment() -> Vec<String> {
  std::env::vars_os()
    .map(|(k, v)| {
      let mut kv = k;
      kv.push("=");
      kv.push(v);
      kv.to_string_lossy().into_owned()
    })
    .collect()
}

const INHERIT: i32 = -1;
const IGNORE: i32 = -2;
const PIPE: i32 = -3;

fn map(v: Option<Vec<u32>>) -> Option<MapSpec> {
  v.map(|flat| MapSpec::Lines(flat.chunks_exact(3).map(|c| (c[0], c[1], c[2])).collect()))
}

fn propagation(s: &str) -> Propagation {
  match s {
    "slave" => Propagation::Slave,
    "shared" => Propagation::Shared,
    "unchanged" => Propagation::Unchanged,
    _ => Propagation::Private,
  }
}

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
  pub fn kill(&self, signal: i32) -> Result<bool> {
    let Some(pidfd) = &self.pidfd else { return Ok(false) };
    match spawn::kill(pidfd.as_fd(), signal) {
      Ok(()) => Ok(true),
      Err(e) if e.errno == ESRCH => Ok(false),
      Err(e) => Err(to_napi(e.pid(self.pid))),
    }
  }

  /// Closes the pidfd: the child has been reaped and nothing will signal it again.
  #[napi]
  pub fn release(&mut self) {
    self.pidfd = None;
  }
}

// errno and signal numbers, which are the same on every Linux architecture nsjs builds for.
const ESRCH: i32 = 3;
const EINVAL: i32 = 22;
const SIGKILL: i32 = 9;

/// Starts the child. `on_exit([code, signal])` is called once, on the JS thread, after the child
/// has been reaped; code is -1 when a signal ended it.
#[napi(ts_args_type = "req: NativeSpawnRequest, onExit: (exit: [code: number, signal: number]) => void")]
pub fn spawn_child(req: NativeSpawnRequest, on_exit: Function<(i32, i32), ()>) -> Result<NativeChild> {
  let join = req
    .join_fds
    .iter()
    .zip(&req.join_types)
    .map(|(fd, t)| Ok((*fd, parse_type(t)?)))
    .collect::<Result<Vec<_>>>()?;
  let unshare = req.unshare.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>>>()?;

  // Pipes: the child's ends live until spawn returns (the child has dup2'ed them by then),
  // the parent's ends go to JS.
  let mut child_ends: Vec<OwnedFd> = Vec::new();
  let mut parent_ends: Vec<Option<OwnedFd>> = Vec::new();
  let mut stdio = [Stdio::Inherit; 3];
  for (i, slot) in stdio.iter_mut().enumerate() {
    let want = req.stdio.get(i).copied().unwrap_or(INHERIT);
    *slot = match want {
      INHERIT => Stdio::Inherit,
      IGNORE => Stdio::Null,
      PIPE => {
        let (r, w) = sys::pipe().napi()?;
        let (child, parent) = if i == 0 { (r, w) } else { (w, r) };
        let raw = child.as_raw_fd();
        child_ends.push(child);
        parent_ends.push(Some(parent));
        Stdio::Fd(raw)
      }
      fd if fd >= 0 => Stdio::Fd(fd),
      _ => return Err(to_napi(Error::os(EINVAL, "spawn").step("stdio"))),
    };
    if want != PIPE {
      parent_ends.push(None);
    }
  }

  let spec = SpawnSpec {
    file: req.file,
    argv: req.argv,
    env: req.env.unwrap_or_else(own_environment),
    join,
    unshare,
    uid_map: map(req.uid_map),
    gid_map: map(req.gid_map),
    setgroups: req.setgroups.as_deref().map(|s| if s == "deny" { SetGroups::Deny } else { SetGroups::Allow }),
    hostname: req.hostname,
    mount_proc: req.mount_proc,
    propagation: propagation(&req.propagation),
    time_offsets: req.time_offsets.map(|v| (v.first().copied().unwrap_or(0), v.get(1).copied().unwrap_or(0))),
    root: req.root,
    pivot_root: req.pivot_root,
    cwd: req.cwd,
    uid: req.uid,
    gid: req.gid,
    die_with_parent: req.die_with_parent,
    new_session: req.new_session,
    stdio,
  };

  let tsfn = on_exit.build_threadsafe_function::<(i32, i32)>().callee_handled::<false>().weak::<true>().build()?;
  let child = spawn::spawn(&spec).napi()?;
  drop(child_ends);
  let id = child.pid as u64;
  let on_exit: reaper::OnExit = Box::new(move |_id, code, signal| {
    tsfn.call((code, signal), ThreadsafeFunctionCallMode::NonBlocking);
  });
  let watched = loop_watch::watch(child.pidfd.as_raw_fd(), id, on_exit);
  if let Err(e) = watched {
    // Nobody would ever reap it: end it now rather than leave it running unobserved.
    let _ = spawn::kill(child.pidfd.as_fd(), SIGKILL);
    let _ = nsjs_sys::sys::waitid_pidfd(child.pidfd.as_fd(), false);
    return Err(to_napi(e.step("clone")));
  }
  Ok(NativeChild {
    pid: child.pid,
    pidfd: Some(child.pidfd),
    stdio_fds: parent_ends.into_iter().map(|p| p.map_or(-1, |fd| fd.into_raw_fd())).collect(),
  })
}
