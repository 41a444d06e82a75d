//! `A.lookup()`: getaddrinfo inside a net namespace, on a native thread the calling JS thread
//! starts for it (see `caller_thread`): born in the caller's mount namespace, so /run/netns and
//! /etc/netns are read where the caller sees them, and never a libuv pool thread.

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::socket::resolve;
use nsjs_sys::{NsHandle, NsType};

use crate::caller_thread;
use crate::error::{IntoNapi, Result};
use crate::namespace::NativeNamespace;

/// One address, as dns.lookup gives it.
#[napi(object)]
pub struct LookupAddress {
  pub address: String,
  pub family: u32,
}

/// The addresses, or the resolver's failure: `code` as Node names it (ENOTFOUND, EAI_AGAIN, ...)
/// and, for EAI_SYSTEM, the errno.
#[napi(object)]
pub struct LookupAnswer {
  pub addresses: Vec<LookupAddress>,
  pub code: Option<String>,
  pub errno: Option<i32>,
}

/// Node's name for a getaddrinfo failure (cares_wrap's, which dns.lookup errors carry).
fn eai_code(rc: i32) -> &'static str {
  match rc {
    libc::EAI_NONAME | libc::EAI_NODATA => "ENOTFOUND",
    libc::EAI_AGAIN => "EAI_AGAIN",
    libc::EAI_FAIL => "EAI_FAIL",
    libc::EAI_FAMILY => "EAI_FAMILY",
    libc::EAI_MEMORY => "EAI_MEMORY",
    libc::EAI_BADFLAGS => "EAI_BADFLAGS",
    libc::EAI_SERVICE => "EAI_SERVICE",
    libc::EAI_SOCKTYPE => "EAI_SOCKTYPE",
    libc::EAI_SYSTEM => "EAI_SYSTEM",
    _ => "EAI_FAIL",
  }
}

#[napi(ts_return_type = "Promise<LookupAnswer>")]
pub fn lookup_in<'env>(
  env: &'env Env,
  ns: &NativeNamespace,
  host: String,
  family: i32,
  flags: i32,
) -> Result<Object<'env>> {
  let h = ns.with(env, |h| NsHandle::from_raw_dup(h.raw_fd(), Some(NsType::Net)).napi(env))?;
  let af = match family {
    4 => libc::AF_INET,
    6 => libc::AF_INET6,
    _ => libc::AF_UNSPEC,
  };
  caller_thread::promise(
    env,
    "nsjs-lookup",
    move || resolve::lookup_in(&h, &host, af, flags),
    |_, answer| {
      Ok(match answer {
        Ok(ips) => LookupAnswer {
          addresses: ips
            .into_iter()
            .map(|ip| LookupAddress { address: ip.to_string(), family: if ip.is_ipv4() { 4 } else { 6 } })
            .collect(),
          code: None,
          errno: None,
        },
        Err((rc, errno)) => LookupAnswer {
          addresses: Vec::new(),
          code: Some(eai_code(rc).into()),
          errno: Some(if errno != 0 { errno } else { rc }),
        },
      })
    },
  )
}
