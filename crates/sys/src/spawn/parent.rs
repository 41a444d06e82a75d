//! The parent's half of a spawn: clone the child on a fresh stack, give it its user namespace
//! maps if it has one, and learn from the report pipe whether it reached execve.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::cgroup::CgroupDir;
use super::child;
use super::handshake::{Pipes, SharedReport};
use super::plan::Plan;
use super::spec::{Child, SpawnSpec};
use crate::clone::{clone3_into_cgroup_on, clone_on, BlockedSignals, Stack, STACK_SIZE};
use crate::error::{Error, Result};
use crate::ns_type::NsType;
use crate::step::Step;
use crate::this_thread;

pub fn spawn(spec: &SpawnSpec) -> Result<Child> {
  let plan = Plan::build(spec)?;
  let pipes = Pipes::new(plan.vfork(), plan.needs_handshake(), plan.first_free_fd())?;
  let stack = StackLease::take(plan.vfork())?;
  let plan = &plan;
  let mut args =
    child::Args { plan, pipes: pipes.child_ends(), report: SharedReport::default(), cgroup_procs: None };

  // SIGCHLD as the exit signal, though the pidfd is what tells us of the exit: execve sets a
  // child's exit signal back to SIGCHLD anyway (de_thread), so none other would outlast it.
  let mut flags = libc::CLONE_PIDFD | libc::SIGCHLD | plan.clone_ns_flags;
  if plan.share_memory {
    flags |= libc::CLONE_VM;
  }
  if plan.vfork() {
    // The parent sleeps until the child has exec'ed or exited, so the child may use its memory.
    flags |= libc::CLONE_VFORK;
  }

  // `cgroup`'s cgroup.procs when the child must write itself there (no clone3 into it here),
  // kept open until the child is done with it.
  let mut procs: Option<OwnedFd> = None;
  let (pid, pidfd, restored) = loop {
    let entered = enter_in_parent(&plan.parent_joins)?;
    let cloned = {
      let _blocked = BlockedSignals::all();
      let into_cgroup = plan.cgroup.as_ref().filter(|_| procs.is_none());
      // SAFETY: `child::main` obeys clone_on's contract (raw syscalls only, see child.rs). `args`,
      // `plan` and `stack` outlive the child's use of them: with CLONE_VFORK clone returns only
      // after the child exec'ed or exited; otherwise `Running` below, dropped before them, kills
      // and reaps the child on every early return, and the success path waits for EOF on the
      // report pipe, which comes after execve has replaced the child's memory.
      unsafe { clone_child(&stack, flags, into_cgroup, &args as *const child::Args<'_> as *mut libc::c_void) }
    };
    let restored = leave(entered);
    match cloned? {
      Some((pid, pidfd)) => break (pid, pidfd, restored),
      None => {
        // Opened here, out of the joined namespaces, as the plan would have opened it.
        restored?;
        let fd = plan.cgroup.as_ref().expect("only clone3 into a cgroup falls back").open_procs()?;
        args.cgroup_procs = Some(fd.as_raw_fd());
        procs = Some(fd);
      }
    }
  };
  let Some(pidfd) = pidfd else {
    return Err(Error::os(libc::EINVAL, "clone").step(Step::Clone));
  };
  // SAFETY: CLONE_PIDFD made the kernel store a new descriptor that nothing else owns.
  let running = Running { pidfd: Some(unsafe { OwnedFd::from_raw_fd(pidfd) }) };
  // A thread left in another namespace would put every later child of it (and itself) there.
  restored?;

  let pipes = pipes.into_parent();
  if plan.needs_handshake() {
    plan.id_maps.write_for(pid)?;
    pipes.go()?;
  }
  // With vfork the child is done by now, and its report (if any) is in `args`.
  let report = if plan.vfork() { args.report.take()? } else { pipes.read_report()? };
  if let Some(r) = report {
    let e = r.into_error();
    return Err(match plan.path_for(&r) {
      Some(p) => e.path(p),
      None => e,
    });
  }
  Ok(Child { pid, pidfd: running.keep() })
}

/// Clones the child running `child::main(arg)`: born in `cgroup` when there is one (clone3), else
/// with clone. `None` when clone3 into a cgroup is not available here (see `CgroupDir`).
///
/// # Safety
/// As for `clone_on`.
unsafe fn clone_child(
  stack: &Stack,
  flags: libc::c_int,
  cgroup: Option<&CgroupDir>,
  arg: *mut libc::c_void,
) -> Result<Option<(libc::pid_t, Option<i32>)>> {
  match cgroup {
    // SAFETY: forwarded from the caller.
    Some(cg) => match unsafe { clone3_into_cgroup_on(stack, flags, cg.fd(), child::main, arg) } {
      Err(e) if CgroupDir::clone3_missing(e.errno) => Ok(None),
      r => r.map(Some).map_err(|e| cg.refused(e)),
    },
    // SAFETY: forwarded from the caller.
    None => unsafe { clone_on(stack, flags, child::main, arg) }.map(Some).map_err(|e| e.step(Step::Clone)),
  }
}

thread_local! {
  /// The stack of this thread's last CLONE_VFORK child, kept for the next one: vfork returns only
  /// once the child has exec'ed or exited, so the stack is free again by then.
  static SPARE_STACK: std::cell::Cell<Option<Stack>> = const { std::cell::Cell::new(None) };
}

/// A child stack: for a vfork child this thread's spare, returned to it afterwards; otherwise a
/// fresh one, freed after the child's exec (a handshake child runs alongside the parent).
struct StackLease {
  stack: Option<Stack>,
  reuse: bool,
}

impl StackLease {
  fn take(reuse: bool) -> Result<StackLease> {
    let spare = if reuse { SPARE_STACK.with(|s| s.take()) } else { None };
    let stack = match spare {
      Some(s) => s,
      None => Stack::new(STACK_SIZE).map_err(|e| e.step(Step::Clone))?,
    };
    Ok(StackLease { stack: Some(stack), reuse })
  }
}

impl std::ops::Deref for StackLease {
  type Target = Stack;
  fn deref(&self) -> &Stack {
    self.stack.as_ref().expect("held until drop")
  }
}

impl Drop for StackLease {
  fn drop(&mut self) {
    if self.reuse {
      let s = self.stack.take();
      SPARE_STACK.with(|slot| slot.set(s));
    }
  }
}

/// A child that must not outlive a failed spawn: unless kept, it is killed and reaped on drop,
/// which is also what makes it safe to free the stack and plan it may still be using.
struct Running {
  pidfd: Option<OwnedFd>,
}

impl Running {
  fn keep(mut self) -> OwnedFd {
    self.pidfd.take().expect("kept once")
  }
}

impl Drop for Running {
  fn drop(&mut self) {
    if let Some(fd) = self.pidfd.take() {
      super::kill_and_reap(fd.as_fd());
    }
  }
}

/// Enters `joins` on the calling thread for the clone; what `leave` needs to come back. pid joins
/// only decide where the thread's next children are born; the others move the thread itself, for
/// the few microseconds of the clone, which is why this runs on the thread that clones (the JS
/// thread that called spawn, or the spawner thread standing in for it), never a pool thread.
fn enter_in_parent(joins: &[(i32, NsType)]) -> Result<Vec<this_thread::Saved>> {
  let mut saved = Vec::with_capacity(joins.len());
  for &(fd, t) in joins {
    // SAFETY: the caller of spawn keeps its join descriptors open for the whole call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    match this_thread::enter_fd(b, t) {
      Ok(s) => saved.push(s),
      Err(e) => {
        let _ = leave(saved);
        return Err(e.step(Step::Setns).ns(t));
      }
    }
  }
  Ok(saved)
}

/// Undoes `enter_in_parent`, last entered first.
fn leave(saved: Vec<this_thread::Saved>) -> Result<()> {
  let mut result = Ok(());
  for s in saved.into_iter().rev() {
    let t = s.ns_type();
    if let Err(e) = this_thread::restore(s) {
      result = result.and(Err(e.step(Step::Setns).ns(t)));
    }
  }
  result
}
