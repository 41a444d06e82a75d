//! The way back: whether the calling thread, once in another namespace, could come back to the
//! one it is in now (which `run()` checks before it enters), and `visit`, which takes the thread
//! there and back within one native call where the way back is certain.

use std::os::fd::{AsFd, BorrowedFd};

use super::{moved, remember_back, where_now, BACK, MOVED_FOR_GOOD};
use crate::error::Result;
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;

/// capability(7) numbers.
const CAP_SYS_CHROOT: u32 = 18;
const CAP_SYS_ADMIN: u32 = 21;

/// Whether the calling thread, once in another namespace of `ty`, could come back to `home`,
/// where it is now; None when that could not be found out. setns into `home` needs CAP_SYS_ADMIN
/// in the caller's own user namespace (its effective set; for mnt CAP_SYS_CHROOT too) and over
/// the user namespace that owns `home`. Given the first, the second holds exactly when that owner
/// is the caller's user namespace or one below it, and that is when NS_GET_USERNS answers at
/// all: it refuses (EPERM) an owner outside the caller's scope (the kernel's ns_get_owner walks
/// the parents NS_GET_PARENT would). A process started in a user namespace of its own (`unshare
/// -U -r`) is the case it finds: its first namespaces are owned by the parent user namespace, so
/// it may enter a namespace it created but never come back.
fn way_back(ty: NsType, home: &NsHandle) -> Option<bool> {
  let needed = 1u64 << CAP_SYS_ADMIN | if ty == NsType::Mnt { 1u64 << CAP_SYS_CHROOT } else { 0 };
  if syscall::effective_caps().ok()? & needed != needed {
    return Some(false);
  }
  match home.owner() {
    Ok(_) => Some(true),
    Err(e) if e.errno == libc::EPERM => Some(false),
    Err(_) => None,
  }
}

/// `way_back` from where the thread is in `ty`, found once while nsjs knows where that is.
pub(super) fn back_from(ty: NsType, home: &NsHandle, kept: bool) -> Option<bool> {
  if let Some(b) = BACK.get()[ty.position()].filter(|_| kept) {
    return Some(b);
  }
  let back = way_back(ty, home);
  if kept {
    remember_back(ty, back);
  }
  back
}

/// Runs `f` with the calling thread in the namespace `fd` holds, all within this one call: the
/// thread enters, runs `f` and comes back, so nothing outside the call ever sees it elsewhere.
/// `f` must run nothing that could notice (no JS, no callback of the caller's). Only where the
/// way back is certain (`way_back`) and for types that carry no other thread state (net, uts,
/// ipc; not mnt with its root and cwd, nor pid, time, user); None otherwise, and the caller
/// uses a thread of its own. Off the main thread all signals are blocked meanwhile, with the raw
/// call: glibc's setxid signal, by which another thread's setuid() (Node's process.setuid, on
/// the main thread) would change this thread's credentials and so its way back, then waits until
/// the thread is back. The main thread itself is where Node changes credentials, so nothing can
/// meanwhile; a signal handler that runs there while it is away only writes to libuv's pipe.
pub fn visit<T>(fd: BorrowedFd<'_>, ty: NsType, f: impl FnOnce() -> T) -> Option<Result<T>> {
  if !matches!(ty, NsType::Net | NsType::Uts | NsType::Ipc) {
    return None;
  }
  let (home, kept) = where_now(ty, true).ok()?;
  if back_from(ty, &home, kept) != Some(true) {
    return None;
  }
  let mask = if super::is_main_thread() { None } else { Some(syscall::swap_signal_mask_raw(!0).ok()?) };
  let result = match syscall::setns(fd, ty.clone_flag()) {
    Err(e) => Err(e.ns(ty)),
    Ok(()) => {
      let out = f();
      match syscall::setns(home.as_fd(), ty.clone_flag()) {
        Ok(()) => Ok(out),
        Err(e) => {
          // Not expected after the check; the thread is then elsewhere for good, as after a join.
          moved(ty);
          MOVED_FOR_GOOD.set(true);
          Err(e.ns(ty).step(Step::Restore))
        }
      }
    }
  };
  if let Some(mask) = mask {
    // Cannot fail: the mask is one the kernel just gave back.
    let _ = syscall::swap_signal_mask_raw(mask);
  }
  Some(result)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::this_thread::tests::on_new_thread;

  #[test]
  fn visit_makes_a_socket_there_and_comes_back() {
    on_new_thread(|| {
      let home = NsHandle::current(NsType::Net).unwrap();
      let lab = crate::create::create(NsType::Net).unwrap();
      let made = visit(lab.as_fd(), NsType::Net, || syscall::socket(libc::AF_INET, libc::SOCK_STREAM, 0));
      let fd = made.unwrap().unwrap().unwrap();
      assert!(crate::socket::namespace_of(fd.as_fd()).unwrap().same_as(&lab));
      assert!(NsHandle::current(NsType::Net).unwrap().same_as(&home));
      assert_eq!(BACK.get()[NsType::Net.position()], Some(true), "found once, kept");
      assert!(super::super::unmoved());
    });
  }

  #[test]
  fn visit_refused_by_setns_leaves_the_thread_home() {
    on_new_thread(|| {
      let home = NsHandle::current(NsType::Net).unwrap();
      let uts = NsHandle::current(NsType::Uts).unwrap();
      let e = visit(uts.as_fd(), NsType::Net, || ()).unwrap().unwrap_err();
      assert_eq!((e.errno, e.syscall, e.step), (libc::EINVAL, "setns", None));
      assert!(NsHandle::current(NsType::Net).unwrap().same_as(&home));
    });
  }

  #[test]
  fn visit_leaves_types_with_more_thread_state_to_others() {
    let mnt = NsHandle::current(NsType::Mnt).unwrap();
    assert!(visit(mnt.as_fd(), NsType::Mnt, || ()).is_none());
  }
}
