//! Everything the child needs, computed in the parent before clone: the child may not allocate,
//! so each string is a CString here, each decision a flag, each file body a finished buffer.
//! Also the rules that make namespace options imply their namespace. A `Plan` is not changed once
//! built: what only exists later (the pipes) goes to the child beside it.

use std::ffi::{c_char, CString};
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::fs::MetadataExt;

use super::cgroup::CgroupDir;
use super::exec_path;
use super::handshake::Report;
use super::id_maps::IdMaps;
use super::mounts::{self, MountOp};
use super::spec::{IdMapLine, Propagation, SetGroups, SpawnSpec, Stdio, MAX_EXTRA_FDS};
use crate::clone::{Stack, STACK_SIZE};
use crate::error::{Error, Result};
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;

/// The child keeps a bitmask of joins already done.
const MAX_JOINS: usize = 64;

pub struct Plan {
  pub file: String,
  pub candidates: Vec<CString>,
  /// Per candidate, the argv for running it as a shell script: ["/bin/sh", candidate, argv[1..]].
  pub sh_argvs: Vec<Vec<*const c_char>>,
  _argv: Vec<CString>,
  /// NULL-terminated pointers into `_argv`.
  pub argv: Vec<*const c_char>,
  _env: Vec<CString>,
  /// The shared environment `envp` points into instead, if the spec has one.
  _env_block: Option<std::sync::Arc<crate::environ::EnvBlock>>,
  /// NULL-terminated pointers into `_env` or `_env_block` (or the live environment).
  pub envp: Vec<*const c_char>,

  /// Namespaces to enter on the calling thread before clone (and leave right after), so that the
  /// child is born inside them: always pid (setns only moves later children), and, when the
  /// child is born in a new user namespace and joins no user or time namespace, every join but
  /// those two types (see `build`).
  pub parent_joins: Vec<(RawFd, NsType)>,
  /// The other joins, user first then nsenter's order.
  pub joins: Vec<(RawFd, NsType)>,
  /// The joined process's root and cwd, taken after the joins.
  pub join_root: Option<RawFd>,
  pub join_cwd: Option<RawFd>,
  /// CLONE_NEWUSER / CLONE_NEWPID: what the child must be born with.
  pub clone_ns_flags: libc::c_int,
  /// The namespaces the child unshares itself, one call each so a failure names its type.
  pub unshares: Vec<NsType>,
  /// A CLONE_VM child shares the parent's mm, which makes setns(time) fail with EUSERS.
  pub share_memory: bool,

  /// What the new user namespace's setgroups, uid_map and gid_map get.
  pub id_maps: IdMaps,
  pub timens_offsets: Option<Vec<u8>>,
  pub hostname: Option<Vec<u8>>,
  /// mount(2) flags for "/", when the child makes a mount namespace and the caller wants a change.
  pub propagation: Option<libc::c_ulong>,
  pub root: Option<CString>,
  /// An empty tmpfs as the new root, entered with pivot_root (`pivot_root` is set too).
  pub root_tmpfs: bool,
  /// The entries of `mounts`, applied below the new root.
  pub mounts: Vec<MountOp>,
  pub pivot_root: bool,
  pub cwd: Option<CString>,
  pub mount_proc: bool,
  /// unshare --mount-proc makes an existing /proc private first when "/" was not made private
  /// recursively, so the new proc mount cannot propagate to the host.
  pub proc_private_first: bool,
  pub gid: Option<u32>,
  pub uid: Option<u32>,
  pub pdeathsig: Option<i32>,
  pub new_session: bool,
  pub no_new_privs: bool,
  /// The command's stack when the child stays as the pid namespace's init (`init`), mapped here
  /// so that the child, which may not allocate, has it in its copy of our memory.
  init_stack: Option<Stack>,
  /// `cgroup`'s directory, which the child is cloned into.
  pub cgroup: Option<CgroupDir>,
  pub keep_caps: Option<u64>,
  pub rlimits: Vec<(u32, u64, u64)>,
  /// The seccomp programs, installed in this order.
  pub seccomp: Vec<Vec<u8>>,
  /// The descriptor each of 0, 1, 2 becomes; None: inherited. `Stdio::Null` is the thread's
  /// kept /dev/null (dev_null.rs), open until the thread ends.
  pub stdio: [Option<RawFd>; 3],
  /// What fds 3.. become (-1: closed); see `SpawnSpec::extra_fds`.
  pub extra_fds: Vec<RawFd>,

  /// The process that spawns, which the child checks is still its parent (with `pdeathsig`).
  pub parent_pid: i32,
  /// In a new or joined pid namespace the parent is invisible, so getppid() reads 0.
  pub ppid_may_be_zero: bool,
  /// The child unshares its user namespace itself, after the joins (see `build`), and writes its
  /// own maps: the parent is neither in that namespace nor in its parent (the joined one), so
  /// the kernel would not let it. Only maps of the child's own ids ('root', 'current') work then.
  pub late_user: bool,
}

fn cstring(s: &str, step: Step, syscall: &'static str) -> Result<CString> {
  CString::new(s).map_err(|_| Error::os(libc::EINVAL, syscall).step(step).path(s))
}

fn cstrings(v: &[String], step: Step, syscall: &'static str) -> Result<(Vec<CString>, Vec<*const c_char>)> {
  let owned = v.iter().map(|s| cstring(s, step, syscall)).collect::<Result<Vec<_>>>()?;
  let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
  ptrs.push(std::ptr::null());
  Ok((owned, ptrs))
}

fn map_body(lines: &[IdMapLine]) -> Option<Vec<u8>> {
  if lines.is_empty() {
    return None;
  }
  Some(
    lines
      .iter()
      .map(|l| format!("{} {} {}\n", l.inside, l.outside, l.count))
      .collect::<String>()
      .into_bytes(),
  )
}

/// The joins without the user namespaces the child would already be in when it got to them:
/// the caller's own (which every thread of a process shares, and the child starts in) or the
/// one the join before put it in. setns to the user namespace one is in fails with EINVAL, so
/// nsenter leaves such a namespace out, and so does this: handles from `Namespace.openAll(pid)`
/// of a process in our own user namespace must just work.
fn without_user_namespaces_already_in(joins: &[(RawFd, NsType)]) -> Vec<(RawFd, NsType)> {
  if !joins.iter().any(|(_, t)| *t == NsType::User) {
    return joins.to_vec();
  }
  // stat follows the link to the namespace's nsfs inode, which is its identity, without opening it.
  let mut current = std::fs::metadata("/proc/thread-self/ns/user").ok().map(|m| (m.dev(), m.ino()));
  joins
    .iter()
    .copied()
    .filter(|&(fd, t)| {
      if t != NsType::User {
        return true;
      }
      // SAFETY: the caller of spawn keeps its join descriptors open for the whole call.
      let id = syscall::fstat(unsafe { BorrowedFd::borrow_raw(fd) }).ok().map(|id| (id.dev, id.ino));
      // A namespace that cannot be identified is joined: setns then says what is wrong with it.
      if id.is_some() && id == current {
        return false;
      }
      current = id;
      true
    })
    .collect()
}

impl Plan {
  pub fn build(spec: &SpawnSpec) -> Result<Plan> {
    // Never the process environment: this runs on whatever thread spawns (a worker, the spawner
    // thread), and Node's main thread writes that environment with no lock we could take.
    let parent_path = exec_path::parent_path(spec);
    let candidates = exec_path::candidates(&spec.file, &spec.env, parent_path.as_deref())
      .iter()
      .map(|c| cstring(c, Step::Execve, "execve").map_err(|e| e.path(spec.file.clone())))
      .collect::<Result<Vec<_>>>()?;
    let (argv_owned, argv) = cstrings(&spec.argv, Step::Execve, "execve")?;
    let sh_argvs = candidates
      .iter()
      .map(|c| {
        let mut v = vec![c"/bin/sh".as_ptr(), c.as_ptr()];
        // argv ends in its NULL; without arguments beyond argv[0] only that NULL is left.
        match argv.get(1..) {
          Some(rest) if !rest.is_empty() => v.extend_from_slice(rest),
          _ => v.push(std::ptr::null()),
        }
        v
      })
      .collect();
    let (env_owned, envp) = match &spec.env_block {
      Some(b) => (Vec::new(), b.envp().to_vec()),
      None if spec.own_environ => (Vec::new(), crate::environ::pointers()),
      None => cstrings(&spec.env, Step::Execve, "execve")?,
    };

    let mut unshare: Vec<NsType> = spec.unshare.clone();
    let mut imply = |t: NsType, when: bool| {
      if when && !unshare.contains(&t) {
        unshare.push(t);
      }
    };
    imply(NsType::User, spec.uid_map.is_some() || spec.gid_map.is_some());
    imply(NsType::Uts, spec.hostname.is_some());
    imply(NsType::Mnt, spec.mount_proc || spec.pivot_root || spec.root_tmpfs || !spec.mounts.is_empty());
    imply(NsType::Time, spec.time_offsets.is_some());
    imply(NsType::Pid, spec.init);
    unshare.sort_by_key(|t| t.position());
    unshare.dedup();

    let mut clone_ns_flags = 0;
    for t in [NsType::User, NsType::Pid] {
      if unshare.contains(&t) {
        clone_ns_flags |= t.clone_flag();
      }
    }
    let unshares: Vec<NsType> =
      unshare.iter().copied().filter(|t| !matches!(t, NsType::User | NsType::Pid)).collect();

    // A child born in a new user namespace has no privilege over namespaces outside it, so it
    // cannot join them itself. Joins of types a thread may enter (all but user and time) then
    // happen on the calling thread, whose namespaces the child inherits at clone; its new
    // namespaces (pid included) are then owned by the new user namespace, as with
    // `nsenter ... unshare --user`. Joining a user or time namespace needs the single-threaded
    // child, which then makes the new user namespace itself after its joins (`late_user`).
    let spec_joins = without_user_namespaces_already_in(&spec.join);
    let child_only = |t: NsType| matches!(t, NsType::User | NsType::Time);
    let new_user = clone_ns_flags & libc::CLONE_NEWUSER != 0;
    let late_user = new_user && spec_joins.iter().any(|(_, t)| child_only(*t));
    let in_parent = |t: NsType| t == NsType::Pid || (new_user && !late_user && !child_only(t));
    let parent_joins: Vec<(RawFd, NsType)> =
      spec_joins.iter().copied().filter(|(_, t)| in_parent(*t)).collect();
    let mut joins: Vec<(RawFd, NsType)> =
      spec_joins.iter().copied().filter(|(_, t)| !in_parent(*t)).collect();
    if joins.len() > MAX_JOINS {
      return Err(Error::os(libc::EINVAL, "setns").step(Step::Setns));
    }
    // Stable: two joins of one type keep the caller's order.
    joins.sort_by_key(|(_, t)| t.position());
    if late_user {
      clone_ns_flags &= !libc::CLONE_NEWUSER;
    }

    let root = spec
      .root
      .as_deref()
      .map(|r| cstring(r, if spec.pivot_root { Step::PivotRoot } else { Step::Chroot }, "chroot"))
      .transpose()?;
    let mounts = mounts::plan(&spec.mounts)?;
    let cgroup = spec.cgroup.as_deref().map(CgroupDir::open).transpose()?;
    // BPF_MAXINSNS, of 8-byte instructions.
    if let Some(f) = &spec.seccomp {
      if f.is_empty() || f.len() % 8 != 0 || f.len() / 8 > 4096 {
        return Err(Error::os(libc::EINVAL, "seccomp").step(Step::Seccomp));
      }
    }
    // A mount made in the sandbox must never propagate to ours (nor one it fails to finish).
    let builds = spec.root_tmpfs || !mounts.is_empty();
    if builds && matches!(spec.propagation, Propagation::Shared | Propagation::Unchanged) {
      return Err(Error::os(libc::EINVAL, "mount").step(Step::MountPropagation));
    }
    if spec.root_tmpfs && spec.root.is_some() {
      return Err(Error::os(libc::EINVAL, "pivot_root").step(Step::PivotRoot));
    }
    if spec.pivot_root && root.is_none() && !spec.root_tmpfs {
      return Err(Error::os(libc::EINVAL, "pivot_root").step(Step::PivotRoot));
    }
    let cwd = spec.cwd.as_deref().map(|c| cstring(c, Step::Chdir, "chdir")).transpose()?;
    // Only a user namespace that is really entered makes the command root there (see the spec).
    let root_there = (spec.root_in_joined_user && joins.iter().any(|(_, t)| *t == NsType::User)).then_some(0);

    let new_mnt = unshares.contains(&NsType::Mnt);
    let propagation = match (new_mnt, spec.propagation) {
      (false, _) | (_, Propagation::Unchanged) => None,
      (true, Propagation::Private) => Some(libc::MS_REC | libc::MS_PRIVATE),
      (true, Propagation::Slave) => Some(libc::MS_REC | libc::MS_SLAVE),
      (true, Propagation::Shared) => Some(libc::MS_REC | libc::MS_SHARED),
    };

    if spec.extra_fds.len() > MAX_EXTRA_FDS {
      return Err(Error::os(libc::EINVAL, "spawn").step(Step::Stdio));
    }
    let dev_null = if spec.stdio.contains(&Stdio::Null) {
      Some(super::dev_null::fd().map_err(|e| e.step(Step::Dup2))?)
    } else {
      None
    };
    let stdio = spec.stdio.map(|s| match s {
      Stdio::Inherit => None,
      Stdio::Fd(fd) => Some(fd),
      Stdio::Null => dev_null,
    });
    Ok(Plan {
      file: spec.file.clone(),
      candidates,
      sh_argvs,
      _argv: argv_owned,
      argv,
      _env: env_owned,
      _env_block: spec.env_block.clone(),
      envp,
      // An init never execs: it must not keep our memory shared (nor us waiting in vfork).
      share_memory: !spec.init && !joins.iter().any(|(_, t)| *t == NsType::Time),
      ppid_may_be_zero: parent_joins.iter().any(|(_, t)| *t == NsType::Pid)
        || clone_ns_flags & libc::CLONE_NEWPID != 0,
      parent_joins,
      joins,
      join_root: spec.join_root,
      join_cwd: spec.join_cwd,
      clone_ns_flags,
      unshares,
      id_maps: IdMaps {
        setgroups_deny: spec.setgroups == Some(SetGroups::Deny),
        uid_map: spec.uid_map.as_deref().and_then(map_body),
        gid_map: spec.gid_map.as_deref().and_then(map_body),
      },
      timens_offsets: spec
        .time_offsets
        .map(|(mono, boot)| format!("monotonic {mono} 0\nboottime {boot} 0\n").into_bytes()),
      hostname: spec.hostname.as_ref().map(|h| h.clone().into_bytes()),
      propagation,
      proc_private_first: spec.mount_proc
        && spec.root.is_none()
        && !spec.root_tmpfs
        && spec.propagation != Propagation::Private,
      root,
      root_tmpfs: spec.root_tmpfs,
      mounts,
      pivot_root: spec.pivot_root || spec.root_tmpfs,
      cwd,
      mount_proc: spec.mount_proc,
      gid: spec.gid.or(root_there),
      uid: spec.uid.or(root_there),
      pdeathsig: spec.die_with_parent,
      new_session: spec.new_session,
      no_new_privs: spec.no_new_privs,
      cgroup,
      keep_caps: spec.keep_caps,
      rlimits: spec.rlimits.clone(),
      seccomp: spec
        .seccomp
        .iter()
        .cloned()
        .chain(spec.seccomp_rules.as_deref().map(super::seccomp::compile).transpose()?.into_iter().flatten())
        .collect(),
      init_stack: if spec.init {
        Some(Stack::new(STACK_SIZE).map_err(|e| e.step(Step::Clone))?)
      } else {
        None
      },
      stdio,
      extra_fds: spec.extra_fds.clone(),
      // Only the parent death signal's check reads it (a getpid per spawn otherwise).
      parent_pid: if spec.die_with_parent.is_some() { std::process::id() as i32 } else { 0 },
      late_user,
    })
  }

  /// The first descriptor the child does not fill: the handshake pipes go there or above.
  pub fn first_free_fd(&self) -> RawFd {
    3 + self.extra_fds.len() as RawFd
  }

  /// Where the command's stack starts when the child stays as init.
  pub fn init_stack_top(&self) -> Option<*mut libc::c_void> {
    self.init_stack.as_ref().map(|s| s.top())
  }

  /// Whether the parent may wait for the child in vfork: not when the child must wait for the
  /// parent (`needs_handshake`), nor when it never execs (an init).
  pub fn vfork(&self) -> bool {
    !self.needs_handshake() && self.init_stack.is_none()
  }

  /// The user namespace is born with the child, and its maps can only be written from outside
  /// once the child exists, so the child must wait for the parent.
  pub fn needs_handshake(&self) -> bool {
    self.clone_ns_flags & libc::CLONE_NEWUSER != 0
  }

  /// The path the error of report `r` is about, for the message the JS layer writes.
  pub fn path_for(&self, r: &Report) -> Option<String> {
    let s = |c: &Option<CString>| c.as_ref().map(|c| c.to_string_lossy().into_owned());
    if let Some(i) = r.mount {
      return self.mounts.get(i as usize).map(|m| m.target_path.clone());
    }
    match r.site.step() {
      Step::Execve => Some(self.file.clone()),
      Step::Chroot | Step::PivotRoot => s(&self.root),
      Step::Chdir => s(&self.cwd),
      Step::MountProc => Some("/proc".into()),
      Step::TimensOffsets => Some("/proc/self/timens_offsets".into()),
      _ => None,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn spec() -> SpawnSpec {
    SpawnSpec::new("/bin/true", vec!["true".into()])
  }

  #[test]
  fn options_imply_their_namespace() {
    let mut s = spec();
    s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
    s.hostname = Some("h".into());
    s.mount_proc = true;
    s.time_offsets = Some((1, 2));
    s.unshare = vec![NsType::Pid, NsType::Net];
    let p = Plan::build(&s).unwrap();
    assert_eq!(p.clone_ns_flags, libc::CLONE_NEWUSER | libc::CLONE_NEWPID);
    assert_eq!(p.unshares, [NsType::Uts, NsType::Net, NsType::Mnt, NsType::Time]);
    assert_eq!(p.id_maps.uid_map.as_deref(), Some(&b"0 0 1\n"[..]));
    assert_eq!(p.timens_offsets.as_deref(), Some(&b"monotonic 1 0\nboottime 2 0\n"[..]));
    assert_eq!(p.propagation, Some(libc::MS_REC | libc::MS_PRIVATE));
    assert!(p.needs_handshake());
    assert!(p.ppid_may_be_zero);
  }

  #[test]
  fn plain_spec_needs_nothing() {
    let p = Plan::build(&spec()).unwrap();
    assert_eq!(p.clone_ns_flags, 0);
    assert!(p.unshares.is_empty() && p.propagation.is_none() && p.share_memory && !p.needs_handshake());
    assert_eq!(p.argv.len(), 2);
    assert!(p.argv[1].is_null());
  }

  #[test]
  fn joins_are_split_and_ordered() {
    let mut s = spec();
    s.join = vec![(7, NsType::Mnt), (5, NsType::Pid), (6, NsType::User), (8, NsType::Time)];
    let p = Plan::build(&s).unwrap();
    assert_eq!(p.parent_joins, [(5, NsType::Pid)]);
    assert_eq!(p.joins, [(6, NsType::User), (7, NsType::Mnt), (8, NsType::Time)]);
    assert!(!p.share_memory);
  }

  #[test]
  fn a_user_namespace_the_child_is_already_in_is_not_joined_as_nsenter_does() {
    let own = crate::handle::NsHandle::current(NsType::User).unwrap();
    let net = crate::handle::NsHandle::current(NsType::Net).unwrap();
    let other = crate::create::create(NsType::User).unwrap();
    let mut s = spec();
    s.root_in_joined_user = true;
    s.join = vec![(own.raw_fd(), NsType::User), (net.raw_fd(), NsType::Net)];
    let p = Plan::build(&s).unwrap();
    assert_eq!(p.joins, [(net.raw_fd(), NsType::Net)]);
    assert_eq!((p.uid, p.gid), (None, None), "not entered, so the command keeps our ids");
    // Another user namespace is entered (once, however often it is named in a row) and makes
    // the command root there.
    s.join =
      vec![(other.raw_fd(), NsType::User), (other.raw_fd(), NsType::User), (own.raw_fd(), NsType::User)];
    let p = Plan::build(&s).unwrap();
    assert_eq!(p.joins, [(other.raw_fd(), NsType::User), (own.raw_fd(), NsType::User)]);
    assert_eq!((p.uid, p.gid), (Some(0), Some(0)));
    s.uid = Some(7);
    assert_eq!(Plan::build(&s).unwrap().uid, Some(7), "an explicit id wins");
  }

  #[test]
  fn nul_bytes_are_rejected_before_clone() {
    let mut s = spec();
    s.argv.push("a\0b".into());
    let e = Plan::build(&s).err().unwrap();
    assert_eq!((e.errno, e.step), (libc::EINVAL, Some(Step::Execve)));
  }
}
