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

/// `socketBoundIn`'s `flags`: the socket options set before bind, as libuv's bind sets them.
const BIND_REUSE_ADDR: u32 = 1;
const BIND_REUSE_PORT: u32 = 2;
const BIND_IPV6_ONLY: u32 = 4;

/// A new socket of `socket_type` made inside `ns` and bound there: to `host` (an IP address) and
/// `port`, or to the unix `path` (a leading NUL: abstract); `flags` from `BIND_*`. One call for
/// what listen() and dgram bind need; the descriptor is closed again here when bind fails.
/// Returns the descriptor times 65536 plus the port it is bound to (the kernel's choice for 0;
/// 0 for unix): arguments and result are plain numbers and strings because reading and building
/// objects with named properties costs more than the rest of the call.
#[napi]
pub fn socket_bound_in(
  env: Env,
  ns: &NativeNamespace,
  socket_type: i32,
  host: Option<String>,
  port: u32,
  path: Option<String>,
  flags: u32,
) -> Result<f64> {
  let target = match (host, path) {
    (_, Some(path)) => Address::Unix(path.into_bytes()),
    (Some(host), None) => {
      let ip: IpAddr =
        host.parse().map_err(|_| napi::Error::from_reason(format!("not an IP address: {host}")))?;
      Address::Inet(SocketAddr::new(ip, port as u16))
    }
    (None, None) => return Err(napi::Error::from_reason("a host or a path is needed")),
  };
  let opts = BindOptions {
    reuse_addr: flags & BIND_REUSE_ADDR != 0,
    reuse_port: flags & BIND_REUSE_PORT != 0,
    v6only: flags & BIND_IPV6_ONLY != 0,
  };
  let (fd, bound) = ns.with(&env, |h| {
    socket::bound_socket_in(h, socket_type, &target, opts).map_err(|e| with_target(e, &target)).napi(&env)
  })?;
  let port = match bound {
    Address::Inet(a) => a.port(),
    Address::Unix(_) => 0,
  };
  Ok(f64::from(fd.into_raw_fd()) * 65536.0 + f64::from(port))
}

/// A unix path is named in the error (the JS side names IP addresses itself).
fn with_target(e: Error, target: &Address) -> Error {
  match target {
    Address::Unix(p) if e.path.is_none() => e.path(String::from_utf8_lossy(p)),
    _ => e,
  }
}
