//! Sockets inside a net namespace (`A.socket`, and what `listen`, `connect`, `createSocket` build
//! on): the descriptor is made inside by nsjs-sys (`socket::socket_in`), bound there too for a
//! server or a datagram socket, and handed to JS, which owns it from then on (Node's own handles
//! adopt it). Nothing here ever closes a descriptor JS owns.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, IntoRawFd};

use napi::Env;
use napi_derive::napi;
use nsjs_sys::socket::addr::{Address, BindOptions};
use nsjs_sys::socket::{self, MakerKind};
use nsjs_sys::{syscall, Error};

use crate::error::{IntoNapi, Result};
use crate::namespace::NativeNamespace;

/// A new socket made inside `ns` (close-on-exec, non-blocking); the caller owns the descriptor.
#[napi]
pub fn socket_in(
  env: Env,
  ns: &NativeNamespace,
  domain: i32,
  socket_type: i32,
  protocol: i32,
) -> Result<i32> {
  ns.with(&env, |h| {
    socket::socket_in(h, domain, socket_type, protocol).napi(&env).map(IntoRawFd::into_raw_fd)
  })
}

/// `socketIn`, and whether the calling thread made it ('caller', there and back within the call)
/// or a thread of its own ('throwaway'): for tests and the benchmark.
#[napi(object)]
pub struct TracedSocket {
  pub fd: i32,
  pub maker: String,
}

#[napi]
pub fn socket_in_traced(
  env: Env,
  ns: &NativeNamespace,
  domain: i32,
  socket_type: i32,
  protocol: i32,
) -> Result<TracedSocket> {
  let (fd, kind) =
    ns.with(&env, |h| socket::socket_in_traced(h, domain, socket_type, protocol).napi(&env))?;
  let maker = match kind {
    MakerKind::Caller => "caller",
    MakerKind::Throwaway => "throwaway",
  };
  Ok(TracedSocket { fd: fd.into_raw_fd(), maker: maker.into() })
}

/// The net namespace socket `fd` is in (SIOCGSKNS).
#[napi]
pub fn socket_namespace(env: Env, fd: i32) -> Result<NativeNamespace> {
  let dup = syscall::dup_cloexec(fd).napi(&env)?;
  socket::namespace_of(dup.as_fd()).napi(&env).and_then(|h| NativeNamespace::wrap(&env, h))
}

/// The id the calling thread's net namespace knows the net namespace `ns` by (RTM_GETNSID), or
/// null when it has assigned none.
#[napi]
pub fn netnsid(env: Env, ns: &NativeNamespace) -> Result<Option<i32>> {
  ns.with(&env, |h| socket::nsid_of(h).napi(&env))
}

/// Where to bind: `host` and `port` for IP, or `path` for a unix socket (a leading NUL: abstract).
#[napi(object)]
pub struct BindRequest {
  pub host: Option<String>,
  pub port: Option<u32>,
  pub path: Option<String>,
  pub reuse_addr: bool,
  pub reuse_port: bool,
  pub ipv6_only: bool,
}

/// A socket made and bound by `socketBoundIn`: its descriptor (the caller's from now on) and, for
/// IP, the address it is bound to as Node's `address()` gives it.
#[napi(object)]
pub struct BoundSocket {
  pub fd: i32,
  pub address: Option<String>,
  pub family: Option<String>,
  pub port: Option<u32>,
}

/// A new socket of `socket_type` made inside `ns` and bound there as `req` asks (its family
/// follows the address). One call for what listen() and dgram bind need; the descriptor is closed
/// again here when bind fails.
#[napi]
pub fn socket_bound_in(
  env: Env,
  ns: &NativeNamespace,
  socket_type: i32,
  req: BindRequest,
) -> Result<BoundSocket> {
  let target = match (&req.host, &req.path) {
    (_, Some(path)) => Address::Unix(path.clone().into_bytes()),
    (Some(host), None) => {
      let ip: IpAddr =
        host.parse().map_err(|_| napi::Error::from_reason(format!("not an IP address: {host}")))?;
      Address::Inet(SocketAddr::new(ip, req.port.unwrap_or(0) as u16))
    }
    (None, None) => return Err(napi::Error::from_reason("a host or a path is needed")),
  };
  let opts = BindOptions { reuse_addr: req.reuse_addr, reuse_port: req.reuse_port, v6only: req.ipv6_only };
  let (fd, bound) = ns.with(&env, |h| {
    socket::bound_socket_in(h, socket_type, &target, opts).map_err(|e| with_target(e, &target)).napi(&env)
  })?;
  let fd = fd.into_raw_fd();
  Ok(match bound {
    Address::Inet(a) => BoundSocket {
      fd,
      address: Some(a.ip().to_string()),
      family: Some(if a.is_ipv4() { "IPv4" } else { "IPv6" }.into()),
      port: Some(a.port().into()),
    },
    Address::Unix(_) => BoundSocket { fd, address: None, family: None, port: None },
  })
}

/// A unix path is named in the error (the JS side names IP addresses itself).
fn with_target(e: Error, target: &Address) -> Error {
  match target {
    Address::Unix(p) if e.path.is_none() => e.path(String::from_utf8_lossy(p)),
    _ => e,
  }
}
