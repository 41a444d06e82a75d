//! The raw calls the child makes to build mounts (`mounts`, `root: 'tmpfs'`): the new mount API
//! (fsopen/fsconfig/fsmount, open_tree/move_mount, mount_setattr) and the *at calls, all on
//! descriptors so that every target is resolved inside the new root. Like `child_syscalls`: >= 0
//! on success, -errno on failure; nothing allocates or touches errno.

use std::ffi::CStr;

use crate::syscall::raw;

// <linux/mount.h> and <linux/openat2.h>: ABI constants, the same on every architecture.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const OPEN_TREE_CLONE: usize = 1;
const MOVE_MOUNT_F_EMPTY_PATH: usize = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: usize = 0x40;
const FSOPEN_CLOEXEC: usize = 1;
const FSMOUNT_CLOEXEC: usize = 1;
const FSCONFIG_SET_FLAG: usize = 0;
const FSCONFIG_SET_STRING: usize = 1;
const FSCONFIG_CMD_CREATE: usize = 6;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

#[inline(always)]
fn s(c: &CStr) -> usize {
  c.as_ptr() as usize
}

/// `struct open_how`.
#[repr(C)]
struct OpenHow {
  flags: u64,
  mode: u64,
  resolve: u64,
}

/// Opens `path` below `root` as if `root` were "/": absolute symbolic links and ".." stay inside
/// it, so nothing in the sandbox being built can point a mount out of it.
pub fn open_in_root(root: i32, path: &CStr, flags: i32, mode: u32) -> isize {
  let how = OpenHow {
    flags: (flags | libc::O_CLOEXEC) as u64,
    mode: mode as u64,
    resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  let size = std::mem::size_of::<OpenHow>();
  // SAFETY: `path` is NUL-terminated and `how` is a valid open_how of the size passed.
  unsafe { raw::call(libc::SYS_openat2, &[root as usize, s(path), &how as *const OpenHow as usize, size]) }
}

pub fn openat(dir: i32, name: &CStr, flags: i32, mode: u32) -> isize {
  // SAFETY: `name` is NUL-terminated.
  unsafe {
    raw::call(libc::SYS_openat, &[dir as usize, s(name), (flags | libc::O_CLOEXEC) as usize, mode as usize])
  }
}

pub fn mkdirat(dir: i32, name: &CStr, mode: u32) -> isize {
  // SAFETY: `name` is NUL-terminated.
  unsafe { raw::call(libc::SYS_mkdirat, &[dir as usize, s(name), mode as usize]) }
}

/// Sets the umask, returning the old one (the call cannot fail).
pub fn umask(mask: u32) -> u32 {
  // SAFETY: integer argument.
  unsafe { raw::call(libc::SYS_umask, &[mask as usize]) as u32 }
}

pub fn symlinkat(to: &CStr, dir: i32, name: &CStr) -> isize {
  // SAFETY: both strings are NUL-terminated.
  unsafe { raw::call(libc::SYS_symlinkat, &[s(to), dir as usize, s(name)]) }
}

pub fn readlinkat(dir: i32, name: &CStr, buf: &mut [u8]) -> isize {
  // SAFETY: `name` is NUL-terminated and `buf` writable for its length.
  unsafe { raw::call(libc::SYS_readlinkat, &[dir as usize, s(name), buf.as_mut_ptr() as usize, buf.len()]) }
}

/// Whether `fd` is a directory: 1, 0, or -errno.
pub fn is_dir(fd: i32) -> isize {
  // SAFETY: an all-zero stat is a valid buffer for the kernel to fill.
  let mut st: libc::stat = unsafe { std::mem::zeroed() };
  let empty = c"";
  // SAFETY: `st` is writable, the path is the empty string with AT_EMPTY_PATH meaning `fd`.
  let r = unsafe {
    raw::call(
      libc::SYS_newfstatat,
      &[fd as usize, s(empty), &mut st as *mut libc::stat as usize, libc::AT_EMPTY_PATH as usize],
    )
  };
  if r < 0 {
    return r;
  }
  (st.st_mode & libc::S_IFMT == libc::S_IFDIR) as isize
}

/// A detached copy of the mount tree at `path` (resolved from the process's root), with its
/// submounts.
pub fn clone_tree(path: &CStr) -> isize {
  let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as usize | libc::AT_RECURSIVE as usize;
  // SAFETY: `path` is NUL-terminated.
  unsafe { raw::call(libc::SYS_open_tree, &[libc::AT_FDCWD as usize, s(path), flags]) }
}

/// Attaches the detached mount `tree` on `name` below `dir` (`dir` itself when `name` is empty).
pub fn move_mount(tree: i32, dir: i32, name: &CStr) -> isize {
  let mut flags = MOVE_MOUNT_F_EMPTY_PATH;
  if name.is_empty() {
    flags |= MOVE_MOUNT_T_EMPTY_PATH;
  }
  let empty = c"";
  // SAFETY: every path is NUL-terminated; the empty ones mean the descriptors themselves.
  unsafe { raw::call(libc::SYS_move_mount, &[tree as usize, s(empty), dir as usize, s(name), flags]) }
}

/// Sets `attrs` on the mount `tree` and every mount below it.
pub fn set_mount_attrs(tree: i32, attrs: u64) -> isize {
  // struct mount_attr: attr_set, attr_clr, propagation, userns_fd.
  let attr: [u64; 4] = [attrs, 0, 0, 0];
  let empty = c"";
  let flags = libc::AT_EMPTY_PATH as usize | libc::AT_RECURSIVE as usize;
  // SAFETY: `attr` is a valid mount_attr of the size passed; the path is empty with AT_EMPTY_PATH.
  unsafe { raw::call(libc::SYS_mount_setattr, &[tree as usize, s(empty), flags, attr.as_ptr() as usize, 32]) }
}

pub fn fsopen(fstype: &CStr) -> isize {
  // SAFETY: `fstype` is NUL-terminated.
  unsafe { raw::call(libc::SYS_fsopen, &[s(fstype), FSOPEN_CLOEXEC]) }
}

/// One `key=value` option of a filesystem context (`value` None: a flag such as "newinstance").
pub fn fsconfig(fs: i32, key: &CStr, value: Option<&CStr>) -> isize {
  let (cmd, v) = match value {
    Some(v) => (FSCONFIG_SET_STRING, s(v)),
    None => (FSCONFIG_SET_FLAG, 0),
  };
  // SAFETY: `key` and `value` are NUL-terminated (or NULL for a flag).
  unsafe { raw::call(libc::SYS_fsconfig, &[fs as usize, cmd, s(key), v, 0]) }
}

/// Creates the filesystem configured in `fs` and returns a detached mount of it with `attrs`.
pub fn fsmount(fs: i32, attrs: u64) -> isize {
  // SAFETY: integer arguments and NULLs.
  let r = unsafe { raw::call(libc::SYS_fsconfig, &[fs as usize, FSCONFIG_CMD_CREATE, 0, 0, 0]) };
  if r < 0 {
    return r;
  }
  // SAFETY: integer arguments.
  unsafe { raw::call(libc::SYS_fsmount, &[fs as usize, FSMOUNT_CLOEXEC, attrs as usize]) }
}
