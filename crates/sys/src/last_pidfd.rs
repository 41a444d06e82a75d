//! The pidfd of the process whose namespaces this thread opened last, kept for the next open of
//! the same pid instead of opened and closed for every one: pidfd_open and the close of the
//! pidfd were most of what `Namespace.open(pid)` cost (about 8 of 10 us here, against 2 for the
//! PIDFD_GET_*_NAMESPACE ioctl itself).
//!
//! Still safe against pid reuse: while that process lives its pid cannot be reused, and once it
//! has exited (a zombie too) the ioctl fails with ESRCH, after which the caller is given a fresh
//! pidfd for whatever process has the pid now. Permission is the ioctl's to check, on every call.
//! Before each use the descriptor is checked to be still ours (fstat: pidfs gives each process
//! its own inode, Linux 6.9): code that closes descriptors it does not own could have closed it,
//! and that number may now be another pidfd, another process's. So it is kept only on pidfs; on
//! older kernels every pidfd shares one anonymous inode and the check would prove nothing.
//!
//! One descriptor per thread that opened by pid, CLOEXEC, replaced by the next pid's and closed
//! when the thread ends; `kept()` names them, for leak checks.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use crate::error::Result;
use crate::syscall;

/// pidfs's filesystem magic ("PIDF").
const PIDFS_MAGIC: i64 = 0x5049_4446;

/// Every thread's kept pidfd, for `kept()`.
static KEPT: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

struct Kept {
  pid: i32,
  fd: OwnedFd,
  dev: u64,
  ino: u64,
}

impl Kept {
  fn still_ours(&self) -> bool {
    matches!(syscall::fstat(self.fd.as_fd()), Ok(id) if id.dev == self.dev && id.ino == self.ino)
  }

  /// Unlisted, and closed only if the number is still ours.
  fn release(self) {
    KEPT.lock().unwrap_or_else(|p| p.into_inner()).retain(|&k| k != self.fd.as_raw_fd());
    if !self.still_ours() {
      let _ = self.fd.into_raw_fd();
    }
  }
}

/// This thread's; released when the thread ends.
struct Slot(Option<Kept>);

impl Drop for Slot {
  fn drop(&mut self) {
    if let Some(k) = self.0.take() {
      k.release();
    }
  }
}

thread_local! {
  static SLOT: RefCell<Slot> = const { RefCell::new(Slot(None)) };
}

/// `f` through a pidfd for process `pid`: the kept one when it is that pid's and still ours, or
/// a fresh one from `open` (kept afterwards when `f` succeeded). An ESRCH from `f` through the
/// kept one means that process is gone: `f` is then tried once more through a fresh pidfd.
pub fn through<T>(
  pid: i32,
  open: impl FnOnce() -> Result<OwnedFd>,
  mut f: impl FnMut(BorrowedFd<'_>) -> Result<T>,
) -> Result<T> {
  let kept = SLOT.with(|slot| {
    let mut slot = slot.borrow_mut();
    match &slot.0 {
      Some(k) if k.pid == pid && k.still_ours() => slot.0.take(),
      Some(_) => {
        slot.0.take().expect("matched above").release();
        None
      }
      None => None,
    }
  });
  if let Some(k) = kept {
    let done = f(k.fd.as_fd());
    if !matches!(&done, Err(e) if e.errno == libc::ESRCH) {
      SLOT.with(|slot| slot.borrow_mut().0 = Some(k));
      return done;
    }
    k.release();
  }
  let fd = open()?;
  let done = f(fd.as_fd())?;
  keep(pid, fd);
  Ok(done)
}

fn keep(pid: i32, fd: OwnedFd) {
  if syscall::fstatfs_type(fd.as_fd()).ok() != Some(PIDFS_MAGIC) {
    return;
  }
  let Ok(id) = syscall::fstat(fd.as_fd()) else { return };
  KEPT.lock().unwrap_or_else(|p| p.into_inner()).push(fd.as_raw_fd());
  let old = SLOT.with(|slot| slot.borrow_mut().0.replace(Kept { pid, fd, dev: id.dev, ino: id.ino }));
  if let Some(old) = old {
    old.release();
  }
}

/// The pidfds kept open here, one per thread that opened namespaces by pid.
pub fn kept() -> Vec<RawFd> {
  KEPT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::Error;

  fn fresh(pid: i32) -> impl FnOnce() -> Result<OwnedFd> {
    move || syscall::pidfd_open(pid)
  }

  #[test]
  fn kept_for_the_same_pid_and_replaced_by_another() {
    let me = std::process::id() as i32;
    let first = through(me, fresh(me), |fd| Ok(fd.as_raw_fd())).unwrap();
    assert!(kept().contains(&first));
    let again = through(me, || panic!("the kept pidfd is used"), |fd| Ok(fd.as_raw_fd())).unwrap();
    assert_eq!(first, again);
    // Another pid: a child of ours, alive meanwhile.
    let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
    let pid = child.id() as i32;
    let other = through(pid, fresh(pid), |fd| Ok(fd.as_raw_fd())).unwrap();
    assert!(kept().contains(&other));
    SLOT.with(|slot| {
      assert_eq!(slot.borrow().0.as_ref().map(|k| k.pid), Some(pid), "one kept, the last pid's")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // That process is gone: ESRCH through the kept pidfd leads to a fresh one (which fails too,
    // since nothing has the pid now), and the gone one is released.
    let mut calls = 0;
    let gone = through(pid, fresh(pid), |fd| {
      calls += 1;
      syscall::pidfd_send_signal(fd, 0).map(|_| ())
    });
    assert_eq!(gone.unwrap_err().errno, libc::ESRCH);
    assert_eq!(calls, 1, "the kept pidfd was tried; pidfd_open of the reaped pid failed");
    // (Not by number: released, it may be another thread's kept pidfd by now.)
    SLOT.with(|slot| assert!(slot.borrow().0.is_none(), "the gone process's pidfd was released"));
  }

  #[test]
  fn a_failure_through_a_fresh_pidfd_keeps_nothing() {
    let me = std::process::id() as i32;
    std::thread::spawn(move || {
      let r: Result<()> = through(me, fresh(me), |_| Err(Error::os(libc::EPERM, "ioctl")));
      assert_eq!(r.unwrap_err().errno, libc::EPERM);
      SLOT.with(|slot| assert!(slot.borrow().0.is_none()));
    })
    .join()
    .unwrap();
  }

  #[test]
  fn a_number_closed_behind_our_back_is_not_used_again() {
    let me = std::process::id() as i32;
    std::thread::spawn(move || {
      let fd = through(me, fresh(me), |fd| Ok(fd.as_raw_fd())).unwrap();
      // Someone closes it and the number goes to another file: in one step (dup3 over it), since
      // a number closed here could go to another test's thread before we reopened it.
      let other = syscall::open("/dev/null", libc::O_RDONLY, 0).unwrap();
      // SAFETY: `fd` is open (the kept pidfd); dup3 atomically makes it name /dev/null instead.
      assert_eq!(unsafe { libc::dup3(other.as_raw_fd(), fd, libc::O_CLOEXEC) }, fd);
      let mut opened = false;
      let used = through(
        me,
        || {
          opened = true;
          syscall::pidfd_open(me)
        },
        |fd| Ok(fd.as_raw_fd()),
      )
      .unwrap();
      assert!(opened, "a fresh pidfd, not the reused number");
      assert_ne!(used, fd);
      assert!(!kept().contains(&fd), "unlisted, and left open: that number is not ours now");
      syscall::close_fd(fd).unwrap();
      drop(other);
    })
    .join()
    .unwrap();
  }

  #[test]
  fn released_when_the_thread_ends() {
    // A process of this test's own, so that its pidfd's inode is no other test's: other threads
    // may get the released number meanwhile, for their own pidfds.
    let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
    let pid = child.id() as i32;
    let id = std::thread::spawn(move || {
      through(pid, fresh(pid), |fd| syscall::fstat(fd).map(|id| (id.dev, id.ino))).unwrap()
    })
    .join()
    .unwrap();
    let still_kept = kept().into_iter().any(|fd| {
      // SAFETY: only fstat'ed; a number closed meanwhile just fails the fstat.
      let fd = unsafe { BorrowedFd::borrow_raw(fd) };
      matches!(syscall::fstat(fd), Ok(k) if (k.dev, k.ino) == id)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!still_kept, "no kept pidfd of that process once its thread has ended");
  }
}
