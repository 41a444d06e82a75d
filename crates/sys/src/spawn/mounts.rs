//! `mounts` and `root_tmpfs`, decided before clone: each entry becomes a `MountOp` holding every
//! string the child needs (the target's components and their prefixes, the source, the
//! filesystem options) and the modes bubblewrap gives what it creates.

use std::ffi::CString;

use super::mount_syscalls::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use super::spec::{Mount, MountKind};
use crate::error::{Error, Result};
use crate::step::Step;

/// What the child does at one target.
#[derive(Debug)]
pub enum Op {
  Bind {
    source: CString,
    attrs: u64,
  },
  /// A new tmpfs with `options` (key, value).
  Tmpfs {
    options: Vec<(CString, CString)>,
  },
  Proc,
  /// A new sysfs, over the target once what is mounted there is detached.
  Sysfs,
  Dev,
  Dir {
    mode: u32,
  },
  File {
    data: Vec<u8>,
    mode: u32,
  },
  Symlink {
    link_to: CString,
  },
}

#[derive(Debug)]
pub struct MountOp {
  /// The target as given, for errors.
  pub target_path: String,
  /// The target relative to the new root ("a/b/c").
  pub target: CString,
  /// Its components ("a", "b", "c"), and the paths of its parents ("a", "a/b").
  pub comps: Vec<CString>,
  pub parents: Vec<CString>,
  /// The mode of the parent directories the child creates.
  pub parent_mode: u32,
  pub op: Op,
}

fn invalid(i: usize, target: &str) -> Error {
  Error::os(libc::EINVAL, "mount").step(Step::Mount).mount_index(i as u32).path(target)
}

fn cstring(s: &str, i: usize, target: &str) -> Result<CString> {
  CString::new(s).map_err(|_| invalid(i, target))
}

/// bubblewrap's rule for parents: 0755, less the group's bits when the mode gives the group
/// nothing, less the others' when it gives them nothing, so that a private file does not sit in
/// directories that show it.
fn parent_mode(mode: Option<u32>) -> u32 {
  let mut m = 0o755;
  if let Some(mode) = mode {
    if mode & 0o070 == 0 {
      m &= !0o050;
    }
    if mode & 0o007 == 0 {
      m &= !0o005;
    }
  }
  m
}

pub fn plan(mounts: &[Mount]) -> Result<Vec<MountOp>> {
  if mounts.len() >= u16::MAX as usize {
    return Err(Error::os(libc::E2BIG, "mount").step(Step::Mount));
  }
  mounts.iter().enumerate().map(|(i, m)| plan_one(i, m)).collect()
}

fn plan_one(i: usize, m: &Mount) -> Result<MountOp> {
  let t = m.target.as_str();
  let parts: Vec<&str> = t.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
  if !t.starts_with('/') || parts.is_empty() || parts.contains(&"..") {
    return Err(invalid(i, t));
  }
  let comps = parts.iter().map(|c| cstring(c, i, t)).collect::<Result<Vec<_>>>()?;
  let parents = (1..parts.len()).map(|n| cstring(&parts[..n].join("/"), i, t)).collect::<Result<Vec<_>>>()?;
  let (op, mode) = match &m.kind {
    MountKind::Bind { source, readonly } => {
      let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | if *readonly { MOUNT_ATTR_RDONLY } else { 0 };
      (Op::Bind { source: cstring(source, i, t)?, attrs }, None)
    }
    MountKind::Tmpfs { size, mode } => {
      let mut options = vec![(c"mode".to_owned(), cstring(&format!("{mode:o}"), i, t)?)];
      if let Some(size) = size {
        options.push((c"size".to_owned(), cstring(&size.to_string(), i, t)?));
      }
      (Op::Tmpfs { options }, Some(*mode))
    }
    MountKind::Proc => (Op::Proc, None),
    MountKind::Sysfs => (Op::Sysfs, None),
    MountKind::Dev => (Op::Dev, None),
    MountKind::Dir { mode } => (Op::Dir { mode: *mode }, Some(*mode)),
    MountKind::File { data, mode } => (Op::File { data: data.clone(), mode: *mode }, Some(*mode)),
    MountKind::Symlink { link_to } => (Op::Symlink { link_to: cstring(link_to, i, t)? }, None),
  };
  Ok(MountOp {
    target_path: m.target.clone(),
    target: cstring(&parts.join("/"), i, t)?,
    comps,
    parents,
    parent_mode: parent_mode(mode),
    op,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  fn m(target: &str, kind: MountKind) -> Mount {
    Mount { target: target.into(), kind }
  }

  #[test]
  fn targets_are_split_and_parent_modes_follow_bubblewrap() {
    let ops = plan(&[m("/a//b/./c", MountKind::Dir { mode: 0o700 }), m("/x", MountKind::Proc)]).unwrap();
    assert_eq!(ops[0].target.to_str().unwrap(), "a/b/c");
    assert_eq!(ops[0].comps.len(), 3);
    assert_eq!(ops[0].parents.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>(), ["a", "a/b"]);
    assert_eq!(ops[0].parent_mode, 0o700);
    assert_eq!(ops[1].parent_mode, 0o755);
    for (mode, parent) in
      [(0o1777, 0o755), (0o644, 0o755), (0o750, 0o750), (0o710, 0o750), (0o604, 0o705), (0, 0o700)]
    {
      assert_eq!(parent_mode(Some(mode)), parent, "{mode:o}");
    }
  }

  #[test]
  fn bad_targets_name_their_index() {
    for t in ["relative", "/", "/a/../b", "/a\0b"] {
      let e = plan(&[m("/ok", MountKind::Proc), m(t, MountKind::Proc)]).unwrap_err();
      assert_eq!((e.errno, e.step, e.mount_index), (libc::EINVAL, Some(Step::Mount), Some(1)), "{t:?}");
    }
  }
}
