//! Which thread makes a socket inside a namespace. The calling thread itself, within the one
//! native call (`this_thread::visit`: enter, socket(2), back), wherever its way back is certain:
//! two setns and a socket, a few microseconds, where handing the socket over from another thread
//! cost more than the socket (a sleeping thread's wake-up, 10 us and more on a loaded machine).
//! Otherwise a short-lived thread of its own, which enters, makes the socket and ends, and so
//! needs no way back. That is the case of a process whose first net namespace is owned by a
//! parent user namespace (`unshare -U -r`, a container's init): it may enter a namespace it
//! created, but no thread of it could come back, not a persistent helper thread either.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result};
use crate::ns_type::NsType;
use crate::syscall;
use crate::this_thread;

/// Which thread made a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MakerKind {
  /// The calling thread, there and back within the call.
  Caller,
  /// A thread started for this socket alone.
  Throwaway,
}

pub(super) fn make(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<(OwnedFd, MakerKind)> {
  if let Some(made) = this_thread::visit(ns, NsType::Net, || syscall::socket(domain, ty, protocol)) {
    return made.and_then(|fd| fd).map(|fd| (fd, MakerKind::Caller));
  }
  throwaway(ns, domain, ty, protocol).map(|fd| (fd, MakerKind::Throwaway))
}

/// setns into `ns` and socket(2), on the calling thread (which must be one of ours).
fn inside(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  syscall::setns(ns, libc::CLONE_NEWNET).map_err(|e| e.ns(NsType::Net))?;
  syscall::socket(domain, ty, protocol)
}

fn throwaway(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  let raw = ns.as_raw_fd();
  this_thread::spawn_from_here("nsjs-socket", move || {
    // The thread moves for good; no signal of the process is for it.
    this_thread::block_signals();
    // SAFETY: the caller keeps the descriptor open until this thread has been joined.
    let ns = unsafe { BorrowedFd::borrow_raw(raw) };
    inside(ns, domain, ty, protocol)
  })?
  .join()
  .unwrap_or_else(|_| Err(Error::os(libc::EIO, "pthread_join")))
}
