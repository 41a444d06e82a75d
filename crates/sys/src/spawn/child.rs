//! The code the spawned child runs between clone and execve, in util-linux's order (nsenter,
//! then unshare). It may share the parent's memory (CLONE_VM) and the parent may be blocked in
//! vfork, so it is async-signal-safe throughout: it only reads the prepared `Plan`, keeps its
//! state on its own stack, calls `child_syscalls`, and ends in execve or exit_group, never a
//! return or a panic. A failure goes to the parent as a `Report` (see `handshake`).

use std::convert::Infallible;
use std::ffi::c_void;

use super::child_syscalls as k;
use super::exec_path;
use super::handshake::{ChildEnds, Report, SharedReport};
use super::init;
use super::mount_steps;
use super::plan::Plan;
use super::privileges;
use super::site::Site;
use crate::ns_type::NsType;

/// The exit code of a child that failed before execve, as the shell uses for "cannot execute".
pub(super) const FAILED: i32 = 127;

/// Linux has signals 1..=64; rt_sigaction refuses SIGKILL and SIGSTOP, which need no reset.
const LAST_SIGNAL: i32 = 64;

/// What clone's entry point is given: the plan, the child's ends of the handshake pipes, where a
/// child without a report pipe (the parent waits in vfork) leaves its report, and the
/// cgroup.procs it writes itself into when it could not be cloned into its cgroup (see `cgroup`).
pub struct Args<'a> {
  pub plan: &'a Plan,
  pub pipes: ChildEnds,
  pub report: SharedReport,
  pub cgroup_procs: Option<i32>,
}

/// clone's entry point. `arg` is the parent's `Args`.
pub extern "C" fn main(arg: *mut c_void) -> libc::c_int {
  // SAFETY: the parent passes a pointer to its Args and keeps them (and the plan) alive and
  // unmodified until this child has exec'ed or exited (it waits in vfork, for EOF on the report
  // pipe, or for the child's death); `report` is only written through its atomics.
  let args = unsafe { &*(arg as *const Args<'_>) };
  run(args)
}

fn fail(a: &Args<'_>, site: Site, ns: Option<NsType>, errno: i32) -> ! {
  fail_report(a, Report { site, ns, errno, mount: None })
}

pub(super) fn fail_report(a: &Args<'_>, r: Report) -> ! {
  a.pipes.report(&a.report, r);
  k::exit_group(FAILED)
}

/// Passes a successful result through, turns -errno into a report.
#[inline(always)]
pub(super) fn check(a: &Args<'_>, ret: isize, site: Site, ns: Option<NsType>) -> isize {
  if ret < 0 {
    fail(a, site, ns, ret.wrapping_neg() as i32);
  }
  ret
}

fn run(a: &Args<'_>) -> ! {
  let p = a.plan;
  // Handlers of the parent would run on the parent's memory; SIG_IGN (Node ignores SIGPIPE)
  // would survive execve. All signals stay blocked (the parent blocked them around clone)
  // until just before execve. (CLONE_CLEAR_SIGHAND would reset the handled ones for free, but
  // not the ignored ones, and only asking each signal tells those apart, at the cost of this.)
  for sig in 1..=LAST_SIGNAL {
    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
      k::signal_default(sig);
    }
  }
  if let Some(procs) = a.cgroup_procs {
    // "0" is the writer itself: the child, and so the command, lives in the cgroup from here on.
    check(a, k::write(procs, b"0"), Site::CgroupJoin, None);
  }
  if p.new_session {
    check(a, k::setsid(), Site::Setsid, None);
  }
  if let Some(sig) = p.pdeathsig {
    arm_parent_death_signal(a, sig);
  }
  // The parent is gone or gave up when no go comes: nobody waits for a report.
  if a.pipes.waits_for_go() && !a.pipes.wait_for_go() {
    k::exit_group(FAILED);
  }
  join(a);
  join_dirs(a);
  if p.late_user {
    check(a, k::unshare(libc::CLONE_NEWUSER), Site::Unshare, Some(NsType::User));
    write_own_maps(a);
  }
  for &t in p.unshares.iter() {
    check(a, k::unshare(t.clone_flag()), Site::Unshare, Some(t));
  }
  if let Some(body) = p.timens_offsets.as_deref() {
    write_timens_offsets(a, body);
  }
  if let Some(name) = p.hostname.as_deref() {
    check(a, k::sethostname(name), Site::Sethostname, Some(NsType::Uts));
  }
  if let Some(flags) = p.propagation {
    check(a, k::mount(Some(c"none"), c"/", None, flags), Site::Propagation, Some(NsType::Mnt));
  }
  enter_root(a);
  if let Some(cwd) = p.cwd.as_deref() {
    check(a, k::chdir(cwd), Site::Cwd, None);
  }
  if p.mount_proc && !p.pivot_root {
    mount_proc(a, c"/proc");
  }
  privileges::before_credentials(a);
  set_credentials(a);
  privileges::after_credentials(a);
  if let Some(sig) = p.pdeathsig {
    // Changing uid or gid (and entering a user namespace) cleared the first one.
    arm_parent_death_signal(a, sig);
  }
  if p.no_new_privs {
    check(a, k::set_no_new_privs(), Site::NoNewPrivs, None);
  }
  if let Some(top) = p.init_stack_top() {
    init::run(a, top)
  }
  finish(a)
}

/// The last steps, which belong to the command alone (with `init`, to the init's child): its
/// stdio, no other descriptor across execve, the signal mask, execve.
pub(super) fn finish(a: &Args<'_>) -> ! {
  set_stdio(a);
  set_extra_fds(a);
  check(a, k::cloexec_from(a.plan.first_free_fd() as u32), Site::CloseRange, None);
  k::unblock_all_signals();
  privileges::seccomp(a);
  exec(a)
}

/// The new root and the `mounts` below it: a tmpfs root (`root_tmpfs`) or the `root` directory,
/// entered with pivot_root or chroot; the entries are applied before, while their sources are
/// still visible. Without a new root, the entries are applied below "/".
fn enter_root(a: &Args<'_>) {
  let p = a.plan;
  let with_mounts = !p.mounts.is_empty();
  if p.root_tmpfs {
    let root = mount_steps::tmpfs_root(a);
    mount_steps::apply_all(a, root);
    check(a, mount_steps::enter(root), Site::MountChdir, None);
    k::close(root);
    pivot_into_cwd(a);
  } else if let Some(root) = p.root.as_deref() {
    if p.pivot_root {
      check(a, k::mount(Some(root), root, None, libc::MS_BIND | libc::MS_REC), Site::PivotBind, None);
      check(a, k::chdir(root), Site::PivotChdir, None);
      if with_mounts {
        let fd = mount_steps::open_root(a, c".");
        mount_steps::apply_all(a, fd);
        k::close(fd);
      }
      pivot_into_cwd(a);
    } else {
      if with_mounts {
        let fd = mount_steps::open_root(a, root);
        mount_steps::apply_all(a, fd);
        k::close(fd);
      }
      check(a, k::chroot(root), Site::Chroot, None);
      check(a, k::chdir(c"/"), Site::ChrootChdir, None);
    }
  } else if with_mounts {
    let fd = mount_steps::open_root(a, c"/");
    mount_steps::apply_all(a, fd);
    k::close(fd);
  }
}

/// pivot_root into the current directory, the old root detached; /proc mounted first with
/// `mountProc`.
fn pivot_into_cwd(a: &Args<'_>) {
  if a.plan.mount_proc {
    // Here, while the old root and its /proc are still in this mount namespace: without
    // CAP_SYS_ADMIN in the initial user namespace the kernel only mounts a proc that reveals
    // no more than one already visible (mount_too_revealing), and after the old root is
    // detached none is, so a rootless pivotRoot with mountProc would always fail. Until the
    // pivot a symbolic link at root/proc would lead out of the new root: refused (ENOTDIR).
    if a.plan.root_tmpfs {
      mount_steps::make_proc_dir(a);
    }
    let dir = check(
      a,
      k::open(c"proc", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC),
      Site::ProcMount,
      None,
    );
    k::close(dir as i32);
    mount_proc(a, c"proc");
  }
  // With the same directory twice the old root ends up stacked under the new one, where a
  // lazy unmount of "." removes it: no directory for it is needed inside `root`.
  check(a, k::pivot_root(c".", c"."), Site::PivotRoot, None);
  check(a, k::umount2(c".", libc::MNT_DETACH), Site::PivotUmount, None);
  check(a, k::chdir(c"/"), Site::PivotChdirRoot, None);
}

fn mount_proc(a: &Args<'_>, target: &std::ffi::CStr) {
  if a.plan.proc_private_first {
    check(a, k::mount(Some(c"none"), target, None, libc::MS_PRIVATE | libc::MS_REC), Site::ProcPrivate, None);
  }
  let flags = libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV;
  check(a, k::mount(Some(c"proc"), target, Some(c"proc"), flags), Site::ProcMount, None);
}

fn arm_parent_death_signal(a: &Args<'_>, sig: i32) {
  let p = a.plan;
  check(a, k::set_pdeathsig(sig), Site::Pdeathsig, None);
  // The parent may have died before the signal was armed; then nobody will ever send it.
  let ppid = k::getppid() as i32;
  if ppid != p.parent_pid && !(p.ppid_may_be_zero && ppid == 0) {
    fail(a, Site::ParentGone, None, libc::ESRCH);
  }
}

/// nsenter's two passes: everything but user first, ignoring failures, since entering the
/// target user namespace first may drop the privilege needed for the others; then user and
/// whatever failed, now after gaining the target's privileges, and failures are final.
fn join(a: &Args<'_>) {
  let p = a.plan;
  let mut done: u64 = 0;
  for (i, &(fd, t)) in p.joins.iter().enumerate() {
    if t != NsType::User && k::setns(fd, t.clone_flag()) == 0 {
      done |= 1 << i;
    }
  }
  for (i, &(fd, t)) in p.joins.iter().enumerate() {
    if done & (1 << i) == 0 {
      check(a, k::setns(fd, t.clone_flag()), Site::Setns, Some(t));
    }
  }
}

/// nsenter -r -w: the joined process's root, then its working directory (without one, "/").
fn join_dirs(a: &Args<'_>) {
  let p = a.plan;
  if let Some(root) = p.join_root {
    check(a, k::fchdir(root), Site::JoinRootChdir, None);
    check(a, k::chroot(c"."), Site::JoinRoot, None);
    if p.join_cwd.is_none() {
      check(a, k::chdir(c"/"), Site::JoinRootChdir, None);
    }
  }
  if let Some(cwd) = p.join_cwd {
    check(a, k::fchdir(cwd), Site::JoinCwd, None);
  }
}

/// The id files of the user namespace the child has just made, in `IdMaps`' order.
fn write_own_maps(a: &Args<'_>) {
  let Ok(()) = a.plan.id_maps.write_in_order(|file, body| {
    write_whole(a, file.of_self(), body, (file.site(), file.site()), Some(NsType::User));
    Ok::<(), Infallible>(())
  });
}

fn write_timens_offsets(a: &Args<'_>, body: &[u8]) {
  write_whole(
    a,
    c"/proc/self/timens_offsets",
    body,
    (Site::TimensOpen, Site::TimensWrite),
    Some(NsType::Time),
  );
}

/// One write of the whole body: the kernel parses an id map or the clock offsets from a single
/// write, and a short one would leave them half-set.
fn write_whole(
  a: &Args<'_>,
  path: &std::ffi::CStr,
  body: &[u8],
  (open_site, write_site): (Site, Site),
  t: Option<NsType>,
) {
  let fd = check(a, k::open(path, libc::O_WRONLY | libc::O_CLOEXEC), open_site, t) as i32;
  let n = check(a, k::write(fd, body), write_site, t);
  if n as usize != body.len() {
    fail(a, write_site, t, libc::EIO);
  }
  k::close(fd);
}

fn set_credentials(a: &Args<'_>) {
  let p = a.plan;
  if (p.uid.is_some() || p.gid.is_some()) && !p.id_maps.setgroups_deny {
    // Keep the parent's supplementary groups from reaching a command that runs as someone else
    // (as libuv does when either id is set). EPERM means the kernel forbids setgroups here
    // (unprivileged user namespace): nothing to drop then.
    let r = k::clear_groups();
    if r < 0 && r != -(libc::EPERM as isize) {
      check(a, r, Site::Setgroups, None);
    }
  }
  if let Some(gid) = p.gid {
    check(a, k::setresgid(gid), Site::Setresgid, None);
  }
  if let Some(uid) = p.uid {
    check(a, k::setresuid(uid), Site::Setresuid, None);
  }
}

/// Puts the requested descriptors on 0, 1, 2. Every source is first moved to 3 or above, so that
/// filling one slot can never overwrite the source of another; the moved copies and the parent's
/// own descriptors are CLOEXEC and vanish at execve.
fn set_stdio(a: &Args<'_>) {
  let mut src: [i32; 3] = [-1; 3];
  for (slot, s) in src.iter_mut().zip(a.plan.stdio.iter()) {
    match *s {
      None => {}
      Some(fd) if (0..3).contains(&fd) => *slot = check(a, k::dup_above(fd, 3), Site::StdioMove, None) as i32,
      Some(fd) => *slot = fd,
    }
  }
  for (target, &s) in (0..3).zip(src.iter()) {
    if s >= 0 {
      check(a, k::dup_onto(s, target), Site::StdioDup, None);
    } else {
      // Inherit: Node marks its own 0-2 close-on-exec at startup (libuv's
      // uv_disable_stdio_inheritance), so the slot must be made inheritable again, as libuv's
      // own spawn does. A slot the parent has closed stays closed (EBADF is fine).
      k::keep_across_exec(target);
    }
  }
}

/// Puts the requested descriptors on 3.. (`extra_fds`) as `set_stdio` does on 0..2: each source
/// first moved past the range (no slot can overwrite another's source), then dup2'ed onto its
/// slot; a slot without one is closed. The handshake pipes are past the range (`Pipes::new`).
fn set_extra_fds(a: &Args<'_>) {
  let extra = &a.plan.extra_fds;
  if extra.is_empty() {
    return;
  }
  let top = a.plan.first_free_fd();
  let mut moved = [-1i32; super::spec::MAX_EXTRA_FDS];
  for (m, &src) in moved.iter_mut().zip(extra.iter()) {
    if src >= 0 {
      *m = check(a, k::dup_above(src, top), Site::StdioMove, None) as i32;
    }
  }
  for (i, &m) in moved[..extra.len()].iter().enumerate() {
    let target = 3 + i as i32;
    if m >= 0 {
      check(a, k::dup_onto(m, target), Site::StdioDup, None);
    } else {
      k::close(target);
    }
  }
}

/// execvpe's loop: go on to the next candidate when this one is missing or not allowed, and
/// report EACCES over ENOENT if any candidate was there but not executable.
fn exec(a: &Args<'_>) -> ! {
  let p = a.plan;
  let mut errno = libc::ENOENT;
  let mut saw_eacces = false;
  for (i, path) in p.candidates.iter().enumerate() {
    // SAFETY: the plan's argv and envp are NULL-terminated pointer arrays into CStrings it owns.
    let mut e = unsafe { k::execve(path, &p.argv, &p.envp) }.wrapping_neg() as i32;
    if e == libc::ENOEXEC {
      // An executable without a #! line or ELF header: run it with /bin/sh, as execvp and the
      // shells do (and so nsenter, unshare and child_process).
      // SAFETY: as above; `sh_argvs[i]` is the same kind of array, built for this candidate.
      e = unsafe { k::execve(c"/bin/sh", &p.sh_argvs[i], &p.envp) }.wrapping_neg() as i32;
    }
    if !exec_path::try_next(e) {
      fail(a, Site::Execve, None, e);
    }
    saw_eacces |= e == libc::EACCES;
    errno = e;
  }
  fail(a, Site::Execve, None, if saw_eacces { libc::EACCES } else { errno })
}
