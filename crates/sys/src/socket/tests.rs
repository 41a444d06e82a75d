use std::os::fd::AsFd;

use super::addr::{self, Address, BindOptions};
use super::*;
use crate::this_thread::tests::on_new_thread;

#[test]
fn socket_in_a_new_net_namespace_is_there_and_the_caller_stays() {
  on_new_thread(|| {
    let before = NsHandle::current(NsType::Net).unwrap();
    let lab = crate::create::create(NsType::Net).unwrap();
    let fd = socket_in(&lab, libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    assert!(namespace_of(fd.as_fd()).unwrap().same_as(&lab));
    assert!(NsHandle::current(NsType::Net).unwrap().same_as(&before));
  });
}

#[test]
fn socket_in_refuses_a_handle_of_another_type() {
  let uts = NsHandle::current(NsType::Uts).unwrap();
  let e = socket_in(&uts, libc::AF_INET, libc::SOCK_STREAM, 0).unwrap_err();
  assert_eq!(e.rule, Some(Rule::TypeMismatch));
}

#[test]
fn bind_port_zero_reports_the_chosen_port() {
  let here = NsHandle::current(NsType::Net).unwrap();
  let fd = socket_in(&here, libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
  let want = Address::Inet("127.0.0.1:0".parse().unwrap());
  let Address::Inet(got) = addr::bind(fd.as_fd(), &want, BindOptions::default()).unwrap() else { panic!() };
  assert_eq!(got.ip().to_string(), "127.0.0.1");
  assert_ne!(got.port(), 0);
}

#[test]
fn bind_abstract_unix_name_round_trips() {
  let here = NsHandle::current(NsType::Net).unwrap();
  let fd = socket_in(&here, libc::AF_UNIX, libc::SOCK_STREAM, 0).unwrap();
  let name = format!("\0nsjs-test-{}", std::process::id()).into_bytes();
  let got = addr::bind(fd.as_fd(), &Address::Unix(name.clone()), BindOptions::default()).unwrap();
  assert_eq!(got, Address::Unix(name));
}

#[test]
fn namespace_of_a_non_socket_fails() {
  let f = std::fs::File::open("/proc/self/stat").unwrap();
  assert!(namespace_of(f.as_fd()).is_err());
}
