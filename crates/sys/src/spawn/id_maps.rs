//! A new user namespace's ids: the three files that grant them (setgroups, uid_map, gid_map), the
//! one order they are written in, whoever writes them, and the parent's writing of them while the
//! child waits. Only a process outside the new namespace can grant it ids, except the child's own
//! (see `Plan::late_user`), which the child then writes itself.

use std::ffi::CStr;
use std::os::fd::AsFd;

use super::site::Site;
use crate::error::Result;
use crate::ns_type::NsType;
use crate::syscall;

/// One of the files of `/proc/<pid>/` that set a user namespace's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdFile {
  Setgroups,
  UidMap,
  GidMap,
}

impl IdFile {
  /// The file's name under `/proc/<pid>/`.
  pub fn name(self) -> &'static str {
    match self {
      IdFile::Setgroups => "setgroups",
      IdFile::UidMap => "uid_map",
      IdFile::GidMap => "gid_map",
    }
  }

  /// The same file of the child itself, for the child to write (it may not format a path).
  pub fn of_self(self) -> &'static CStr {
    match self {
      IdFile::Setgroups => c"/proc/self/setgroups",
      IdFile::UidMap => c"/proc/self/uid_map",
      IdFile::GidMap => c"/proc/self/gid_map",
    }
  }

  /// Where the child's own write of it fails; its step is the one the parent's write reports too.
  pub fn site(self) -> Site {
    match self {
      IdFile::Setgroups => Site::SelfSetgroups,
      IdFile::UidMap => Site::SelfUidMap,
      IdFile::GidMap => Site::SelfGidMap,
    }
  }
}

/// What a new user namespace's id files get, decided before clone.
#[derive(Debug, Default)]
pub struct IdMaps {
  /// setgroups 'deny' asked for: written first, and then no setgroups(2) in the child.
  pub setgroups_deny: bool,
  pub uid_map: Option<Vec<u8>>,
  pub gid_map: Option<Vec<u8>>,
}

impl IdMaps {
  /// Calls `write` for each file that gets something, in the one order that works: setgroups
  /// first, since without CAP_SETGID in the parent namespace gid_map may only be set once it says
  /// "deny"; then uid_map, then gid_map. Stops at the first error. No allocation and no loop, so
  /// the child may call it.
  #[inline(always)]
  pub fn write_in_order<E>(
    &self,
    mut write: impl FnMut(IdFile, &[u8]) -> std::result::Result<(), E>,
  ) -> std::result::Result<(), E> {
    if self.setgroups_deny {
      write(IdFile::Setgroups, b"deny")?;
    }
    if let Some(body) = self.uid_map.as_deref() {
      write(IdFile::UidMap, body)?;
    }
    if let Some(body) = self.gid_map.as_deref() {
      write(IdFile::GidMap, body)?;
    }
    Ok(())
  }

  /// The parent's writes, for child `pid` waiting in its new user namespace.
  pub fn write_for(&self, pid: i32) -> Result<()> {
    self.write_in_order(|file, body| {
      let path = format!("/proc/{pid}/{}", file.name());
      let tag = |e: crate::Error| e.step(file.site().step()).ns(NsType::User).path(path.clone());
      let fd = syscall::open(&path, libc::O_WRONLY, 0).map_err(tag)?;
      // The kernel takes a map from a single write; a second write to the same file fails.
      syscall::write_all(fd.as_fd(), body).map_err(tag)
    })
  }
}
