//! Namespaces no process is in: held by a descriptor (an nsjs handle, a `setns` target kept open),
//! by a socket (net), or by a bind mount, and the user namespaces (and pid/user parents) those
//! keep alive. Each is opened, as lsns does, only to ask the kernel its owner: never through a
//! path that could meanwhile name something else (O_PATH first, checked, then reopened).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use super::nsfs::parse_id;
use super::{Key, Scan};
use crate::ns_type::NsType;
use crate::syscall;

/// SIOCGSKNS (linux/sockios.h, Linux 4.9): a descriptor on the net namespace a socket was made in.
pub(super) const SIOCGSKNS: libc::c_ulong = 0x894C;

/// Where a namespace that no process is in was seen, to open it from.
pub(super) enum Source {
  Fd { pid: i32, fd: i32 },
  Path(String),
}

impl Scan {
  /// The descriptors of process `pid`: namespace files (an nsjs handle, a `setns` target kept
  /// open) and sockets. A readlink tells both apart without opening anything; a stat confirms a
  /// namespace file is on nsfs.
  pub(super) fn scan_fds(&mut self, pid: i32, sockets: bool) {
    let dir = format!("/proc/{pid}/fd");
    // EACCES (not ours to look at) and ENOENT (gone) both mean: nothing to see.
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for e in entries.flatten() {
      let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
      let path = format!("{dir}/{fd}");
      let Ok(link) = std::fs::read_link(&path) else { continue };
      let link = link.as_os_str().as_bytes();
      if let Some(rest) = link.strip_prefix(b"socket:[") {
        let ino = std::str::from_utf8(rest).ok().and_then(|r| r.strip_suffix(']')?.parse::<u64>().ok());
        if sockets && ino.is_some_and(|i| self.socket_inodes.insert(i)) {
          self.sockets.push((pid, fd));
        }
        continue;
      }
      let Some((ty, ino)) = parse_id(link) else { continue };
      if !self.worth_holding(ty) || self.held_keys.contains(&(ino, ty)) {
        continue;
      }
      if std::fs::metadata(&path).is_ok_and(|m| m.dev() == self.nsfs_dev && m.ino() == ino) {
        self.held_keys.insert((ino, ty));
        self.seen_held.push(((ino, ty), Source::Fd { pid, fd }));
      }
    }
  }

  /// Opens a namespace that no process is in, where it was seen. O_PATH opens nothing (a device
  /// node swapped in meanwhile is not opened); once it is checked to be that namespace, the
  /// reopen through /proc gives a descriptor the namespace ioctls accept.
  pub(super) fn open(&self, key: Key, src: &Source) -> Option<OwnedFd> {
    let path = match src {
      Source::Fd { pid, fd } => format!("/proc/{pid}/fd/{fd}"),
      Source::Path(p) => p.clone(),
    };
    let flags = match src {
      Source::Fd { .. } => libc::O_PATH,
      Source::Path(_) => libc::O_PATH | libc::O_NOFOLLOW,
    };
    let opath = syscall::open(&path, flags, 0).ok()?;
    let id = syscall::fstat(opath.as_fd()).ok()?;
    if id.dev != self.nsfs_dev || id.ino != key.0 {
      return None;
    }
    crate::fd_mount::reopen(opath.as_fd(), libc::O_RDONLY).ok()
  }

  /// A namespace no process is in, open as `fd`: the uid to show for it, and the user namespace
  /// that owns it (and for user and pid namespaces, the parent) when those are otherwise unknown.
  /// Depth first, so only a chain of ancestors is open at a time.
  pub(super) fn visit(&mut self, key: Key, fd: OwnedFd) {
    let mut work = vec![(key, fd)];
    while let Some(((ino, ty), fd)) = work.pop() {
      let owner = syscall::ioctl_fd(fd.as_fd(), libc::NS_GET_USERNS as _, "ioctl").ok();
      if self.wants(ty) {
        let uid = match ty {
          NsType::User => syscall::ioctl_owner_uid(fd.as_fd()).ok(),
          _ => owner.as_ref().and_then(|o| syscall::ioctl_owner_uid(o.as_fd()).ok()),
        };
        self.entry((ino, ty)).uid = uid;
      }
      let parent = match ty {
        NsType::User | NsType::Pid if self.wants(ty) => {
          syscall::ioctl_fd(fd.as_fd(), libc::NS_GET_PARENT as _, "ioctl").ok()
        }
        _ => None,
      };
      let up = [(parent, ty), (owner.filter(|_| self.wants(NsType::User)), NsType::User)];
      for (above, above_ty) in up {
        // EPERM: above the caller's own user namespace, which the kernel does not reveal.
        let Some(above) = above else { continue };
        let Ok(id) = syscall::fstat(above.as_fd()) else { continue };
        let k = (id.ino, above_ty);
        if !self.found.contains_key(&k) {
          self.entry(k);
          work.push((k, above));
        }
      }
    }
  }

  /// The net namespace of every socket seen, taken through pidfd_getfd. A failure (the process is
  /// gone, or not ours to look into) skips that socket, as lsns does.
  pub(super) fn read_sockets(&mut self) {
    let sockets = std::mem::take(&mut self.sockets);
    // Sockets come grouped by process: one pidfd (or one failure) per process.
    let mut pidfd: Option<(i32, Option<OwnedFd>)> = None;
    for (pid, fd) in sockets {
      if pidfd.as_ref().is_none_or(|(p, _)| *p != pid) {
        pidfd = Some((pid, syscall::pidfd_open(pid).ok()));
      }
      let Some((_, Some(pfd))) = &pidfd else { continue };
      let sock = match syscall::pidfd_getfd(pfd.as_fd(), fd) {
        Ok(s) => s,
        // Before Linux 5.6 nothing can be learnt about any socket.
        Err(e) if e.errno == libc::ENOSYS => return,
        Err(_) => continue,
      };
      let Ok(netns) = syscall::ioctl_fd(sock.as_fd(), SIOCGSKNS, "ioctl") else { continue };
      drop(sock);
      let Ok(id) = syscall::fstat(netns.as_fd()) else { continue };
      let key = (id.ino, NsType::Net);
      if !self.found.contains_key(&key) {
        self.entry(key);
        self.visit(key, netns);
      }
    }
  }
}
