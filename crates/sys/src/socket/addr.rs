//! Socket addresses as the Node layer names them (an IP address and a port, or a unix path, an
//! abstract name starting with a NUL byte), bind with the options Node's own bind sets, and the
//! address a socket ended up bound to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::syscall;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
  Inet(SocketAddr),
  /// A unix socket path; a leading NUL byte names an abstract socket (per net namespace).
  Unix(Vec<u8>),
}

impl Address {
  /// The address family a socket needs to be bound to it.
  pub fn domain(&self) -> i32 {
    match self {
      Address::Inet(SocketAddr::V4(_)) => libc::AF_INET,
      Address::Inet(SocketAddr::V6(_)) => libc::AF_INET6,
      Address::Unix(_) => libc::AF_UNIX,
    }
  }
}

/// What Node's listen and dgram bind set before bind(2).
#[derive(Debug, Clone, Copy, Default)]
pub struct BindOptions {
  /// SO_REUSEADDR (libuv sets it on every TCP bind; dgram only with `reuseAddr`).
  pub reuse_addr: bool,
  /// SO_REUSEPORT.
  pub reuse_port: bool,
  /// IPV6_V6ONLY on an IPv6 socket (false: also IPv4, as libuv leaves it).
  pub v6only: bool,
}

/// Binds `fd` to `addr` and returns the address it is bound to (the port the kernel chose for 0).
pub fn bind(fd: BorrowedFd<'_>, addr: &Address, opts: BindOptions) -> Result<Address> {
  bind_only(fd, addr, opts)?;
  local(fd)
}

/// Binds `fd` to `addr` with the socket options `opts` asks for, as libuv binds.
pub fn bind_only(fd: BorrowedFd<'_>, addr: &Address, opts: BindOptions) -> Result<()> {
  if opts.reuse_addr {
    syscall::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
  }
  if opts.reuse_port {
    syscall::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
  }
  if let Address::Inet(SocketAddr::V6(_)) = addr {
    syscall::setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, opts.v6only as i32)?;
  }
  let (storage, len) = to_storage(addr)?;
  syscall::bind(fd, &storage, len)
}

/// The address `fd` is bound to.
pub fn local(fd: BorrowedFd<'_>) -> Result<Address> {
  let (storage, len) = syscall::getsockname(fd)?;
  from_storage(&storage, len)
}

fn to_storage(addr: &Address) -> Result<(libc::sockaddr_storage, libc::socklen_t)> {
  // SAFETY: an all-zero sockaddr_storage is a valid value of this plain C struct.
  let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
  let len = match addr {
    Address::Inet(SocketAddr::V4(a)) => {
      // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
      let sin = unsafe { &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
      sin.sin_family = libc::AF_INET as libc::sa_family_t;
      sin.sin_port = a.port().to_be();
      sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
      std::mem::size_of::<libc::sockaddr_in>()
    }
    Address::Inet(SocketAddr::V6(a)) => {
      // SAFETY: as above.
      let sin6 = unsafe { &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
      sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
      sin6.sin6_port = a.port().to_be();
      sin6.sin6_addr.s6_addr = a.ip().octets();
      sin6.sin6_scope_id = a.scope_id();
      std::mem::size_of::<libc::sockaddr_in6>()
    }
    Address::Unix(path) => {
      // SAFETY: as above.
      let sun = unsafe { &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
      // A path needs room for its terminating NUL; an abstract name is counted by length alone.
      let room = sun.sun_path.len() - usize::from(path.first() != Some(&0));
      if path.is_empty() || path.len() > room {
        return Err(Error::os(libc::ENAMETOOLONG, "bind").path(String::from_utf8_lossy(path)));
      }
      sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
      for (d, s) in sun.sun_path.iter_mut().zip(path) {
        *d = *s as libc::c_char;
      }
      std::mem::offset_of!(libc::sockaddr_un, sun_path) + path.len() + usize::from(path[0] != 0)
    }
  };
  Ok((st, len as libc::socklen_t))
}

fn from_storage(st: &libc::sockaddr_storage, len: libc::socklen_t) -> Result<Address> {
  match st.ss_family as i32 {
    libc::AF_INET => {
      // SAFETY: the kernel wrote a sockaddr_in for this family.
      let sin = unsafe { &*(st as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
      let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
      Ok(Address::Inet(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port))))
    }
    libc::AF_INET6 => {
      // SAFETY: the kernel wrote a sockaddr_in6 for this family.
      let sin6 = unsafe { &*(st as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
      let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
      Ok(Address::Inet(SocketAddr::new(IpAddr::V6(ip), u16::from_be(sin6.sin6_port))))
    }
    libc::AF_UNIX => {
      // SAFETY: the kernel wrote a sockaddr_un for this family.
      let sun = unsafe { &*(st as *const libc::sockaddr_storage).cast::<libc::sockaddr_un>() };
      let n = (len as usize).saturating_sub(std::mem::offset_of!(libc::sockaddr_un, sun_path));
      let mut path: Vec<u8> = sun.sun_path[..n.min(sun.sun_path.len())].iter().map(|c| *c as u8).collect();
      if path.first() != Some(&0) {
        // A path: up to its NUL.
        path.truncate(path.iter().position(|b| *b == 0).unwrap_or(path.len()));
      }
      Ok(Address::Unix(path))
    }
    _ => Err(Error::os(libc::EAFNOSUPPORT, "getsockname")),
  }
}
