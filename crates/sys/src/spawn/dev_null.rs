//! /dev/null for the children's 'ignore' slots, kept open per spawning thread instead of opened
//! and closed for every spawn (the open and the close were about 7 us of a sequential spawn's
//! parent CPU, a twentieth of it). The parent opens it, not the child: a child may no longer
//! see our /dev/null once it has changed root or joined another mount namespace.
//!
//! One descriptor per thread that spawned with an 'ignore' slot (the JS thread, the spawner
//! thread, a worker), CLOEXEC, closed when that thread ends. `kept()` names them, so that a leak
//! check can tell them from descriptors a spawn left behind. Before each use it is checked to
//! be still ours (fstat: the same device and inode): code that closes descriptors it does not
//! own could have closed it, and the number may name another file by now, which a child must
//! never get as its stdin.

use std::cell::RefCell;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use crate::error::Result;
use crate::syscall;

/// Every thread's kept descriptor, for `kept()`.
static KEPT: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

struct Kept {
  fd: OwnedFd,
  dev: u64,
  ino: u64,
}

/// This thread's; unlisted and closed when the thread ends.
struct Slot(Option<Kept>);

impl Drop for Slot {
  fn drop(&mut self) {
    if let Some(k) = self.0.take() {
      forget_number(k.fd.as_raw_fd());
      // Closed only if still ours: that number may be another file's by now (see `fd`).
      if !k.still_ours() {
        let _ = k.fd.into_raw_fd();
      }
    }
  }
}

impl Kept {
  fn still_ours(&self) -> bool {
    matches!(syscall::fstat(self.fd.as_fd()), Ok(id) if id.dev == self.dev && id.ino == self.ino)
  }
}

thread_local! {
  static SLOT: RefCell<Slot> = const { RefCell::new(Slot(None)) };
}

fn forget_number(fd: RawFd) {
  KEPT.lock().unwrap_or_else(|p| p.into_inner()).retain(|&k| k != fd);
}

/// This thread's /dev/null, opened on first use (read and write), valid until the thread ends.
pub fn fd() -> Result<RawFd> {
  SLOT.with(|slot| {
    let mut slot = slot.borrow_mut();
    if let Some(k) = &slot.0 {
      if k.still_ours() {
        return Ok(k.fd.as_raw_fd());
      }
      // Closed behind our back, and perhaps reused: that number is not ours to close.
      let gone = slot.0.take().expect("checked above");
      forget_number(gone.fd.as_raw_fd());
      let _ = gone.fd.into_raw_fd();
    }
    let fd = syscall::open("/dev/null", libc::O_RDWR, 0)?;
    let id = syscall::fstat(fd.as_fd())?;
    let raw = fd.as_raw_fd();
    KEPT.lock().unwrap_or_else(|p| p.into_inner()).push(raw);
    slot.0 = Some(Kept { fd, dev: id.dev, ino: id.ino });
    Ok(raw)
  })
}

/// The descriptors kept open here, one per thread that spawned with an 'ignore' slot.
pub fn kept() -> Vec<RawFd> {
  KEPT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn one_per_thread_listed_and_closed_with_it() {
    let (a, b) = (fd().unwrap(), fd().unwrap());
    assert_eq!(a, b, "kept, not reopened");
    let other = std::thread::spawn(|| {
      let fd = fd().unwrap();
      assert!(kept().contains(&fd));
      fd
    })
    .join()
    .unwrap();
    assert_ne!(other, a);
    assert!(kept().contains(&a));
    assert!(!kept().contains(&other), "the thread's is unlisted when it ends");
    assert!(std::fs::read_link(format!("/proc/self/fd/{a}")).unwrap().ends_with("null"));
  }

  #[test]
  fn a_thread_ending_leaves_a_reused_number_alone() {
    let other = std::thread::spawn(|| {
      let mine = fd().unwrap();
      // SAFETY: the test closes its thread's kept descriptor on purpose, as careless code would.
      unsafe { libc::close(mine) };
      let file = syscall::open("/proc/self/stat", libc::O_RDONLY, 0).unwrap();
      (mine, file)
    });
    let (mine, file) = other.join().unwrap();
    if file.as_raw_fd() == mine {
      // The thread's end did not close it (std aborts a debug build on closing an owned fd twice).
      assert!(syscall::fstat(file.as_fd()).is_ok());
    }
    assert!(!kept().contains(&mine));
  }

  #[test]
  fn a_descriptor_closed_behind_our_back_is_not_used_again() {
    std::thread::spawn(|| {
      let first = fd().unwrap();
      // SAFETY: the test closes its own thread's kept descriptor on purpose, as careless code
      // would, and puts another file at that number.
      unsafe { libc::close(first) };
      let other = syscall::open("/proc/self/stat", libc::O_RDONLY, 0).unwrap();
      let again = fd().unwrap();
      assert_ne!(again, other.as_raw_fd(), "never the file now at a reused number");
      assert!(std::fs::read_link(format!("/proc/self/fd/{again}")).unwrap().ends_with("null"));
      let still = std::fs::read_link(format!("/proc/self/fd/{}", other.as_raw_fd())).unwrap();
      assert!(still.ends_with("stat"), "and that file is left open: {still:?}");
    })
    .join()
    .unwrap();
  }
}
