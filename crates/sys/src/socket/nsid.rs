//! A peer net namespace's id (lsns's NETNSID, `ip netns list-id`): the number the calling thread's
//! net namespace knows another one by, asked with RTM_GETNSID on a route netlink socket. Ids are
//! per observer, assigned when something needs one (a veth whose peer is there, `ip netns set`),
//! and most namespaces have none.

use std::os::fd::{AsFd, AsRawFd};

use crate::error::{Error, Result, Rule};
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::syscall;

/// rtnetlink message types and attributes (linux/rtnetlink.h, linux/net_namespace.h).
const RTM_NEWNSID: u16 = 88;
const RTM_GETNSID: u16 = 90;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
/// NETNSA_NSID_NOT_ASSIGNED.
const NOT_ASSIGNED: i32 = -1;

/// nlmsghdr (16 bytes) + rtgenmsg (1 byte, padded to 4) + one u32 attribute (8 bytes).
const REQUEST_LEN: usize = 28;

fn request(fd: i32) -> [u8; REQUEST_LEN] {
  let mut m = [0u8; REQUEST_LEN];
  m[0..4].copy_from_slice(&(REQUEST_LEN as u32).to_ne_bytes());
  m[4..6].copy_from_slice(&RTM_GETNSID.to_ne_bytes());
  m[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
  m[8..12].copy_from_slice(&1u32.to_ne_bytes());
  // m[16] is rtgen_family, AF_UNSPEC (0); then the attribute.
  m[20..22].copy_from_slice(&8u16.to_ne_bytes());
  m[22..24].copy_from_slice(&NETNSA_FD.to_ne_bytes());
  m[24..28].copy_from_slice(&(fd as u32).to_ne_bytes());
  m
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
  Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn i32_at(b: &[u8], at: usize) -> Option<i32> {
  Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The reply's id, `None` for NETNSA_NSID_NOT_ASSIGNED, or the errno the kernel answered.
fn parse(reply: &[u8]) -> Result<Option<i32>> {
  let bad = || Error::os(libc::EPROTO, "recv");
  let len = (i32_at(reply, 0).ok_or_else(bad)? as usize).min(reply.len());
  match u16_at(reply, 4).ok_or_else(bad)? {
    NLMSG_ERROR => Err(Error::os(-i32_at(reply, 16).ok_or_else(bad)?, "sendmsg")),
    RTM_NEWNSID => {
      // Attributes follow the header and the padded rtgenmsg, each 4-byte aligned.
      let mut at = 20;
      while at + 4 <= len {
        let attr_len = u16_at(reply, at).ok_or_else(bad)? as usize;
        if attr_len < 4 {
          break;
        }
        if u16_at(reply, at + 2) == Some(NETNSA_NSID) {
          let id = i32_at(reply, at + 4).ok_or_else(bad)?;
          return Ok((id != NOT_ASSIGNED).then_some(id));
        }
        at += (attr_len + 3) & !3;
      }
      Ok(None)
    }
    _ => Err(bad()),
  }
}

/// The id the calling thread's net namespace has for the net namespace `ns` holds, or `None`
/// when it has assigned none (its own namespace never has one).
pub fn nsid_of(ns: &NsHandle) -> Result<Option<i32>> {
  if ns.ns_type() != NsType::Net {
    return Err(Error::rule(Rule::TypeMismatch, "RTM_GETNSID").ns(ns.ns_type()).expected(NsType::Net));
  }
  let sock = syscall::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
  syscall::write_all(sock.as_fd(), &request(ns.as_fd().as_raw_fd()))?;
  // rtnetlink answers a request inside the sending call, so the reply is queued by now (the
  // socket is non-blocking: EAGAIN would mean a kernel that does otherwise, reported as is).
  let mut reply = [0u8; 256];
  let n = syscall::read(sock.as_fd(), &mut reply)?;
  parse(&reply[..n])
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_own_namespace_has_no_id_and_another_gets_one_only_when_set() {
    crate::this_thread::tests::on_new_thread(|| {
      let own = NsHandle::current(NsType::Net).unwrap();
      assert_eq!(nsid_of(&own).unwrap(), None);
      let lab = crate::create::create(NsType::Net).unwrap();
      assert_eq!(nsid_of(&lab).unwrap(), None);
    });
  }

  #[test]
  fn a_handle_of_another_type_is_refused() {
    let uts = NsHandle::current(NsType::Uts).unwrap();
    assert_eq!(nsid_of(&uts).unwrap_err().rule, Some(Rule::TypeMismatch));
  }

  #[test]
  fn an_error_reply_carries_the_errno() {
    let mut r = [0u8; 36];
    r[0..4].copy_from_slice(&36u32.to_ne_bytes());
    r[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
    r[16..20].copy_from_slice(&(-libc::EINVAL).to_ne_bytes());
    assert_eq!(parse(&r).unwrap_err().errno, libc::EINVAL);
  }
}
