//! The parent's half of the user namespace handshake: writing the child's setgroups, uid_map and
//! gid_map while the child waits. Only a process outside the new namespace can grant it ids.

use std::os::fd::AsFd;

use super::plan::Plan;
use crate::error::Result;
use crate::ns_type::NsType;
use crate::sys;

fn write_proc(pid: i32, file: &str, body: &[u8], step: &'static str) -> Result<()> {
  let path = format!("/proc/{pid}/{file}");
  let tag = |e: crate::Error| e.step(step).ns(NsType::User).path(path.clone());
  let fd = sys::open(&path, libc::O_WRONLY, 0).map_err(tag)?;
  // The kernel takes a map from a single write; a second write to the same file fails.
  sys::write_all(fd.as_fd(), body).map_err(tag)
}

/// setgroups first: an unprivileged writer may only set gid_map once it says "deny".
pub fn write(pid: i32, plan: &Plan) -> Result<()> {
  if plan.setgroups_deny {
    write_proc(pid, "setgroups", b"deny", "setgroups")?;
  }
  if let Some(body) = &plan.uid_map {
    write_proc(pid, "uid_map", body, "uid_map")?;
  }
  if let Some(body) = &plan.gid_map {
    write_proc(pid, "gid_map", body, "gid_map")?;
  }
  Ok(())
}
