//! Sockets inside a network namespace, without the caller ever seeing its thread elsewhere. A
//! socket's namespace is fixed by socket(2); after that any thread may bind, connect, read and
//! write it. So only socket(2) runs inside: on the calling thread within the one native call
//! (enter, socket, back) where its way back is certain, else on a short-lived thread of its own
//! (`maker`). Binding (`addr`) then happens on the calling thread.
//!
//! - `maker`: which thread makes the socket.
//! - `addr`: socket addresses (IP and port, unix path or abstract name), bind and getsockname.
//! - `resolve`: getaddrinfo inside a namespace, with /etc/netns/<name> as `ip netns exec` has it.
//! - `nsid`: the id a net namespace knows another by (rtnetlink, lsns's NETNSID).

pub mod addr;
mod maker;
mod nsid;
pub mod resolve;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::error::{Error, Result, Rule};
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::syscall;
use addr::{Address, BindOptions};

pub use maker::MakerKind;
pub use nsid::nsid_of;

/// SIOCGSKNS (linux/sockios.h): a descriptor for the net namespace a socket was made in.
const SIOCGSKNS: libc::c_ulong = 0x894C;

/// A new socket made inside the net namespace `ns` holds (close-on-exec, non-blocking), whatever
/// namespace the calling thread is in; when the call returns the thread is where it was.
pub fn socket_in(ns: &NsHandle, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  socket_in_traced(ns, domain, ty, protocol).map(|(fd, _)| fd)
}

/// `socket_in`, also saying which thread made it (for tests and the benchmark).
pub fn socket_in_traced(ns: &NsHandle, domain: i32, ty: i32, protocol: i32) -> Result<(OwnedFd, MakerKind)> {
  if ns.ns_type() != NsType::Net {
    return Err(Error::rule(Rule::TypeMismatch, "socket").ns(ns.ns_type()).expected(NsType::Net));
  }
  maker::make(ns.as_fd(), domain, ty, protocol)
}

/// `socket_in`, then bound to `addr` on the calling thread: what a listening or datagram socket
/// needs, in one call. Returns the address it is bound to: for IP the kernel's (the port it chose
/// for 0), for unix the one asked for.
pub fn bound_socket_in(
  ns: &NsHandle,
  ty: i32,
  addr: &Address,
  opts: BindOptions,
) -> Result<(OwnedFd, Address)> {
  let fd = socket_in(ns, addr.domain(), ty, 0)?;
  let bound = match addr {
    Address::Inet(_) => addr::bind(fd.as_fd(), addr, opts)?,
    Address::Unix(_) => addr::bind_only(fd.as_fd(), addr, opts).map(|()| addr.clone())?,
  };
  Ok((fd, bound))
}

/// The net namespace the socket `fd` lives in (SIOCGSKNS, Linux 4.9), as a new handle.
pub fn namespace_of(fd: BorrowedFd<'_>) -> Result<NsHandle> {
  let ns = syscall::ioctl_fd(fd, SIOCGSKNS, "ioctl")?;
  NsHandle::from_owned(ns, Some(NsType::Net))
}

#[cfg(test)]
mod tests;
