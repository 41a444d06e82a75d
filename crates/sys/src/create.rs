//! New namespaces that the caller does not move into: made on a short-lived thread (or, for a
//! user namespace, in a short-lived child process) and handed back as a handle.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use crate::clone::{clone_on, BlockedSignals, Stack};
use crate::error::{Error, Result, Rule};
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::syscall::{self, raw};
use crate::this_thread;

/// A new namespace of type `ty`, held only by the returned handle. The calling thread is not
/// moved.
///
/// A user namespace cannot be unshared by a multithreaded process, and a pid namespace cannot be
/// opened before it has an init (pid_for_children reads as ENOENT until then), so both are made
/// by a short-lived child born in them. When that init exits the kernel closes the pid namespace
/// to new processes: the handle still identifies it (`parent()`, `owner()`), but running
/// processes in a new pid namespace is `spawn({ unshare: ['pid'] })`'s job.
pub fn create(ty: NsType) -> Result<NsHandle> {
  create_where(ty, false)
}

/// `create` for a caller on a thread that exists only for this and ends right after (the async
/// twin's): it unshares that very thread instead of starting another one.
pub fn create_on_throwaway_thread(ty: NsType) -> Result<NsHandle> {
  create_where(ty, true)
}

fn create_where(ty: NsType, this_thread: bool) -> Result<NsHandle> {
  if !ty.supported() {
    return Err(Error::rule(Rule::Unsupported, "unshare").ns(ty));
  }
  match ty {
    NsType::User | NsType::Pid => create_in_child(ty),
    NsType::Mnt => create_mnt(),
    _ if this_thread => unshare_here(ty),
    _ => on_thread(ty, None),
  }
}

fn unshare_here(ty: NsType) -> Result<NsHandle> {
  this_thread::unshare(&[ty])?;
  NsHandle::current_for_children(ty)
}

/// unshare(2) of `ty` on a short-lived thread (pinned to `cpu` if given) and a handle on the result.
fn on_thread(ty: NsType, cpu: Option<usize>) -> Result<NsHandle> {
  this_thread::spawn_from_here("nsjs-create", move || {
    if let Some(cpu) = cpu {
      syscall::pin_to_cpu(cpu)?;
    }
    unshare_here(ty)
  })?
  .join()
  .unwrap_or_else(|_| Err(Error::os(libc::EIO, "pthread_join")))
}

/// A mount namespace that the caller's mount namespace can persist. The kernel refuses to mount a
/// mount namespace file whose id is not above the id of the mount namespace doing it (its loop
/// check), and Linux 6.x hands out those ids in per-CPU batches, so one made on another CPU than
/// the caller's own was made on can come out lower. Where the kernel tells ids (6.8), a namespace
/// that would be refused is made again on each CPU in turn: one of them has the higher batch.
fn create_mnt() -> Result<NsHandle> {
  let first = on_thread(NsType::Mnt, None)?;
  let Ok(mine) = NsHandle::current(NsType::Mnt)?.mnt_ns_id() else { return Ok(first) };
  if first.mnt_ns_id().is_ok_and(|id| id > mine) {
    return Ok(first);
  }
  for cpu in 0..syscall::online_cpus() {
    // A CPU this process may not use (cpuset, offline) refuses the pin: try the next.
    let Ok(again) = on_thread(NsType::Mnt, Some(cpu)) else { continue };
    if again.mnt_ns_id().is_ok_and(|id| id > mine) {
      return Ok(again);
    }
  }
  Ok(first)
}

struct HoldArgs {
  read_end: i32,
}

/// Child of `create_in_child`: waits until the parent has taken its user namespace, then exits.
extern "C" fn hold(arg: *mut libc::c_void) -> libc::c_int {
  // SAFETY: `arg` points to the parent's HoldArgs, alive until this child is reaped.
  let a = unsafe { &*(arg as *const HoldArgs) };
  let mut byte = 0u8;
  // Wait for a byte, not for EOF: a child cloned at the same time by another thread holds a copy
  // of our write end. If the parent dies, its PDEATHSIG-less child still gets EOF once every
  // copy is gone.
  // SAFETY: a raw read on a descriptor this child inherited into a local byte.
  unsafe { raw::call(libc::SYS_read, &[a.read_end as usize, &mut byte as *mut u8 as usize, 1]) };
  0
}

fn create_in_child(ty: NsType) -> Result<NsHandle> {
  let (r, w): (OwnedFd, OwnedFd) = syscall::pipe()?;
  let args = HoldArgs { read_end: r.as_raw_fd() };
  let stack = Stack::new(16 * 1024)?;
  let (pid, _) = {
    // The child shares our memory and runs beside us: with every signal blocked it inherits that
    // mask, so no handler of ours can ever run on its stack.
    let _blocked = BlockedSignals::all();
    // SAFETY: `hold` only makes raw syscalls; `args` and `stack` outlive the child, which is
    // reaped below (killed first if it cannot be told to exit) before either is dropped.
    unsafe {
      clone_on(&stack, libc::CLONE_VM | ty.clone_flag() | libc::SIGCHLD, hold, &args as *const _ as *mut _)
    }
  }
  .map_err(|e| e.ns(ty))?;
  let handle = NsHandle::open_path(&format!("/proc/{pid}/ns/{}", ty.name()), Some(ty));
  if syscall::write_all(w.as_fd(), b"x").is_err() {
    // It must not outlive its stack: without the byte it would wait until our pipe closes.
    // SAFETY: signalling our own child, not yet reaped, so the pid is still its.
    unsafe { libc::kill(pid, libc::SIGKILL) };
  }
  syscall::waitpid(pid)?;
  drop(stack);
  handle
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn creates_each_type_without_moving_the_caller() {
    for t in NsType::ALL {
      let before = NsHandle::current(t).unwrap();
      let fresh = create(t).unwrap();
      assert_eq!(fresh.ns_type(), t);
      assert!(!fresh.same_as(&before), "{}", t.name());
      assert!(NsHandle::current(t).unwrap().same_as(&before), "{} moved the caller", t.name());
    }
  }

  #[test]
  fn created_mnt_ns_is_newer_than_ours_so_it_can_be_persisted() {
    // The caller's mount namespace made on one CPU, create() called from another: ids come in
    // per-CPU batches, so for one of the pairs a namespace made where the caller runs is older.
    let cpus = syscall::online_cpus();
    for (made_on, runs_on) in (0..cpus).flat_map(|a| (0..cpus).map(move |b| (a, b))) {
      std::thread::spawn(move || {
        syscall::pin_to_cpu(made_on).unwrap();
        this_thread::unshare(&[NsType::Mnt]).unwrap();
        let Ok(mine) = NsHandle::current(NsType::Mnt).unwrap().mnt_ns_id() else { return }; // before 6.8
        syscall::pin_to_cpu(runs_on).unwrap();
        for _ in 0..5 {
          assert!(
            create(NsType::Mnt).unwrap().mnt_ns_id().unwrap() > mine,
            "made on cpu {made_on}, created from cpu {runs_on}"
          );
        }
      })
      .join()
      .unwrap();
    }
  }

  #[test]
  fn created_user_ns_is_owned_by_us() {
    let u = create(NsType::User).unwrap();
    assert_eq!(u.owner_uid().unwrap(), unsafe_free_geteuid());
    assert!(u.parent().unwrap().same_as(&NsHandle::current(NsType::User).unwrap()));
  }

  fn unsafe_free_geteuid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
      .unwrap()
      .lines()
      .find_map(|l| l.strip_prefix("Uid:"))
      .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
      .unwrap()
  }
}
