//! Mounting, unmounting and unlinking through file descriptors. A path that root mounts on,
//! unmounts or unlinks is resolved once into a descriptor (never following a symlink in its final
//! component) and then used only through it, so the owner of a directory cannot swap a symlink in
//! between a check and the act.
//!
//! The new mount API (open_tree/move_mount, Linux 5.2) is used where the kernel has it; before it,
//! mount(2) on `/proc/self/fd/N` resolves to exactly the file the descriptor holds (the magic link
//! is not a path that anyone can change).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};
use crate::syscall::{self, check, cstr, owned};

// <linux/mount.h>: ABI constants, the same on every architecture.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// Cleared at the first ENOSYS from open_tree/move_mount, after which mount(2) on
/// /proc/self/fd is used.
static NEW_MOUNT_API: AtomicBool = AtomicBool::new(true);

/// The path through which mount(2) and umount2(2) reach exactly what `fd` holds.
fn proc_fd(fd: BorrowedFd<'_>) -> String {
  format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// What statx says of a file (or of a symlink itself: the final component is never followed).
pub struct Stat {
  pub mode: u32,
  pub uid: u32,
  pub nlink: u32,
  pub size: u64,
  pub dev: u64,
  pub ino: u64,
  /// The id of the mount the file was reached through (as in mountinfo's first column).
  pub mnt_id: u64,
  /// Whether the file is the root of that mount (so a mount point, as the caller sees it).
  pub mount_root: bool,
}

impl Stat {
  pub fn is(&self, kind: u32) -> bool {
    self.mode & libc::S_IFMT == kind
  }
}

/// statx(2) of `name` in `dir` (`""`: `dir` itself), not following a final symlink. Through the
/// raw syscall: glibc's wrapper is newer than the glibc the binary is built against.
pub fn stat_at(dir: BorrowedFd<'_>, name: &str) -> Result<Stat> {
  let c = cstr(name, "statx")?;
  let mut flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_NO_AUTOMOUNT;
  if name.is_empty() {
    flags |= libc::AT_EMPTY_PATH;
  }
  // SAFETY: an all-zero `statx` is a valid value of this plain C struct.
  let mut st: libc::statx = unsafe { std::mem::zeroed() };
  let mask = libc::STATX_BASIC_STATS | libc::STATX_MNT_ID;
  // SAFETY: `c` is NUL-terminated, `st` is writable and as large as the kernel's struct statx.
  let ret = unsafe { libc::syscall(libc::SYS_statx, dir.as_raw_fd(), c.as_ptr(), flags, mask, &mut st) };
  check(ret as libc::c_int, "statx")?;
  let known = st.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0;
  Ok(Stat {
    mode: st.stx_mode as u32,
    uid: st.stx_uid,
    nlink: st.stx_nlink,
    size: st.stx_size,
    dev: libc::makedev(st.stx_dev_major, st.stx_dev_minor),
    ino: st.stx_ino,
    mnt_id: if st.stx_mask & libc::STATX_MNT_ID != 0 { st.stx_mnt_id } else { 0 },
    mount_root: known && st.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0,
  })
}

/// Whether this kernel reports STATX_ATTR_MOUNT_ROOT and STATX_MNT_ID (Linux 5.8).
pub fn stat_knows_mounts(st: &Stat) -> bool {
  st.mnt_id != 0
}

/// openat(2) of one path component in `dir`, never following a symlink there (O_NOFOLLOW; with
/// O_PATH that opens the symlink itself, which callers then refuse). O_CLOEXEC always.
pub fn open_at(dir: BorrowedFd<'_>, name: &str, flags: libc::c_int, mode: libc::mode_t) -> Result<OwnedFd> {
  let c = cstr(name, "openat")?;
  // SAFETY: `c` is NUL-terminated; `dir` is open for the borrow.
  let fd = unsafe {
    libc::openat(
      dir.as_raw_fd(),
      c.as_ptr(),
      flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
      mode as libc::c_uint,
    )
  };
  owned(fd, "openat")
}

/// Opens a directory by path (symlinks in it followed, as the caller named it), for `*_at` calls.
/// O_RDONLY, not O_PATH: flock needs a real open file.
pub fn open_dir(path: &str) -> Result<OwnedFd> {
  syscall::open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Reopens what an O_PATH descriptor holds with `flags`, through its magic link: the same file,
/// whatever its path now names.
pub fn reopen(fd: BorrowedFd<'_>, flags: libc::c_int) -> Result<OwnedFd> {
  syscall::open(&proc_fd(fd), flags, 0)
}

pub fn unlink_at(dir: BorrowedFd<'_>, name: &str) -> Result<()> {
  let c = cstr(name, "unlinkat")?;
  // SAFETY: `c` is NUL-terminated; `dir` is open for the borrow. unlinkat never follows `name`.
  check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) }, "unlinkat").map(drop)
}

/// flock(2), without waiting: `Ok(false)` when another open file holds the lock.
pub fn try_lock(fd: BorrowedFd<'_>) -> Result<bool> {
  // SAFETY: plain syscall on a descriptor that is open for the borrow.
  if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
    return Ok(true);
  }
  let e = Error::last("flock");
  if e.errno == libc::EWOULDBLOCK || e.errno == libc::EINTR {
    Ok(false)
  } else {
    Err(e)
  }
}

/// Whether to try mount(2) after the new API failed with `e`. ENOSYS: the kernel (before 5.2)
/// or a seccomp profile lacks it, for good. EPERM: container runtimes' seccomp profiles also
/// answer unknown syscalls so; mount(2) then gives the real answer.
fn fall_back(e: &Error) -> bool {
  if e.errno == libc::ENOSYS {
    NEW_MOUNT_API.store(false, Ordering::Relaxed);
  }
  e.errno == libc::ENOSYS || e.errno == libc::EPERM
}

/// A detached copy of the mount tree at `fd` (recursively with `recursive`), to attach elsewhere.
fn open_tree(fd: BorrowedFd<'_>, recursive: bool) -> Result<OwnedFd> {
  let flags = OPEN_TREE_CLONE
    | libc::AT_EMPTY_PATH as libc::c_uint
    | if recursive { libc::AT_RECURSIVE as libc::c_uint } else { 0 };
  // SAFETY: the path is the empty NUL-terminated string, with AT_EMPTY_PATH meaning `fd` itself.
  let ret = unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) };
  owned(ret as libc::c_int, "open_tree")
}

fn move_mount(tree: BorrowedFd<'_>, target: BorrowedFd<'_>) -> Result<()> {
  let flags = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;
  // SAFETY: both paths are the empty NUL-terminated string, meaning the descriptors themselves.
  let ret = unsafe {
    libc::syscall(
      libc::SYS_move_mount,
      tree.as_raw_fd(),
      c"".as_ptr(),
      target.as_raw_fd(),
      c"".as_ptr(),
      flags,
    )
  };
  check(ret as libc::c_int, "move_mount").map(drop)
}

fn mount_proc_fd(src: Option<BorrowedFd<'_>>, target: BorrowedFd<'_>, flags: libc::c_ulong) -> Result<()> {
  let s = cstr(&src.map_or_else(|| "none".to_string(), proc_fd), "mount")?;
  let t = cstr(&proc_fd(target), "mount")?;
  // SAFETY: both strings are NUL-terminated; fstype and data are NULL, as bind and propagation
  // changes take them.
  let ret = unsafe { libc::mount(s.as_ptr(), t.as_ptr(), std::ptr::null(), flags, std::ptr::null()) };
  check(ret, "mount").map(drop)
}

/// Bind-mounts what `src` holds (a namespace file, a directory) onto the file or directory
/// `target` holds. With `recursive`, the mounts below `src` come along (MS_REC). Returns a
/// descriptor on the root of the new mount when the kernel gives one (the new API), for
/// [`set_propagation`].
pub fn bind(src: BorrowedFd<'_>, target: BorrowedFd<'_>, recursive: bool) -> Result<Option<OwnedFd>> {
  if NEW_MOUNT_API.load(Ordering::Relaxed) {
    match open_tree(src, recursive).and_then(|tree| move_mount(tree.as_fd(), target).map(|()| tree)) {
      Ok(tree) => return Ok(Some(tree)),
      Err(e) if fall_back(&e) => {}
      Err(e) => return Err(e),
    }
  }
  let flags = libc::MS_BIND | if recursive { libc::MS_REC } else { 0 };
  mount_proc_fd(Some(src), target, flags).map(|()| None)
}

/// Changes the propagation of the mount whose root `fd` holds (MS_SHARED, MS_PRIVATE), not
/// recursively: only ever a mount nsjs itself made.
pub fn set_propagation(fd: BorrowedFd<'_>, propagation: libc::c_ulong) -> Result<()> {
  mount_proc_fd(None, fd, propagation)
}

/// Lazily unmounts the mount whose root `fd` holds (an O_PATH descriptor on it): the magic link
/// names that mount, not a path, so nothing mounted or linked there since can be hit instead.
pub fn umount(fd: BorrowedFd<'_>) -> Result<()> {
  let c = cstr(&proc_fd(fd), "umount2")?;
  // SAFETY: `c` is NUL-terminated.
  check(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) }, "umount2").map(drop)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn stat_at_does_not_follow_and_sees_mount_roots() {
    let root = open_dir("/").unwrap();
    let st = stat_at(root.as_fd(), "").unwrap();
    assert!(st.is(libc::S_IFDIR));
    assert!(st.mount_root, "/ is the root of its mount");
    let proc = open_dir("/proc/self").unwrap();
    assert!(stat_at(proc.as_fd(), "exe").unwrap().is(libc::S_IFLNK), "exe itself, not its target");
    assert!(!stat_at(proc.as_fd(), "").unwrap().mount_root);
  }

  #[test]
  fn open_at_refuses_a_final_symlink() {
    let proc = open_dir("/proc/self").unwrap();
    assert_eq!(open_at(proc.as_fd(), "exe", libc::O_RDONLY, 0).unwrap_err().errno, libc::ELOOP);
    let link = open_at(proc.as_fd(), "exe", libc::O_PATH, 0).unwrap();
    assert!(stat_at(link.as_fd(), "").unwrap().is(libc::S_IFLNK));
  }
}
