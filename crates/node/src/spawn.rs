//! `spawn()`'s native side: turns the validated JS request into a `SpawnSpec`, makes the stdio
//! pipes, starts the child on the calling thread or hands it to the spawner thread, and reports
//! its exit through a threadsafe function (no pool thread waits for a child).

use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};

use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::{Either, Function};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use nsjs_sys::spawn::spawner::{self, Pending};
use nsjs_sys::spawn::{self, Child, IdMapLine, Propagation, SetGroups, SpawnSpec, Stdio};
use nsjs_sys::{environ, exit_watch, syscall, this_thread, Error, NsHandle, Step};

use crate::error::{to_napi, IntoNapi, Result};
use crate::namespace::{parse_type, type_list, NativeNamespace};

/// What JS asks for, already validated and resolved ('root' maps turned into lines, env into
/// "K=V" strings) by ts/spawn.ts.
#[napi(object)]
pub struct NativeSpawnRequest {
  pub file: String,
  pub argv: Vec<String>,
  /// "K=V" strings; absent: this process's own environment (as `hold_environment` named it,
  /// when `env_generation` is given).
  pub env: Option<Vec<String>>,
  pub env_generation: Option<i64>,
  /// The PATH a bare `file` is looked up in when the child's environment has none: the calling
  /// thread's process.env.PATH, read in JS (native code never reads the process environment off
  /// the main thread).
  pub path: Option<String>,
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
  /// uid and gid 0 where not given, when a user namespace is entered with join (nsenter's rule).
  pub root_in_joined_user: Option<bool>,
  pub die_with_parent: Option<i32>,
  pub new_session: bool,
  /// Per fd 0..2: -1 inherit, -2 ignore (/dev/null), -3 a new pipe, or a parent fd to pass.
  pub stdio: Vec<i32>,
}

/// Refuses to read the process environment off the main thread: Node's main thread writes it
/// (process.env) with setenv, which takes no lock, so a read elsewhere may follow freed memory.
/// ts/spawn.ts always passes `env` from other threads; this guards direct use of the binding.
fn on_main_thread(what: &'static str) -> Result<()> {
  if this_thread::is_main_thread() {
    Ok(())
  } else {
    Err(to_napi(Error::os(EINVAL, what).step(Step::Env)))
  }
}

/// The child's environment: the request's, the held one it names, or ours as it is now (an absent
/// `env` only comes from the main thread, whose process.env writes through to it). Releases the
/// hold, whatever happens to the request after.
fn environment(req: &mut NativeSpawnRequest) -> Result<Vec<String>> {
  let held = req.env_generation.take().and_then(|g| environ::take(g as u64));
  match req.env.take().or(held) {
    Some(env) => Ok(env),
    None => on_main_thread("environ").map(|()| environ::current()),
  }
}

/// Names this process's environment as it is now, for a spawn that will be handed to the spawner
/// thread later (`envGeneration` of its request). Main thread only: it reads the environment that
/// thread's process.env writes to.
#[napi]
pub fn hold_environment() -> Result<i64> {
  on_main_thread("environ")?;
  Ok(environ::hold() as i64)
}

const INHERIT: i32 = -1;
const IGNORE: i32 = -2;
const PIPE: i32 = -3;

fn map(v: Option<Vec<u32>>) -> Option<Vec<IdMapLine>> {
  v.map(|flat| flat.chunks_exact(3).map(|c| IdMapLine { inside: c[0], outside: c[1], count: c[2] }).collect())
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

  /// Handles on the child's namespaces of `types` (default: every type this kernel has), taken
  /// through its pidfd, so never another process's even if its pid was reused. ESRCH once the
  /// child has exited (also before it was reaped) or was released.
  #[napi]
  pub fn namespaces(&self, env: Env, types: Option<Vec<String>>) -> Result<Vec<NativeNamespace>> {
    let Some(pidfd) = &self.pidfd else {
      return Err(to_napi(Error::os(ESRCH, "ioctl").pid(self.pid)));
    };
    let handles = NsHandle::open_pidfd_all(pidfd.as_fd(), self.pid, &type_list(types)?).napi()?;
    handles.into_iter().map(|h| NativeNamespace::wrap(&env, h)).collect()
  }

  /// Closes the pidfd: the child has been reaped and nothing will signal it again.
  #[napi]
  pub fn release(&mut self) {
    self.pidfd = None;
  }
}

// errno numbers, which are the same on every Linux architecture nsjs builds for.
const ESRCH: i32 = 3;
const EINVAL: i32 = 22;
const EALREADY: i32 = 114;

type ExitTsfn = ThreadsafeFunction<(i32, i32), (), (i32, i32), Status, false, true>;

fn exit_tsfn(on_exit: Function<(i32, i32), ()>) -> Result<ExitTsfn> {
  on_exit.build_threadsafe_function::<(i32, i32)>().callee_handled::<false>().weak::<true>().build()
}

/// The pipes of the 'pipe' slots: the child's ends (dup2'ed by the child, then closed) and the
/// parent's (handed to JS), by slot.
struct Pipes {
  child_ends: Vec<Option<OwnedFd>>,
  parent_ends: Vec<Option<OwnedFd>>,
}

fn make_pipes(codes: &[i32]) -> Result<Pipes> {
  let mut pipes = Pipes { child_ends: Vec::new(), parent_ends: Vec::new() };
  for i in 0..3 {
    if codes.get(i).copied() == Some(PIPE) {
      let (r, w) = syscall::pipe().napi()?;
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

/// What the child's fds 0..2 become, the pipe slots taken from `child_ends`.
fn stdio_of(codes: &[i32], child_ends: &[Option<OwnedFd>]) -> Result<[Stdio; 3]> {
  let mut stdio = [Stdio::Inherit; 3];
  for (i, slot) in stdio.iter_mut().enumerate() {
    *slot = match codes.get(i).copied().unwrap_or(INHERIT) {
      INHERIT => Stdio::Inherit,
      IGNORE => Stdio::Null,
      PIPE => match child_ends.get(i) {
        Some(Some(fd)) => Stdio::Fd(fd.as_raw_fd()),
        _ => return Err(to_napi(Error::os(EINVAL, "spawn").step(Step::Stdio))),
      },
      fd if fd >= 0 => Stdio::Fd(fd),
      _ => return Err(to_napi(Error::os(EINVAL, "spawn").step(Step::Stdio))),
    };
  }
  Ok(stdio)
}

fn spec_of(req: NativeSpawnRequest, env: Vec<String>, stdio: [Stdio; 3]) -> Result<SpawnSpec> {
  let join = req
    .join_fds
    .iter()
    .zip(&req.join_types)
    .map(|(fd, t)| Ok((*fd, parse_type(t)?)))
    .collect::<Result<Vec<_>>>()?;
  let unshare = req.unshare.iter().map(|t| parse_type(t)).collect::<Result<Vec<_>>>()?;
  Ok(SpawnSpec {
    file: req.file,
    argv: req.argv,
    env,
    path: req.path,
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
    root_in_joined_user: req.root_in_joined_user.unwrap_or(false),
    die_with_parent: req.die_with_parent,
    new_session: req.new_session,
    stdio,
  })
}

/// Starts watching a started child's exit; on failure ends it rather than leave it running
/// unobserved (nobody would ever reap it).
fn watched(child: Child, on_exit: ExitTsfn, stdio_fds: Vec<i32>) -> Result<NativeChild> {
  let on_exit: exit_watch::OnExit = Box::new(move |code, signal| {
    on_exit.call((code, signal), ThreadsafeFunctionCallMode::NonBlocking);
  });
  if let Err(e) = exit_watch::watch(child.pidfd.as_raw_fd(), on_exit) {
    spawn::kill_and_reap(child.pidfd.as_fd());
    return Err(to_napi(e.step(Step::Clone)));
  }
  Ok(NativeChild { pid: child.pid, pidfd: Some(child.pidfd), stdio_fds })
}

/// Starts the child on the calling thread. `on_exit([code, signal])` is called once, on the JS
/// thread, after the child has been reaped; code is -1 when a signal ended it.
#[napi(ts_args_type = "req: NativeSpawnRequest, onExit: (exit: [code: number, signal: number]) => void")]
pub fn spawn_child(mut req: NativeSpawnRequest, on_exit: Function<(i32, i32), ()>) -> Result<NativeChild> {
  let env = environment(&mut req)?;
  let pipes = make_pipes(&req.stdio)?;
  let stdio = stdio_of(&req.stdio, &pipes.child_ends)?;
  let spec = spec_of(req, env, stdio)?;
  let on_exit = exit_tsfn(on_exit)?;
  let child = spawn::spawn(&spec).napi()?;
  // The child has dup2'ed its ends by now.
  drop(pipes.child_ends);
  let stdio_fds = pipes.parent_ends.into_iter().map(|p| p.map_or(-1, |fd| fd.into_raw_fd())).collect();
  watched(child, on_exit, stdio_fds)
}

/// Whether a spawn from this thread may be handed to the spawner thread now (see
/// nsjs_sys::spawn::spawner).
#[napi]
pub fn spawner_available() -> bool {
  spawner::available()
}

/// The pipes of a spawn that is handed over later: made at its hand-over, or earlier when JS asks
/// for one of its streams. JS owns `parentFds`; the child's ends go with the hand-over.
#[napi]
pub struct NativeStdioPipes {
  pipes: Pipes,
  parent_fds: Vec<i32>,
}

#[napi]
impl NativeStdioPipes {
  #[napi(getter)]
  pub fn parent_fds(&self) -> Vec<i32> {
    self.parent_fds.clone()
  }
}

/// Makes the pipes for the slots of `stdio` that are 'pipe' (-3).
#[napi]
pub fn open_stdio_pipes(stdio: Vec<i32>) -> Result<NativeStdioPipes> {
  let mut pipes = make_pipes(&stdio)?;
  let parent_fds = pipes.parent_ends.iter_mut().map(|p| p.take().map_or(-1, |fd| fd.into_raw_fd())).collect();
  Ok(NativeStdioPipes { pipes, parent_fds })
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
  fn take(&self, wait: bool) -> Option<Result<NativeChild>> {
    let outcome = self.pending.get()?.take(wait)?;
    let on_exit = self.on_exit.lock().unwrap_or_else(|p| p.into_inner()).take()?;
    Some(outcome.napi().and_then(|child| watched(child, on_exit, vec![-1; 3])))
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
  pub fn wait(&self) -> Result<NativeChild> {
    self.later.take(true).unwrap_or_else(|| Err(to_napi(Error::os(EALREADY, "clone").step(Step::Clone))))
  }
}

/// Hands the spawn to the spawner thread. `onReady` is then called once on the JS thread with
/// the started child, or the failure's message, or null when `wait()` took the outcome first;
/// `onExit` as for spawnChild. `pipes` are the child's ends of the 'pipe' slots.
#[napi(
  ts_args_type = "req: NativeSpawnRequest, pipes: NativeStdioPipes | null, onReady: (outcome: NativeChild | string | null) => void, onExit: (exit: [code: number, signal: number]) => void"
)]
pub fn spawn_child_later(
  req: NativeSpawnRequest,
  pipes: Option<&mut NativeStdioPipes>,
  on_ready: Function<Option<Either<NativeChild, String>>, ()>,
  on_exit: Function<(i32, i32), ()>,
) -> Result<NativeSpawnLater> {
  let mut req = req;
  // First: it releases the held environment, whatever fails below.
  let env = environment(&mut req)?;
  let child_ends: Vec<Option<OwnedFd>> = match pipes {
    Some(p) => p.pipes.child_ends.iter_mut().map(Option::take).collect(),
    None => Vec::new(),
  };
  let stdio = stdio_of(&req.stdio, &child_ends)?;
  let spec = spec_of(req, env, stdio)?;
  let later = Arc::new(Later { pending: OnceLock::new(), on_exit: Mutex::new(Some(exit_tsfn(on_exit)?)) });
  let shared = later.clone();
  let ready =
    on_ready.build_threadsafe_function::<()>().callee_handled::<false>().weak::<true>().build_callback(
      move |_ctx| {
        Ok(shared.take(false).map(|r| match r {
          Ok(child) => Either::A(child),
          Err(e) => Either::B(e.reason.clone()),
        }))
      },
    )?;
  let notify: spawner::Notify = Box::new(move || {
    ready.call((), ThreadsafeFunctionCallMode::NonBlocking);
  });
  let keep = child_ends.into_iter().flatten().collect();
  // The notification can only run on this thread, after this call has stored `pending`.
  let pending = spawner::submit(spec, keep, notify).napi()?;
  let _ = later.pending.set(pending);
  Ok(NativeSpawnLater { later })
}
