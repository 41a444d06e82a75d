//! The child's side of `mounts` and `root_tmpfs`: each `MountOp` applied below a root directory
//! descriptor, every target resolved with RESOLVE_IN_ROOT (a symbolic link in the sandbox being
//! built cannot lead a mount out of it), every source from the process's root (ours, as the
//! caller named it). Runs in the child: no allocation, raw calls only. A failure reports the
//! site and the index of the entry; the child's mount namespace dies with it, so nothing
//! half-built is left mounted anywhere.

use std::ffi::CStr;

use super::child::{fail_report, Args};
use super::handshake::Report;
use super::mount_syscalls::{self as m, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID};
use super::mounts::{MountOp, Op};
use super::site::Site;
use crate::spawn::child_syscalls as k;

/// The device nodes a `dev` entry binds from our /dev, as bubblewrap does.
const DEV_NODES: [(&CStr, &CStr); 6] = [
  (c"null", c"/dev/null"),
  (c"zero", c"/dev/zero"),
  (c"full", c"/dev/full"),
  (c"random", c"/dev/random"),
  (c"urandom", c"/dev/urandom"),
  (c"tty", c"/dev/tty"),
];

/// The links of a `dev` entry: name, where it points.
const DEV_LINKS: [(&CStr, &CStr); 6] = [
  (c"stdin", c"/proc/self/fd/0"),
  (c"stdout", c"/proc/self/fd/1"),
  (c"stderr", c"/proc/self/fd/2"),
  (c"fd", c"/proc/self/fd"),
  (c"core", c"/proc/kcore"),
  (c"ptmx", c"pts/ptmx"),
];

/// The entry being applied, for reports.
#[derive(Clone, Copy)]
struct At<'a> {
  a: &'a Args<'a>,
  index: Option<u16>,
}

impl At<'_> {
  fn check(self, ret: isize, site: Site) -> isize {
    if ret < 0 {
      fail_report(self.a, Report { site, ns: None, errno: ret.wrapping_neg() as i32, mount: self.index });
    }
    ret
  }

  /// As `check`, but an existing file is fine.
  fn check_exists_ok(self, ret: isize, site: Site) {
    if ret != -(libc::EEXIST as isize) {
      self.check(ret, site);
    }
  }
}

/// A new tmpfs (mode 0755) attached over "/" as the new root, returned as a descriptor of its
/// root: sources are still resolved from the old root (the process's root is not the stacked
/// mount) until the child pivots into it.
pub fn tmpfs_root(a: &Args<'_>) -> i32 {
  let at = At { a, index: None };
  let fs = at.check(m::fsopen(c"tmpfs"), Site::MountFsopen) as i32;
  at.check(m::fsconfig(fs, c"mode", Some(c"755")), Site::MountFsconfig);
  let root = at.check(m::fsmount(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), Site::MountFsmount) as i32;
  k::close(fs);
  at.check(m::move_mount(root, libc::AT_FDCWD, c"/"), Site::MountMove);
  root
}

/// Makes the tmpfs root the current directory.
pub fn enter(root: i32) -> isize {
  k::fchdir(root)
}

/// The directory `mountProc` mounts on, in a tmpfs root (the current directory).
pub fn make_proc_dir(a: &Args<'_>) {
  At { a, index: None }.check_exists_ok(m::mkdirat(libc::AT_FDCWD, c"proc", 0o755), Site::MountMkdir);
}

/// Opens `path` as the root the entries are applied below.
pub fn open_root(a: &Args<'_>, path: &CStr) -> i32 {
  At { a, index: None }
    .check(k::open(path, libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC), Site::MountOpen) as i32
}

/// Applies every entry, in order, below `root`, with a umask of 0 so that modes are exact.
pub fn apply_all(a: &Args<'_>, root: i32) {
  let old = m::umask(0);
  for (i, op) in a.plan.mounts.iter().enumerate() {
    apply(At { a, index: Some(i as u16) }, root, op);
  }
  m::umask(old);
}

fn apply(at: At<'_>, root: i32, op: &MountOp) {
  let parent = make_parents(at, root, op);
  let Some(leaf) = op.comps.last() else { return };
  match &op.op {
    Op::Bind { source, attrs } => {
      let tree = at.check(m::clone_tree(source), Site::MountSource) as i32;
      if at.check(m::is_dir(tree), Site::MountSource) == 1 {
        at.check_exists_ok(m::mkdirat(parent, leaf, 0o755), Site::MountMkdir);
      } else {
        let f =
          at.check(m::open_in_root(root, &op.target, libc::O_CREAT | libc::O_RDONLY, 0o444), Site::MountOpen);
        k::close(f as i32);
      }
      at.check(m::set_mount_attrs(tree, *attrs), Site::MountSetattr);
      attach(at, root, op, tree);
    }
    Op::Tmpfs { options } => {
      at.check_exists_ok(m::mkdirat(parent, leaf, 0o755), Site::MountMkdir);
      let fs = at.check(m::fsopen(c"tmpfs"), Site::MountFsopen) as i32;
      for (key, value) in options {
        at.check(m::fsconfig(fs, key, Some(value)), Site::MountFsconfig);
      }
      let mnt = at.check(m::fsmount(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), Site::MountFsmount) as i32;
      k::close(fs);
      attach(at, root, op, mnt);
    }
    Op::Proc | Op::Sysfs => {
      at.check_exists_ok(m::mkdirat(parent, leaf, 0o755), Site::MountMkdir);
      // A sysfs replaces what is there, as ip netns exec's does; a proc goes on top.
      let name = if matches!(op.op, Op::Sysfs) {
        detach(at, root, op);
        c"sysfs"
      } else {
        c"proc"
      };
      let fs = at.check(m::fsopen(name), Site::MountFsopen) as i32;
      let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
      let mnt = at.check(m::fsmount(fs, attrs), Site::MountFsmount) as i32;
      k::close(fs);
      attach(at, root, op, mnt);
    }
    Op::Dev => {
      at.check_exists_ok(m::mkdirat(parent, leaf, 0o755), Site::MountMkdir);
      let fs = at.check(m::fsopen(c"tmpfs"), Site::MountFsopen) as i32;
      at.check(m::fsconfig(fs, c"mode", Some(c"755")), Site::MountFsconfig);
      let dev = at.check(m::fsmount(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), Site::MountFsmount) as i32;
      k::close(fs);
      attach_keep(at, root, op, dev);
      fill_dev(at, dev);
      k::close(dev);
    }
    Op::Dir { mode } => at.check_exists_ok(m::mkdirat(parent, leaf, *mode), Site::MountMkdir),
    Op::File { data, mode } => {
      let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
      let f = at.check(m::open_in_root(root, &op.target, flags, *mode), Site::MountOpen) as i32;
      let mut rest: &[u8] = data;
      while !rest.is_empty() {
        let n = at.check(k::write(f, rest), Site::MountWrite);
        rest = &rest[n as usize..];
      }
      k::close(f);
    }
    Op::Symlink { link_to } => {
      let r = m::symlinkat(link_to, parent, leaf);
      // One that points where asked already is fine (bubblewrap's --symlink is idempotent).
      if r != -(libc::EEXIST as isize) || !links_to(parent, leaf, link_to) {
        at.check(r, Site::MountSymlink);
      }
    }
  }
  if parent != root {
    k::close(parent);
  }
}

/// Creates the target's missing parents with the entry's parent mode; returns the descriptor of
/// the last (`root` itself for a target right below it).
fn make_parents(at: At<'_>, root: i32, op: &MountOp) -> i32 {
  let mut dir = root;
  for (comp, path) in op.comps.iter().zip(op.parents.iter()) {
    at.check_exists_ok(m::mkdirat(dir, comp, op.parent_mode), Site::MountMkdir);
    if dir != root {
      k::close(dir);
    }
    dir = at.check(m::open_in_root(root, path, libc::O_PATH | libc::O_DIRECTORY, 0), Site::MountOpen) as i32;
  }
  dir
}

/// Detaches what is mounted at the entry's target, with the mounts below it (umount -l), as
/// `ip netns exec` does to /sys: umount2 of "." once the target, opened in the root (no symbolic
/// link leads out of it), is the working directory, which is then put back. Nothing mounted
/// there is EINVAL, and so is a mount locked by a more privileged user namespace: the new one
/// then goes on top.
fn detach(at: At<'_>, root: i32, op: &MountOp) {
  let dir = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
  let cwd = at.check(k::open(c".", dir), Site::MountOpen) as i32;
  let target =
    at.check(m::open_in_root(root, &op.target, libc::O_PATH | libc::O_DIRECTORY, 0), Site::MountOpen) as i32;
  at.check(k::fchdir(target), Site::MountChdir);
  let r = k::umount2(c".", libc::MNT_DETACH);
  at.check(k::fchdir(cwd), Site::MountChdir);
  k::close(target);
  k::close(cwd);
  if r != -(libc::EINVAL as isize) {
    at.check(r, Site::MountUmount);
  }
}

/// Moves the detached mount `mnt` onto the entry's target and closes it.
fn attach(at: At<'_>, root: i32, op: &MountOp, mnt: i32) {
  attach_keep(at, root, op, mnt);
  k::close(mnt);
}

/// Moves `mnt` onto the target; `mnt` then names the attached mount's root.
fn attach_keep(at: At<'_>, root: i32, op: &MountOp, mnt: i32) {
  let target = at.check(m::open_in_root(root, &op.target, libc::O_PATH, 0), Site::MountOpen) as i32;
  at.check(m::move_mount(mnt, target, c""), Site::MountMove);
  k::close(target);
}

/// bubblewrap's /dev in the tmpfs `dev` (attached already).
fn fill_dev(at: At<'_>, dev: i32) {
  for (name, host) in DEV_NODES {
    let f =
      at.check(m::openat(dev, name, libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY, 0o444), Site::MountOpen);
    k::close(f as i32);
    let tree = at.check(m::clone_tree(host), Site::MountSource) as i32;
    at.check(m::move_mount(tree, dev, name), Site::MountMove);
    k::close(tree);
  }
  for (name, to) in DEV_LINKS {
    at.check(m::symlinkat(to, dev, name), Site::MountSymlink);
  }
  at.check(m::mkdirat(dev, c"shm", 0o755), Site::MountMkdir);
  at.check(m::mkdirat(dev, c"pts", 0o755), Site::MountMkdir);
  let fs = at.check(m::fsopen(c"devpts"), Site::MountFsopen) as i32;
  at.check(m::fsconfig(fs, c"newinstance", None), Site::MountFsconfig);
  at.check(m::fsconfig(fs, c"ptmxmode", Some(c"0666")), Site::MountFsconfig);
  at.check(m::fsconfig(fs, c"mode", Some(c"620")), Site::MountFsconfig);
  let pts = at.check(m::fsmount(fs, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC), Site::MountFsmount) as i32;
  k::close(fs);
  at.check(m::move_mount(pts, dev, c"pts"), Site::MountMove);
  k::close(pts);
}

/// Whether the link `name` in `dir` points to `to` already.
fn links_to(dir: i32, name: &CStr, to: &CStr) -> bool {
  let mut buf = [0u8; 4096];
  let n = m::readlinkat(dir, name, &mut buf);
  n >= 0 && &buf[..n as usize] == to.to_bytes()
}
