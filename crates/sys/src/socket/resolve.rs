//! Name resolution inside a net namespace, as `ip netns exec` shows it to a command: getaddrinfo
//! on a thread that is in the namespace, and, for a namespace persisted as /run/netns/<name>,
//! with each file of /etc/netns/<name>/ (hosts, resolv.conf, ...) bind-mounted over its namesake
//! in /etc, in a mount namespace of that thread's own (private to it: the mounts go with the
//! thread). It runs on a thread started for the lookup (getaddrinfo may wait seconds for a DNS
//! server), never on a libuv pool thread.

use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};

use crate::error::Result;
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::syscall;

/// Where iproute2 keeps the per-namespace configuration files.
const ETC_NETNS: &str = "/etc/netns";
/// Where iproute2 persists named net namespaces.
const RUN_NETNS: &str = "/run/netns";

/// What getaddrinfo answered: the addresses, or the EAI_* code and (for EAI_SYSTEM) the errno.
pub type Answer = std::result::Result<Vec<IpAddr>, (i32, i32)>;

/// The name `ns` is persisted under in /run/netns, as the calling thread's mounts show it.
pub fn persisted_name(ns: &NsHandle) -> Option<String> {
  let entries = std::fs::read_dir(RUN_NETNS).ok()?;
  entries.flatten().find_map(|e| {
    let name = e.file_name().into_string().ok()?;
    let h = NsHandle::open_file(&format!("{RUN_NETNS}/{name}"), Some(NsType::Net)).ok()?;
    h.same_as(ns).then_some(name)
  })
}

/// Resolves `host` inside `ns`, on the calling thread, which must be one started for this alone:
/// it enters the namespace and, when /etc/netns/<name> exists, a mount namespace of its own.
pub fn lookup_here(
  ns: BorrowedFd<'_>,
  etc_name: Option<&str>,
  host: &str,
  family: i32,
  flags: i32,
) -> Result<Answer> {
  if let Some(name) = etc_name {
    let dir = format!("{ETC_NETNS}/{name}");
    if let Ok(entries) = std::fs::read_dir(&dir) {
      // As ip netns exec: a mount namespace of this thread's own, receiving nothing from the
      // caller's later and sending nothing back, with the namespace's files over /etc's.
      syscall::unshare(libc::CLONE_NEWNS | libc::CLONE_FS)?;
      syscall::mount(None, "/", libc::MS_SLAVE | libc::MS_REC)?;
      for e in entries.flatten() {
        let Some(file) = e.file_name().into_string().ok() else { continue };
        // A file /etc does not have is skipped, as iproute2 skips it.
        let _ = syscall::mount(Some(&format!("{dir}/{file}")), &format!("/etc/{file}"), libc::MS_BIND);
      }
    }
  }
  syscall::setns(ns, libc::CLONE_NEWNET).map_err(|e| e.ns(NsType::Net))?;
  Ok(syscall::getaddrinfo(host, family, flags))
}

/// `persisted_name` and `lookup_here` for a handle, on the calling (throwaway) thread.
pub fn lookup_in(ns: &NsHandle, host: &str, family: i32, flags: i32) -> Result<Answer> {
  let name = persisted_name(ns);
  lookup_here(ns.as_fd(), name.as_deref(), host, family, flags)
}
