//! Keeping a namespace alive after its last process and handle are gone: a bind mount of its
//! nsfs file, as `ip netns add` and `unshare --net=FILE` do.
//!
//! nsjs shares these directories with iproute2, CNI plugins and container runtimes, so it follows
//! iproute2's rules rather than its own: a directory that is not a mount point is bound onto
//! itself once and made shared (so mount namespaces that are slaves of it see what is persisted
//! later, as they see `ip netns add`); a directory that already is a mount point is mounted into
//! as it is, whatever its propagation. nsjs changes the propagation only of a mount it made.
//! mnt namespace files are the kernel's exception: they cannot be mounted where the mount would
//! propagate (that could make a loop), so for them a self-bind is made private, as util-linux
//! documents for `unshare --mount=FILE`.
//!
//! Every step on the final component goes through descriptors (see fd_mount), under an flock of
//! the directory, so two nsjs processes never race each other on one directory and a symlink
//! swapped in by the directory's owner is refused, never followed.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, Rule};
use crate::fd_mount::{self, Stat};
use crate::handle::{NsHandle, NSFS_MAGIC};
use crate::mountinfo;
use crate::ns_type::NsType;
use crate::syscall;

/// The file persist creates to mount on has mode 0, as `ip netns add` makes it. An empty mode-0
/// regular file of ours that nothing is mounted on is what a persist killed between creating and
/// mounting leaves: the next persist mounts on it, and unpersist removes it, instead of failing.
const PLACEHOLDER_MODE: libc::mode_t = 0;

/// How long to wait for another nsjs process persisting into the same directory.
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// An absolute path split into its directory and final component, which must be a name.
fn split(path: &str) -> Result<(&str, &str)> {
  let invalid = || Error::os(libc::EINVAL, "open").path(path);
  let (dir, name) = path.rsplit_once('/').ok_or_else(invalid)?;
  if !path.starts_with('/') || matches!(name, "" | "." | "..") {
    return Err(invalid());
  }
  Ok((if dir.is_empty() { "/" } else { dir }, name))
}

/// A directory namespace files are persisted in, opened once, and locked against other nsjs
/// processes doing the same there (flock is per inode, so it holds across every mount showing
/// the directory). A killed holder's lock goes with its descriptors.
struct Dir {
  /// The topmost mount's view of the directory, opened after the lock was taken, so a self-bind
  /// made by whoever held the lock before is seen.
  fd: OwnedFd,
  path: String,
  _lock: OwnedFd,
}

impl Dir {
  fn lock(path: &str) -> Result<Dir> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
      let lock = fd_mount::open_dir(path)?;
      if fd_mount::try_lock(lock.as_fd())? {
        let fd = fd_mount::open_dir(path)?;
        let (a, b) = (fd_mount::stat_at(lock.as_fd(), "")?, fd_mount::stat_at(fd.as_fd(), "")?);
        if (a.dev, a.ino) == (b.dev, b.ino) {
          return Ok(Dir { fd, path: path.to_string(), _lock: lock });
        }
        // The path names another directory now: lock that one.
        continue;
      }
      if Instant::now() >= deadline {
        return Err(Error::os(libc::EWOULDBLOCK, "flock").path(path));
      }
      std::thread::sleep(Duration::from_millis(2));
    }
  }

  /// Whether the directory is the root of its mount, and whether that mount (or the one it is
  /// in) propagates. mountinfo is read for the propagation; the mount is found by its id where the
  /// kernel gives it (5.8), else by its place.
  fn mount_state(&self, st: &Stat) -> (bool, bool) {
    let mounts = mountinfo::read();
    if fd_mount::stat_knows_mounts(st) {
      let shared = mounts.iter().rev().find(|m| u64::from(m.id) == st.mnt_id).is_some_and(|m| m.shared);
      return (st.mount_root, shared);
    }
    let m = mountinfo::containing(&mounts, &self.path);
    (m.is_some_and(|m| m.mount_point == self.path), m.is_some_and(|m| m.shared))
  }

  fn as_it_is(&self) -> Result<OwnedFd> {
    self.fd.try_clone().map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EMFILE), "dup"))
  }

  /// Makes the directory ready to hold a namespace file of type `ty` by iproute2's rule (see the
  /// module comment) and returns a descriptor of it on the mount the file is to be created in.
  fn prepare(&self, ty: NsType) -> Result<OwnedFd> {
    let st = fd_mount::stat_at(self.fd.as_fd(), "")?;
    let (mount_root, shared) = self.mount_state(&st);
    let propagation = match ty {
      _ if mount_root => return self.as_it_is(),
      NsType::Mnt if !shared => return self.as_it_is(),
      NsType::Mnt => libc::MS_PRIVATE,
      _ => libc::MS_SHARED,
    };
    // Recursive, as iproute2 binds /run/netns: mounts below the directory stay visible.
    let top = match fd_mount::bind(self.fd.as_fd(), self.fd.as_fd(), true)? {
      Some(tree) => tree,
      None => {
        let fd = fd_mount::open_dir(&self.path)?;
        let now = fd_mount::stat_at(fd.as_fd(), "")?;
        if (now.dev, now.ino) != (st.dev, st.ino) {
          return Err(Error::os(libc::EAGAIN, "open").path(self.path.as_str()));
        }
        fd
      }
    };
    fd_mount::set_propagation(top.as_fd(), propagation)?;
    Ok(top)
  }
}

/// The leftover of a persist (nsjs's or `ip netns add`'s) killed after creating its file and
/// before mounting on it.
fn is_placeholder(st: &Stat) -> bool {
  // SAFETY: geteuid cannot fail and has no preconditions.
  let me = unsafe { libc::geteuid() };
  st.is(libc::S_IFREG)
    && st.size == 0
    && st.mode & 0o7777 == PLACEHOLDER_MODE
    && st.uid == me
    && st.nlink == 1
    && !st.mount_root
}

/// The file to mount on: created (it must not exist), or a placeholder a killed persist left.
fn mount_target(dir: BorrowedFd<'_>, name: &str) -> Result<OwnedFd> {
  match fd_mount::open_at(dir, name, libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL, PLACEHOLDER_MODE) {
    Err(e) if e.errno == libc::EEXIST => {
      // O_PATH: opening whatever stands there now must not have side effects (a FIFO, a device).
      let fd = fd_mount::open_at(dir, name, libc::O_PATH, 0).map_err(|_| e.clone())?;
      if is_placeholder(&fd_mount::stat_at(fd.as_fd(), "")?) {
        Ok(fd)
      } else {
        Err(e)
      }
    }
    other => other,
  }
}

/// Bind-mounts the namespace `h` holds onto `path` (created; it must not exist). Missing parent
/// directories are created, as `ip netns add` makes /run/netns.
pub fn persist(h: &NsHandle, path: &str) -> Result<()> {
  let ty = h.ns_type();
  let tag = |e: Error| {
    let e = e.ns(ty);
    if e.path.is_none() {
      e.path(path)
    } else {
      e
    }
  };
  let (dir_path, name) = split(path).map_err(tag)?;
  std::fs::create_dir_all(dir_path)
    .map_err(|e| tag(Error::os(e.raw_os_error().unwrap_or(libc::EIO), "mkdir").path(dir_path)))?;
  let dir = Dir::lock(dir_path).map_err(tag)?;
  let into = dir.prepare(ty).map_err(tag)?;
  let target = mount_target(into.as_fd(), name).map_err(tag)?;
  if let Err(e) = fd_mount::bind(h.as_fd(), target.as_fd(), false) {
    drop(target);
    let _ = fd_mount::unlink_at(into.as_fd(), name);
    return Err(tag(mnt_refusal(e, ty, &dir)));
  }
  Ok(())
}

/// Names the rule when the kernel refuses a mnt namespace file: EINVAL from mount(2) or ELOOP from
/// move_mount mean either that the mount would propagate, or that the namespace is not newer than
/// the caller's own (it could then hold a mount of itself).
fn mnt_refusal(e: Error, ty: NsType, dir: &Dir) -> Error {
  if ty != NsType::Mnt || !(e.errno == libc::EINVAL || e.errno == libc::ELOOP) {
    return e;
  }
  let shared = fd_mount::stat_at(dir.fd.as_fd(), "").map(|st| dir.mount_state(&st).1).unwrap_or(false);
  if shared {
    Error::rule(Rule::SharedMount, e.syscall).path(dir.path.as_str())
  } else {
    Error { errno: libc::ELOOP, ..e }
  }
}

/// Unmounts a persisted namespace and removes its file, like `ip netns delete`; also removes the
/// placeholder a killed persist left. A symlink at `path` is refused (ELOOP), never followed.
pub fn unpersist(path: &str) -> Result<()> {
  let tag = |e: Error| if e.path.is_none() { e.path(path) } else { e };
  let (dir_path, name) = split(path).map_err(tag)?;
  let dir = Dir::lock(dir_path).map_err(tag)?;
  let fd = fd_mount::open_at(dir.fd.as_fd(), name, libc::O_PATH, 0).map_err(tag)?;
  let st = fd_mount::stat_at(fd.as_fd(), "").map_err(tag)?;
  if st.is(libc::S_IFLNK) {
    return Err(tag(Error::os(libc::ELOOP, "openat")));
  }
  if syscall::fstatfs_type(fd.as_fd()).map_err(tag)? != NSFS_MAGIC {
    if is_placeholder(&st) {
      return fd_mount::unlink_at(dir.fd.as_fd(), name).map_err(tag);
    }
    return Err(tag(Error::rule(Rule::NotNamespace, "statfs")));
  }
  fd_mount::umount(fd.as_fd()).map_err(tag)?;
  drop(fd);
  // What the mount covered is the file persist made; a second namespace persisted on top of the
  // same path (stacked by someone else) keeps the name, and its file, until it is unpersisted too.
  let under = fd_mount::open_at(dir.fd.as_fd(), name, libc::O_PATH, 0).map_err(tag)?;
  if syscall::fstatfs_type(under.as_fd()).map_err(tag)? == NSFS_MAGIC {
    return Ok(());
  }
  fd_mount::unlink_at(dir.fd.as_fd(), name).map_err(tag)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn split_takes_a_name_off_an_absolute_path() {
    assert_eq!(split("/run/netns/a").unwrap(), ("/run/netns", "a"));
    assert_eq!(split("/a").unwrap(), ("/", "a"));
    for bad in ["", "a", "/", "/run/", "/run/..", "/run/.", "rel/a"] {
      assert_eq!(split(bad).unwrap_err().errno, libc::EINVAL, "{bad:?}");
    }
  }
}
