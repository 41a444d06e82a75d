//! What JS asks a spawn for, already validated and resolved ('root' maps turned into lines, env
//! into "K=V" strings) by ts/spawn/options.ts, and how it becomes nsjs-sys's `SpawnSpec`. Every
//! choice is a string enum, so napi refuses a string it does not know instead of guessing.

use std::os::fd::RawFd;
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Either};
use napi_derive::napi;
use nsjs_sys::spawn::{self, Mount, MountKind, SpawnSpec, Stdio};
use nsjs_sys::{environ, this_thread, Error, Step};

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
  /// A new pipe (fds 1 and 2 only), whose output the exit watch collects for JS (`exec()`), on a
  /// thread where `initSpawnCallbacks` answered true.
  Capture,
}

/// What an entry of `mounts` is.
#[napi(string_enum = "lowercase")]
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum MountType {
  Bind,
  Tmpfs,
  Proc,
  Sysfs,
  Dev,
  Dir,
  File,
  Symlink,
}

/// One entry of `mounts`, checked and given its defaults by ts/spawn/mounts.ts: the fields its
/// type takes are there.
#[napi(object)]
pub struct MountEntry {
  #[napi(js_name = "type")]
  pub kind: MountType,
  pub target: String,
  pub source: Option<String>,
  pub readonly: Option<bool>,
  pub size: Option<i64>,
  pub mode: Option<u32>,
  pub data: Option<Buffer>,
  pub link_to: Option<String>,
}

/// One resource limit: soft and hard, Infinity for RLIM_INFINITY.
#[napi(object)]
pub struct RlimitEntry {
  pub resource: u32,
  pub soft: f64,
  pub hard: f64,
}

/// A slot of `stdio`: a kind, or a descriptor of the parent's.
pub type StdioSlot = Either<StdioKind, i32>;

/// One spawn, as ts/spawn/options.ts `normalize()` resolves the options: what most spawns use
/// here, the rest in `more` (absent when all of it is at its default). napi reads every field of
/// an object it converts, each by name, so a plain spawn is spared the lookups of the two dozen
/// options it does not use. What a spawn leaves at its default may be absent (false, none,
/// 'private'), so a new option is optional here.
#[napi(object)]
pub struct NativeSpawnRequest {
  pub file: String,
  pub argv: Vec<String>,
  /// "K=V" strings; absent: this process's own environment (as `spawnerAvailable(true)` held
  /// it, when `env_generation` is given).
  pub env: Option<Vec<String>>,
  pub env_generation: Option<i64>,
  /// The PATH a bare `file` is looked up in when the child's environment has none: the calling
  /// thread's process.env.PATH, read in JS (native code never reads the process environment off
  /// the main thread).
  pub path: Option<String>,
  pub join: Option<Vec<JoinFd>>,
  pub unshare: Option<Vec<NsType>>,
  pub cwd: Option<String>,
  /// Fds 0..2 (inherited where missing).
  #[napi(ts_type = "Array<StdioKind | number>")]
  pub stdio: Vec<StdioSlot>,
  /// The child's fds from 3 on: a descriptor of ours for each, or -1 for none (closed).
  pub extra_fds: Option<Vec<i32>>,
  /// How many bytes of each 'capture' slot's output are kept (default 16 MiB).
  pub capture_limit: Option<f64>,
  /// Every other option, when one is not at its default.
  pub more: Option<NativeSpawnMore>,
}

/// The options of a spawn that most spawns leave at their defaults.
#[napi(object)]
pub struct NativeSpawnMore {
  /// Descriptors of the joined process's root and cwd (`openJoinDirs`), kept open by JS.
  pub join_root: Option<i32>,
  pub join_cwd: Option<i32>,
  pub uid_map: Option<Vec<IdMapLine>>,
  pub gid_map: Option<Vec<IdMapLine>>,
  pub setgroups: Option<SetGroups>,
  pub hostname: Option<String>,
  pub mount_proc: Option<bool>,
  pub propagation: Option<Propagation>,
  pub time_offsets: Option<TimeOffsets>,
  pub root: Option<String>,
  /// An empty tmpfs as the new root (`root: 'tmpfs'`).
  pub root_tmpfs: Option<bool>,
  pub mounts: Option<Vec<MountEntry>>,
  pub pivot_root: Option<bool>,
  pub uid: Option<u32>,
  pub gid: Option<u32>,
  /// uid and gid 0 where not given, when a user namespace is entered with join (nsenter's rule).
  pub root_in_joined_user: Option<bool>,
  pub die_with_parent: Option<i32>,
  pub new_session: Option<bool>,
  pub no_new_privs: Option<bool>,
  /// Capability numbers to keep; all others are dropped from every set.
  pub capabilities: Option<Vec<u32>>,
  pub rlimits: Option<Vec<RlimitEntry>>,
  /// A compiled classic-BPF seccomp program.
  pub seccomp: Option<Buffer>,
  /// seccomp rules in seccompiler's JSON form (ts/spawn/sandbox.ts writes it), compiled natively.
  pub seccomp_rules: Option<String>,
  /// A cgroup v2 directory the child is moved into before anything else.
  pub cgroup: Option<String>,
  /// A minimal init as PID 1 of a new pid namespace, the command its child.
  pub init: Option<bool>,
}

/// The whole spec, the environment first: a held one is released whatever fails after. A slot
/// still 'pipe' is refused: the caller puts the child's end of its pipe there first (`plug`).
/// The defaults of absent fields are `SpawnSpec::new`'s.
impl TryFrom<NativeSpawnRequest> for SpawnSpec {
  type Error = Error;

  fn try_from(req: NativeSpawnRequest) -> nsjs_sys::Result<SpawnSpec> {
    let env = environment(req.env, req.env_generation)?;
    let mut spec = SpawnSpec::new(req.file, req.argv);
    match env {
      ChildEnv::List(vars) => spec.env = vars,
      ChildEnv::Held(block) => spec.env_block = Some(block),
      ChildEnv::Own => spec.own_environ = true,
    }
    spec.path = req.path;
    spec.join = req.join.unwrap_or_default().into_iter().map(|j| (j.fd, j.ns_type.into())).collect();
    spec.unshare = req.unshare.unwrap_or_default().into_iter().map(Into::into).collect();
    spec.cwd = req.cwd;
    spec.stdio = stdio(&req.stdio)?;
    spec.extra_fds = req.extra_fds.unwrap_or_default();
    if let Some(more) = req.more {
      add_more(&mut spec, more)?;
    }
    Ok(spec)
  }
}

fn add_more(spec: &mut SpawnSpec, m: NativeSpawnMore) -> nsjs_sys::Result<()> {
  spec.join_root = m.join_root;
  spec.join_cwd = m.join_cwd;
  spec.uid_map = m.uid_map.map(id_map);
  spec.gid_map = m.gid_map.map(id_map);
  spec.setgroups = m.setgroups.map(Into::into);
  spec.hostname = m.hostname;
  spec.mount_proc = m.mount_proc.unwrap_or(false);
  spec.propagation = m.propagation.map_or(spawn::Propagation::Private, Into::into);
  spec.time_offsets = m.time_offsets.map(|t| (t.monotonic, t.boottime));
  spec.root = m.root;
  spec.root_tmpfs = m.root_tmpfs.unwrap_or(false);
  spec.mounts = m.mounts.unwrap_or_default().into_iter().map(mount).collect::<nsjs_sys::Result<_>>()?;
  spec.pivot_root = m.pivot_root.unwrap_or(false);
  spec.uid = m.uid;
  spec.gid = m.gid;
  spec.root_in_joined_user = m.root_in_joined_user.unwrap_or(false);
  spec.die_with_parent = m.die_with_parent;
  spec.new_session = m.new_session.unwrap_or(false);
  spec.no_new_privs = m.no_new_privs.unwrap_or(false);
  spec.init = m.init.unwrap_or(false);
  spec.cgroup = m.cgroup;
  spec.keep_caps = m.capabilities.map(|caps| caps.iter().filter(|&&c| c < 64).fold(0u64, |k, &c| k | 1 << c));
  spec.rlimits =
    m.rlimits.unwrap_or_default().iter().map(|r| (r.resource, rlim(r.soft), rlim(r.hard))).collect();
  spec.seccomp = m.seccomp.map(|b| b.to_vec());
  spec.seccomp_rules = m.seccomp_rules;
  Ok(())
}

/// A limit as prlimit64 takes it: Infinity (or anything past u64) is RLIM_INFINITY.
fn rlim(v: f64) -> u64 {
  if v.is_finite() && v < u64::MAX as f64 {
    v as u64
  } else {
    u64::MAX
  }
}

/// An entry as sys takes it; a field its type needs but lacks is EINVAL at step 'mount'.
fn mount(m: MountEntry) -> nsjs_sys::Result<Mount> {
  let missing = || Error::os(libc::EINVAL, "mount").step(Step::Mount).path(m.target.clone());
  let kind = match m.kind {
    MountType::Bind => {
      MountKind::Bind { source: m.source.clone().ok_or_else(missing)?, readonly: m.readonly.unwrap_or(false) }
    }
    MountType::Tmpfs => MountKind::Tmpfs { size: m.size.map(|s| s as u64), mode: m.mode.unwrap_or(0o755) },
    MountType::Proc => MountKind::Proc,
    MountType::Sysfs => MountKind::Sysfs,
    MountType::Dev => MountKind::Dev,
    MountType::Dir => MountKind::Dir { mode: m.mode.unwrap_or(0o755) },
    MountType::File => MountKind::File {
      data: m.data.as_ref().map(|d| d.to_vec()).unwrap_or_default(),
      mode: m.mode.unwrap_or(0o666),
    },
    MountType::Symlink => MountKind::Symlink { link_to: m.link_to.clone().ok_or_else(missing)? },
  };
  Ok(Mount { target: m.target, kind })
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
      Either::A(StdioKind::Pipe | StdioKind::Capture) | Either::B(_) => {
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

/// Where a child's environment comes from.
enum ChildEnv {
  /// The request's list.
  List(Vec<String>),
  /// The held copy `envGeneration` names, shared with the other spawns of that generation.
  Held(Arc<environ::EnvBlock>),
  /// Ours as it is (`own_environ`): an absent `env` only comes from the main thread, whose
  /// process.env writes through to it, and which the spawn holds until the child has exec'ed.
  Own,
}

/// The child's environment: the request's, the held one it names, or ours. Releases the hold.
fn environment(env: Option<Vec<String>>, generation: Option<i64>) -> nsjs_sys::Result<ChildEnv> {
  let held = generation.and_then(|g| environ::take(g as u64));
  match (env, held) {
    (Some(vars), _) => Ok(ChildEnv::List(vars)),
    (None, Some(block)) => Ok(ChildEnv::Held(block)),
    (None, None) => on_main_thread("environ").map(|()| ChildEnv::Own),
  }
}

/// Releases the environment `spawnerAvailable(true)` held as `generation`, for a spawn that will
/// not be handed over after all (a spawn that is releases it itself).
#[napi]
pub fn release_environment(generation: i64) {
  release_held(Some(generation));
}

/// Releases the held environment `generation` names, if any.
pub(super) fn release_held(generation: Option<i64>) {
  drop(generation.and_then(|g| environ::take(g as u64)));
}
