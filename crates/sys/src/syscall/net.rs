//! Sockets: socket(2) with close-on-exec and non-blocking always added, socket options, bind and
//! getsockname on the addresses `crate::socket::addr` builds.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::{check, owned};
use crate::error::Result;

/// `socket(2)` with SOCK_CLOEXEC and SOCK_NONBLOCK always added (Node's handles expect a
/// non-blocking descriptor, and nothing nsjs makes leaks into a child).
pub fn socket(domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  // SAFETY: plain syscall with integer arguments.
  owned(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, protocol) }, "socket")
}

/// `setsockopt(2)` of an int-valued option.
pub fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> Result<()> {
  let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
  // SAFETY: the option value is a valid c_int for the duration of the call, `len` its size.
  check(
    unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (&value as *const i32).cast(), len) },
    "setsockopt",
  )
  .map(drop)
}

/// `bind(2)` on an address of `len` bytes held in `addr`.
pub fn bind(fd: BorrowedFd<'_>, addr: &libc::sockaddr_storage, len: libc::socklen_t) -> Result<()> {
  // SAFETY: `addr` is valid for reads of `len` bytes (len <= size_of sockaddr_storage).
  check(unsafe { libc::bind(fd.as_raw_fd(), (addr as *const libc::sockaddr_storage).cast(), len) }, "bind")
    .map(drop)
}

/// `getsockname(2)`: the address the socket is bound to.
pub fn getsockname(fd: BorrowedFd<'_>) -> Result<(libc::sockaddr_storage, libc::socklen_t)> {
  // SAFETY: an all-zero sockaddr_storage is a valid value of this plain C struct.
  let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
  let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
  // SAFETY: `addr` is writable for `len` bytes and `len` is a valid in/out length.
  check(
    unsafe { libc::getsockname(fd.as_raw_fd(), (&mut addr as *mut libc::sockaddr_storage).cast(), &mut len) },
    "getsockname",
  )?;
  Ok((addr, len))
}

/// `getaddrinfo(3)` for addresses only (SOCK_STREAM, as Node asks, so each address comes once):
/// the addresses in the resolver's order, or the EAI_* code (negative) it failed with, and for
/// EAI_SYSTEM the errno.
pub fn getaddrinfo(
  host: &str,
  family: i32,
  flags: i32,
) -> std::result::Result<Vec<std::net::IpAddr>, (i32, i32)> {
  use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
  let Ok(node) = std::ffi::CString::new(host) else { return Err((libc::EAI_NONAME, 0)) };
  // SAFETY: an all-zero addrinfo is a valid value of this plain C struct (null pointers).
  let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
  hints.ai_family = family;
  hints.ai_flags = flags;
  hints.ai_socktype = libc::SOCK_STREAM;
  let mut res: *mut libc::addrinfo = std::ptr::null_mut();
  // SAFETY: `node` and `hints` are valid for the call; `res` receives a list we free below.
  let rc = unsafe { libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &hints, &mut res) };
  if rc != 0 {
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    return Err((rc, if rc == libc::EAI_SYSTEM { errno } else { 0 }));
  }
  let mut out = Vec::new();
  let mut p = res;
  while !p.is_null() {
    // SAFETY: `p` is a node of the list getaddrinfo returned, not yet freed.
    let ai = unsafe { &*p };
    let ip = match ai.ai_family {
      // SAFETY: for AF_INET the kernel/glibc stored a sockaddr_in at ai_addr.
      libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::from(
        unsafe { (*ai.ai_addr.cast::<libc::sockaddr_in>()).sin_addr.s_addr }.to_ne_bytes(),
      ))),
      // SAFETY: for AF_INET6 a sockaddr_in6 is stored at ai_addr.
      libc::AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(unsafe {
        (*ai.ai_addr.cast::<libc::sockaddr_in6>()).sin6_addr.s6_addr
      }))),
      _ => None,
    };
    if let Some(ip) = ip.filter(|ip| !out.contains(ip)) {
      out.push(ip);
    }
    p = ai.ai_next;
  }
  // SAFETY: `res` is the list getaddrinfo allocated, freed once.
  unsafe { libc::freeaddrinfo(res) };
  Ok(out)
}
