//! Socket messages that carry descriptors (SCM_RIGHTS) on a Unix stream socket: what Node's IPC
//! channel is. Both calls are non-blocking (MSG_DONTWAIT), whatever the descriptor's own flag,
//! and take descriptor numbers as JS holds them (a closed one is EBADF, nothing worse).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

/// The most descriptors taken from one message; a peer that attaches more loses the rest (the
/// kernel closes them and sets MSG_CTRUNC). Node attaches one.
pub const MAX_FDS: usize = 16;

/// Room for the control message of `MAX_FDS` descriptors, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; 128]);

/// What one `recv_with_fds` returned: bytes (none at end of stream) and the descriptors that came
/// with the first of them.
pub struct Received {
  pub len: usize,
  pub fds: Vec<OwnedFd>,
}

/// One `recvmsg(2)` into `buf` with MSG_DONTWAIT and MSG_CMSG_CLOEXEC: `None` when nothing is
/// waiting (EAGAIN), `len` 0 at end of stream. Every descriptor that arrives is returned owned,
/// so none can leak.
pub fn recv_with_fds(fd: RawFd, buf: &mut [u8]) -> Result<Option<Received>> {
  let mut control = Control([0; 128]);
  let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
  // SAFETY: an all-zero msghdr is a valid value of this plain C struct.
  let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.0.as_mut_ptr().cast();
  msg.msg_controllen = control.0.len() as _;
  let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
  // SAFETY: `msg` points at `iov` (valid for `buf.len()` writable bytes) and at `control`
  // (valid for its length); all three outlive the call.
  let n = unsafe { libc::recvmsg(fd, &mut msg, flags) };
  if n < 0 {
    let e = Error::last("recvmsg");
    return if e.errno == libc::EAGAIN { Ok(None) } else { Err(e) };
  }
  let mut fds = Vec::new();
  // SAFETY: `msg` was filled by the kernel: CMSG_FIRSTHDR/NXTHDR walk its control buffer within
  // `msg_controllen`, and each SCM_RIGHTS header is followed by that many ints, which are
  // descriptors now ours (read unaligned: CMSG_DATA is not guaranteed aligned for i32).
  unsafe {
    let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
    while !cmsg.is_null() {
      if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
        let data = libc::CMSG_DATA(cmsg);
        let count = ((*cmsg).cmsg_len as usize - (data as usize - cmsg as usize)) / size_of::<RawFd>();
        for i in 0..count {
          let raw = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
          fds.push(OwnedFd::from_raw_fd(raw));
        }
      }
      cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
    }
  }
  Ok(Some(Received { len: n as usize, fds }))
}

/// One `sendmsg(2)` of `bytes` with MSG_DONTWAIT and MSG_NOSIGNAL, with `attach` (if any) as
/// SCM_RIGHTS on the same message, so the peer receives it with the first of these bytes: how
/// many bytes went (at least one when a descriptor went), or `None` when the socket is full.
pub fn send_with_fd(fd: RawFd, bytes: &[u8], attach: Option<RawFd>) -> Result<Option<usize>> {
  let mut control = Control([0; 128]);
  let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
  // SAFETY: an all-zero msghdr is a valid value of this plain C struct.
  let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
  msg.msg_iov = &mut iov;
  msg.msg_iovlen = 1;
  if let Some(attach) = attach {
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic; the header written is within `control`, whose
    // 128 bytes hold CMSG_SPACE of one int; CMSG_DATA points inside it (written unaligned).
    unsafe {
      let space = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as usize;
      msg.msg_control = control.0.as_mut_ptr().cast();
      msg.msg_controllen = space as _;
      let cmsg = libc::CMSG_FIRSTHDR(&msg);
      (*cmsg).cmsg_level = libc::SOL_SOCKET;
      (*cmsg).cmsg_type = libc::SCM_RIGHTS;
      (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
      std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), attach);
    }
  }
  let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
  // SAFETY: `msg` points at `iov` (valid for `bytes.len()` readable bytes; sendmsg does not
  // write through it) and at `control` when set; all outlive the call.
  let n = unsafe { libc::sendmsg(fd, &msg, flags) };
  if n < 0 {
    let e = Error::last("sendmsg");
    return if e.errno == libc::EAGAIN { Ok(None) } else { Err(e) };
  }
  Ok(Some(n as usize))
}

/// Closes descriptor `fd`, which JS holds (a channel's, or one that arrived on it), without going
/// through node:fs (which, on a worker thread, warns about descriptors it did not open itself).
pub fn close_fd(fd: RawFd) -> Result<()> {
  // SAFETY: closing a number is memory-safe; the caller owns the descriptor and forgets it.
  if unsafe { libc::close(fd) } < 0 {
    return Err(Error::last("close"));
  }
  Ok(())
}

/// What a received descriptor is, to rebuild the handle a peer sent as its native form: whether
/// it listens (SO_ACCEPTCONN) and its family (SO_DOMAIN: AF_INET, AF_INET6, AF_UNIX).
pub fn socket_shape(fd: RawFd) -> Result<(bool, i32)> {
  let get = |name: libc::c_int| -> Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a writable c_int and `len` its size, both valid for the call.
    let r =
      unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, name, (&mut value as *mut i32).cast(), &mut len) };
    if r < 0 {
      return Err(Error::last("getsockopt"));
    }
    Ok(value)
  };
  Ok((get(libc::SO_ACCEPTCONN)? != 0, get(libc::SO_DOMAIN)?))
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::syscall::{fstat, socketpair};
  use std::os::fd::{AsFd, AsRawFd};

  #[test]
  fn a_descriptor_arrives_with_the_first_byte_of_its_message() {
    let (a, b) = socketpair().unwrap();
    let (p, _q) = socketpair().unwrap();
    assert_eq!(send_with_fd(a.as_raw_fd(), b"plain;", None).unwrap(), Some(6));
    assert_eq!(send_with_fd(a.as_raw_fd(), b"handle;", Some(p.as_raw_fd())).unwrap(), Some(7));
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    let mut fds = Vec::new();
    while let Some(r) = recv_with_fds(b.as_raw_fd(), &mut buf).unwrap() {
      if !r.fds.is_empty() {
        fds.push((got.len(), r.fds));
      }
      got.extend_from_slice(&buf[..r.len]);
    }
    assert_eq!(got, b"plain;handle;");
    assert_eq!(fds.len(), 1);
    let (at, received) = &fds[0];
    assert!(*at <= 6, "the descriptor comes with a read that holds the start of 'handle;'");
    assert_eq!(received.len(), 1);
    let (x, y) = (fstat(received[0].as_fd()).unwrap(), fstat(p.as_fd()).unwrap());
    assert_eq!((x.dev, x.ino), (y.dev, y.ino), "the same socket");
    // SAFETY: F_GETFD reads the flags of an open descriptor.
    let flags = unsafe { libc::fcntl(received[0].as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
  }

  #[test]
  fn a_socket_pair_is_a_connected_unix_socket() {
    let (a, _b) = socketpair().unwrap();
    assert_eq!(socket_shape(a.as_raw_fd()).unwrap(), (false, libc::AF_UNIX));
    assert!(socket_shape(-1).is_err());
  }

  #[test]
  fn nothing_waiting_and_end_of_stream() {
    let (a, b) = socketpair().unwrap();
    let mut buf = [0u8; 8];
    assert!(recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().is_none());
    // Shut down, not only closed: a child another test clones meanwhile holds a copy of `a`
    // until it execs, and the peer's end is not closed while a copy is open.
    // SAFETY: shutdown of an open socket of ours; it touches no memory.
    assert_eq!(unsafe { libc::shutdown(a.as_raw_fd(), libc::SHUT_RDWR) }, 0);
    drop(a);
    assert_eq!(recv_with_fds(b.as_raw_fd(), &mut buf).unwrap().map(|r| r.len), Some(0));
    assert!(send_with_fd(b.as_raw_fd(), b"x", None).is_err(), "EPIPE, without SIGPIPE");
  }
}
