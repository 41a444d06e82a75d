//! What JS asks a spawn for, already validated and resolved ('root' maps turned into lines, env
//! into "K=V" strings) by ts/spawn/options.ts, and how it becomes nsjs-sys's `SpawnSpec`. Every
//! choice is a string enum, so napi refuses a string it does not know instead of guessing.

use std::os::fd::RawFd;

use napi::bindgen_prelude::Either;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::spawn::{self, SpawnSpec, Stdio};
use nsjs_sys::{environ, this_thread, Error, Step};

use crate::error::{IntoNapi, Result};
use crate::mirror::NsType;

/// One line of a uid_map or gid_map: `count` ids from `inside` on are `outside` on in the parent.
#[napi(object)]
pub struct IdMapLine {
  pub inside: u32,
  pub outside: u32,
  pub count: u32,
}

/// Offsets of a new time namespace's clocks, in seconds.
#[napi(object)]
pub struct TimeOffsets {
  pub monotonic: i64,
  pub boottime: i64,
}

/// A namespace to enter: a descriptor JS keeps open until the spawn is over, and its type.
#[napi(object)]
pub struct JoinFd {
  pub fd: i32,
  pub ns_type: NsType,
}

/// The propagation set recursively on "/" in a new mount namespace.
#[napi(string_enum = "lowercase")]
pub enum Propagation {
  Private,
  Slave,
  Shared,
  Unchanged,
}

/// What /proc/<pid>/setgroups of a new user namespace says.
#[napi(string_enum = "lowercase")]
pub enum SetGroups {
  Allow,
  Deny,
}

/// What one of the child's fds 0..2 becomes, besides a descriptor of the parent's to pass.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum StdioKind {
  Inherit,
  /// /dev/null.
  Ignore,
  /// A new pipe, whose parent end JS gets.
  Pipe,
}

/// A slot of `stdio`: a kind, or a descriptor of the parent's.
pub type StdioSlot = Either<StdioKind, i32>;

/// One spawn, as ts/spawn/options.ts `normalize()` resolves the options. What a plain spawn
/// leaves at its default may be absent (false, none, 'private'), so a new option is optional here.
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
  pub join: Option<Vec<JoinFd>>,
  pub unshare: Option<Vec<NsType>>,
  pub uid_map: Option<Vec<IdMapLine>>,
  pub gid_map: Option<Vec<IdMapLine>>,
  pub setgroups: Option<SetGroups>,
  pub hostname: Option<String>,
  pub mount_proc: Option<bool>,
  pub propagation: Option<Propagation>,
  pub time_offsets: Option<TimeOffsets>,
  pub root: Option<String>,
  pub pivot_root: Option<bool>,
  pub cwd: Option<String>,
  pub uid: Option<u32>,
  pub gid: Option<u32>,
  /// uid and gid 0 where not given, when a user namespace is entered with join (nsenter's rule).
  pub root_in_joined_user: Option<bool>,
  pub die_with_parent: Option<i32>,
  pub new_session: Option<bool>,
  pub no_new_privs: Option<bool>,
  /// Fds 0..2 (inherited where missing).
  #[napi(ts_type = "Array<StdioKind | number>")]
  pub stdio: Vec<StdioSlot>,
}

/// The whole spec, the environment first: a held one is released whatever fails after. A slot
/// still 'pipe' is refused: the caller puts the child's end of its pipe there first (`plug`).
/// The defaults of absent fields are `SpawnSpec::new`'s; ts/spawn/options.ts, which owns the
/// defaults users see, always sends every field, so these serve only direct callers (bench/).
impl TryFrom<NativeSpawnRequest> for SpawnSpec {
  type Error = Error;

  fn try_from(req: NativeSpawnRequest) -> nsjs_sys::Result<SpawnSpec> {
    let env = environment(req.env, req.env_generation)?;
    Ok(SpawnSpec {
      file: req.file,
      argv: req.argv,
      env,
      path: req.path,
      join: req.join.unwrap_or_default().into_iter().map(|j| (j.fd, j.ns_type.into())).collect(),
      unshare: req.unshare.unwrap_or_default().into_iter().map(Into::into).collect(),
      uid_map: req.uid_map.map(id_map),
      gid_map: req.gid_map.map(id_map),
      setgroups: req.setgroups.map(Into::into),
      hostname: req.hostname,
      mount_proc: req.mount_proc.unwrap_or(false),
      propagation: req.propagation.map_or(spawn::Propagation::Private, Into::into),
      time_offsets: req.time_offsets.map(|t| (t.monotonic, t.boottime)),
      root: req.root,
      pivot_root: req.pivot_root.unwrap_or(false),
      cwd: req.cwd,
      uid: req.uid,
      gid: req.gid,
      root_in_joined_user: req.root_in_joined_user.unwrap_or(false),
      die_with_parent: req.die_with_parent,
      new_session: req.new_session.unwrap_or(false),
      no_new_privs: req.no_new_privs.unwrap_or(false),
      stdio: stdio(&req.stdio)?,
    })
  }
}

fn id_map(lines: Vec<IdMapLine>) -> Vec<spawn::IdMapLine> {
  lines
    .into_iter()
    .map(|l| spawn::IdMapLine { inside: l.inside, outside: l.outside, count: l.count })
    .collect()
}

impl From<Propagation> for spawn::Propagation {
  fn from(p: Propagation) -> Self {
    match p {
      Propagation::Private => spawn::Propagation::Private,
      Propagation::Slave => spawn::Propagation::Slave,
      Propagation::Shared => spawn::Propagation::Shared,
      Propagation::Unchanged => spawn::Propagation::Unchanged,
    }
  }
}

impl From<SetGroups> for spawn::SetGroups {
  fn from(s: SetGroups) -> Self {
    match s {
      SetGroups::Allow => spawn::SetGroups::Allow,
      SetGroups::Deny => spawn::SetGroups::Deny,
    }
  }
}

fn stdio(slots: &[StdioSlot]) -> nsjs_sys::Result<[Stdio; 3]> {
  let mut stdio = [Stdio::Inherit; 3];
  for (to, slot) in stdio.iter_mut().zip(slots) {
    *to = match *slot {
      Either::A(StdioKind::Inherit) => Stdio::Inherit,
      Either::A(StdioKind::Ignore) => Stdio::Null,
      Either::B(fd) if fd >= 0 => Stdio::Fd(fd as RawFd),
      Either::A(StdioKind::Pipe) | Either::B(_) => {
        return Err(Error::os(libc::EINVAL, "spawn").step(Step::Stdio))
      }
    };
  }
  Ok(stdio)
}

/// Refuses to read the process environment off the main thread: Node's main thread writes it
/// (process.env) with setenv, which takes no lock, so a read elsewhere may follow freed memory.
/// ts/spawn always passes `env` from other threads; this guards direct use of the binding.
fn on_main_thread(what: &'static str) -> nsjs_sys::Result<()> {
  if this_thread::is_main_thread() {
    Ok(())
  } else {
    Err(Error::os(libc::EINVAL, what).step(Step::Env))
  }
}

/// The child's environment: the request's, the held one it names, or ours as it is now (an absent
/// `env` only comes from the main thread, whose process.env writes through to it). Releases the
/// hold.
fn environment(env: Option<Vec<String>>, generation: Option<i64>) -> nsjs_sys::Result<Vec<String>> {
  let held = generation.and_then(|g| environ::take(g as u64));
  match env.or(held) {
    Some(vars) => Ok(vars),
    None => on_main_thread("environ").map(|()| environ::current()),
  }
}

/// Names this process's environment as it is now, for a spawn that will be handed to the spawner
/// thread later (`envGeneration` of its request). Main thread only: it reads the environment that
/// thread's process.env writes to.
#[napi]
pub fn hold_environment(env: Env) -> Result<i64> {
  on_main_thread("environ").napi(&env)?;
  Ok(environ::hold() as i64)
}
