//! The code the spawned child runs between clone and execve, in util-linux's order (nsenter,
//! then unshare). It may share the parent's memory (CLONE_VM) and the parent may be blocked in
//! vfork, so it is async-signal-safe throughout: it only reads the prepared `Plan`, keeps its
//! state on its own stack, calls `child_sys`, and ends in execve or exit_group, never a return or
//! a panic. A failure goes to the parent as a `Report` on the error pipe.

use std::ffi::c_void;

use super::child_sys as k;
use super::exec_path;
use super::plan::Plan;
use super::report::{Report, Site};
use crate::ns_type::NsType;

/// The exit code of a child that failed before execve, as the shell uses for "cannot execute".
const FAILED: i32 = 127;

/// Linux has signals 1..=64; rt_sigaction refuses SIGKILL and SIGSTOP, which need no reset.
const LAST_SIGNAL: i32 = 64;

/// clone's entry point. `arg` is the parent's `Plan`.
pub extern "C" fn main(arg: *mut c_void) -> libc::c_int {
  // SAFETY: the parent passes a pointer to its Plan and keeps it alive and unmodified until this
  // child has exec'ed or exited (it waits for EOF on the error pipe, or for the child's death).
  let plan = unsafe { &*(arg as *const Plan) };
  run(plan)
}

fn fail(p: &Plan, site: Site, ns: Option<NsType>, errno: i32) -> ! {
  let bytes = Report { site, ns, errno }.encode();
  // Nothing to do if this fails: the parent then sees EOF and learns of the failure from the
  // exit status instead.
  k::write(p.err_w, &bytes);
  k::exit_group(FAILED)
}

/// Passes a successful result through, turns -errno into a report.
#[inline(always)]
fn check(p: &Plan, ret: isize, site: Site, ns: Option<NsType>) -> isize {
  if ret < 0 {
    fail(p, site, ns, ret.wrapping_neg() as i32);
  }
  ret
}

fn run(p: &Plan) -> ! {
  // Handlers of the parent would run on the parent's memory; SIG_IGN (Node ignores SIGPIPE)
  // would survive execve. All signals stay blocked (the parent blocked them around clone)
  // until just before execve.
  for sig in 1..=LAST_SIGNAL {
    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
      k::signal_default(sig);
    }
  }
  if p.new_session {
    check(p, k::setsid(), Site::Setsid, None);
  }
  if let Some(sig) = p.pdeathsig {
    arm_parent_death_signal(p, sig);
  }
  if p.go_r >= 0 {
    wait_for_go(p);
  }
  join(p);
  if p.late_user {
    check(p, k::unshare(libc::CLONE_NEWUSER), Site::Unshare, Some(NsType::User));
    write_own_maps(p);
  }
  for &t in p.unshares.iter() {
    check(p, k::unshare(t.clone_flag()), Site::Unshare, Some(t));
  }
  if let Some(body) = p.timens_offsets.as_deref() {
    write_timens_offsets(p, body);
  }
  if let Some(name) = p.hostname.as_deref() {
    check(p, k::sethostname(name), Site::Sethostname, Some(NsType::Uts));
  }
  if let Some(flags) = p.propagation {
    check(p, k::mount(Some(c"none"), c"/", None, flags), Site::Propagation, Some(NsType::Mnt));
  }
  if let Some(root) = p.root.as_deref() {
    if p.pivot_root {
      check(p, k::mount(Some(root), root, None, libc::MS_BIND | libc::MS_REC), Site::PivotBind, None);
      check(p, k::chdir(root), Site::PivotChdir, None);
      if p.mount_proc {
        // Here, while the old root and its /proc are still in this mount namespace: without
        // CAP_SYS_ADMIN in the initial user namespace the kernel only mounts a proc that reveals
        // no more than one already visible (mount_too_revealing), and after the old root is
        // detached none is, so a rootless pivotRoot with mountProc would always fail. Until the
        // pivot a symbolic link at root/proc would lead out of the new root: refused (ENOTDIR).
        let dir = check(
          p,
          k::open(c"proc", libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC),
          Site::ProcMount,
          None,
        );
        k::close(dir as i32);
        mount_proc(p, c"proc");
      }
      // With the same directory twice the old root ends up stacked under the new one, where a
      // lazy unmount of "." removes it: no directory for it is needed inside `root`.
      check(p, k::pivot_root(c".", c"."), Site::PivotRoot, None);
      check(p, k::umount2(c".", libc::MNT_DETACH), Site::PivotUmount, None);
      check(p, k::chdir(c"/"), Site::PivotChdirRoot, None);
    } else {
      check(p, k::chroot(root), Site::Chroot, None);
      check(p, k::chdir(c"/"), Site::ChrootChdir, None);
    }
  }
  if let Some(cwd) = p.cwd.as_deref() {
    check(p, k::chdir(cwd), Site::Cwd, None);
  }
  if p.mount_proc && !(p.root.is_some() && p.pivot_root) {
    mount_proc(p, c"/proc");
  }
  set_credentials(p);
  if let Some(sig) = p.pdeathsig {
    // Changing uid or gid (and entering a user namespace) cleared the first one.
    arm_parent_death_signal(p, sig);
  }
  set_stdio(p);
  check(p, k::cloexec_from(3), Site::CloseRange, None);
  k::unblock_all_signals();
  exec(p)
}

fn mount_proc(p: &Plan, target: &std::ffi::CStr) {
  if p.proc_private_first {
    check(p, k::mount(Some(c"none"), target, None, libc::MS_PRIVATE | libc::MS_REC), Site::ProcPrivate, None);
  }
  let flags = libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV;
  check(p, k::mount(Some(c"proc"), target, Some(c"proc"), flags), Site::ProcMount, None);
}

fn arm_parent_death_signal(p: &Plan, sig: i32) {
  check(p, k::set_pdeathsig(sig), Site::Pdeathsig, None);
  // The parent may have died before the signal was armed; then nobody will ever send it.
  let ppid = k::getppid() as i32;
  if ppid != p.parent_pid && !(p.ppid_may_be_zero && ppid == 0) {
    fail(p, Site::ParentGone, None, libc::ESRCH);
  }
}

fn wait_for_go(p: &Plan) {
  // Our copy of the write end would keep the read below from ever seeing EOF.
  k::close(p.go_w);
  let mut byte = [0u8; 1];
  loop {
    match k::read(p.go_r, &mut byte) {
      1 => break,
      r if r == -(libc::EINTR as isize) => continue,
      // The parent is gone or gave up: nobody waits for a report.
      _ => k::exit_group(FAILED),
    }
  }
  k::close(p.go_r);
}

/// nsenter's two passes: everything but user first, ignoring failures, since entering the
/// target user namespace first may drop the privilege needed for the others; then user and
/// whatever failed, now after gaining the target's privileges, and failures are final.
fn join(p: &Plan) {
  let mut done: u64 = 0;
  for (i, &(fd, t)) in p.joins.iter().enumerate() {
    if t != NsType::User && k::setns(fd, t.clone_flag()) == 0 {
      done |= 1 << i;
    }
  }
  for (i, &(fd, t)) in p.joins.iter().enumerate() {
    if done & (1 << i) == 0 {
      check(p, k::setns(fd, t.clone_flag()), Site::Setns, Some(t));
    }
  }
}

/// setgroups first: without CAP_SETGID in the parent namespace gid_map needs "deny" there.
fn write_own_maps(p: &Plan) {
  if p.setgroups_deny {
    write_proc_self(p, c"/proc/self/setgroups", b"deny", Site::SelfSetgroups);
  }
  if let Some(body) = p.uid_map.as_deref() {
    write_proc_self(p, c"/proc/self/uid_map", body, Site::SelfUidMap);
  }
  if let Some(body) = p.gid_map.as_deref() {
    write_proc_self(p, c"/proc/self/gid_map", body, Site::SelfGidMap);
  }
}

fn write_proc_self(p: &Plan, path: &std::ffi::CStr, body: &[u8], site: Site) {
  write_whole(p, path, body, (site, site), Some(NsType::User));
}

fn write_timens_offsets(p: &Plan, body: &[u8]) {
  write_whole(
    p,
    c"/proc/self/timens_offsets",
    body,
    (Site::TimensOpen, Site::TimensWrite),
    Some(NsType::Time),
  );
}

/// One write of the whole body: the kernel parses an id map or the clock offsets from a single
/// write, and a short one would leave them half-set.
fn write_whole(
  p: &Plan,
  path: &std::ffi::CStr,
  body: &[u8],
  (open_site, write_site): (Site, Site),
  t: Option<NsType>,
) {
  let fd = check(p, k::open(path, libc::O_WRONLY | libc::O_CLOEXEC), open_site, t) as i32;
  let n = check(p, k::write(fd, body), write_site, t);
  if n as usize != body.len() {
    fail(p, write_site, t, libc::EIO);
  }
  k::close(fd);
}

fn set_credentials(p: &Plan) {
  if (p.uid.is_some() || p.gid.is_some()) && !p.setgroups_deny {
    // Keep the parent's supplementary groups from reaching a command that runs as someone else
    // (as libuv does when either id is set). EPERM means the kernel forbids setgroups here
    // (unprivileged user namespace): nothing to drop then.
    let r = k::clear_groups();
    if r < 0 && r != -(libc::EPERM as isize) {
      check(p, r, Site::Setgroups, None);
    }
  }
  if let Some(gid) = p.gid {
    check(p, k::setresgid(gid), Site::Setresgid, None);
  }
  if let Some(uid) = p.uid {
    check(p, k::setresuid(uid), Site::Setresuid, None);
  }
}

/// Puts the requested descriptors on 0, 1, 2. Every source is first moved to 3 or above, so that
/// filling one slot can never overwrite the source of another; the moved copies and the parent's
/// own descriptors are CLOEXEC and vanish at execve.
fn set_stdio(p: &Plan) {
  let mut src: [i32; 3] = [-1; 3];
  for (slot, s) in src.iter_mut().zip(p.stdio.iter()) {
    match *s {
      None => {}
      Some(fd) if (0..3).contains(&fd) => *slot = check(p, k::dup_above(fd, 3), Site::StdioMove, None) as i32,
      Some(fd) => *slot = fd,
    }
  }
  for (target, &s) in (0..3).zip(src.iter()) {
    if s >= 0 {
      check(p, k::dup_onto(s, target), Site::StdioDup, None);
    } else {
      // Inherit: Node marks its own 0-2 close-on-exec at startup (libuv's
      // uv_disable_stdio_inheritance), so the slot must be made inheritable again, as libuv's
      // own spawn does. A slot the parent has closed stays closed (EBADF is fine).
      k::keep_across_exec(target);
    }
  }
}

/// execvpe's loop: go on to the next candidate when this one is missing or not allowed, and
/// report EACCES over ENOENT if any candidate was there but not executable.
fn exec(p: &Plan) -> ! {
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
      fail(p, Site::Execve, None, e);
    }
    saw_eacces |= e == libc::EACCES;
    errno = e;
  }
  fail(p, Site::Execve, None, if saw_eacces { libc::EACCES } else { errno })
}
