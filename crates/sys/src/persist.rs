//! Keeping a namespace alive after its last process and handle are gone: a bind mount of its
//! nsfs file, as `ip netns add` and `unshare --net=FILE` do.

use std::sync::Mutex;

use crate::error::{Error, Result, Rule};
use crate::handle::{NsHandle, NSFS_MAGIC};
use crate::mountinfo::{self, Mount};
use crate::sys;

/// A directory this process bind-mounted onto itself to make it private, so that `unpersist`
/// can take that mount away again once nothing is persisted in it.
struct SelfBound {
  dir: String,
  /// Our bind mount at `dir`.
  ours: Mount,
  /// The copies of `dir`'s submounts that the recursive bind made (e.g. /run/lock under a
  /// systemd /run): these were there before us and do not keep our mount.
  copies: Vec<Mount>,
}

static SELF_BOUND: Mutex<Vec<SelfBound>> = Mutex::new(Vec::new());

/// The canonical parent directory of `path` and its file name; `create` makes missing parents.
fn split(path: &str, create: bool) -> Result<(String, String)> {
  let p = std::path::Path::new(path);
  let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
    return Err(Error::os(libc::EINVAL, "mount").path(path));
  };
  if create {
    std::fs::create_dir_all(dir).map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EIO), "mkdir").path(dir.to_string_lossy()))?;
  }
  let dir = std::fs::canonicalize(dir).map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EIO), "realpath").path(path))?;
  Ok((dir.to_string_lossy().into_owned(), name.to_string_lossy().into_owned()))
}

/// A bind mount does not work under a shared mount for every namespace type (the kernel refuses
/// mnt namespace files there, and propagation would copy the mount into peers), so the parent
/// directory becomes a private mount of its own first, as `ip netns add` does for /run/netns.
fn make_parent_private(dir: &str) -> Result<()> {
  let mounts = mountinfo::read();
  let Some(m) = mountinfo::containing(&mounts, dir) else { return Ok(()) };
  if !m.shared {
    return Ok(());
  }
  // Always a mount of our own, also when `dir` is already a mount point: changing the propagation
  // of an existing mount (/run, a tmpfs /tmp) would change it for everything else using it.
  let below = format!("{dir}/");
  let before: Vec<Mount> = mounts.into_iter().filter(|m| m.mount_point.starts_with(&below)).collect();
  sys::mount(dir, dir, None, libc::MS_BIND | libc::MS_REC)?;
  let after = mountinfo::read();
  if let Some(ours) = mountinfo::top_at(&after, dir) {
    // Only what matches a mount that was there before: anything mounted below meanwhile is not
    // a copy, and keeps our mount (the safe way to be wrong).
    let copies = mountinfo::descendants(&after, ours.id).into_iter().filter(|c| before.iter().any(|b| b.same_place(c))).cloned().collect();
    SELF_BOUND.lock().unwrap_or_else(|p| p.into_inner()).push(SelfBound { dir: dir.to_string(), ours: ours.clone(), copies });
  }
  sys::mount("none", dir, None, libc::MS_PRIVATE)
}

/// Bind-mounts the namespace `h` holds onto `path` (created, must not exist).
pub fn persist(h: &NsHandle, path: &str) -> Result<()> {
  let tag = |e: Error| e.ns(h.ns_type()).path(path);
  let (dir, name) = split(path, true).map_err(tag)?;
  let target = if dir == "/" { format!("/{name}") } else { format!("{dir}/{name}") };
  make_parent_private(&dir).map_err(tag)?;
  drop(sys::open(&target, libc::O_RDONLY | libc::O_CREAT | libc::O_EXCL, 0o444).map_err(tag)?);
  let src = format!("/proc/self/fd/{}", h.raw_fd());
  if let Err(e) = sys::mount(&src, &target, None, libc::MS_BIND) {
    let _ = sys::unlink(&target);
    release_parent(&dir);
    return Err(tag(e));
  }
  Ok(())
}

/// Unmounts a persisted namespace and removes its file.
pub fn unpersist(path: &str) -> Result<()> {
  match sys::statfs_type(path) {
    Ok(NSFS_MAGIC) => {}
    Ok(_) => return Err(Error::rule(Rule::NotNamespace, "statfs").path(path)),
    Err(e) => return Err(e),
  }
  sys::umount(path, libc::MNT_DETACH)?;
  sys::unlink(path)?;
  if let Ok((dir, _)) = split(path, false) {
    release_parent(&dir);
  }
  Ok(())
}

/// Takes away the self bind mount `make_parent_private` made, once nothing has been mounted below
/// it since (a persisted namespace, or anything of anyone else's) and nothing stacked on top.
fn release_parent(dir: &str) {
  let mut bound = SELF_BOUND.lock().unwrap_or_else(|p| p.into_inner());
  let Some(i) = bound.iter().position(|b| b.dir == dir) else { return };
  let mounts = mountinfo::read();
  let b = &bound[i];
  if !mountinfo::top_at(&mounts, dir).is_some_and(|top| top.same(&b.ours)) {
    return;
  }
  if mountinfo::descendants(&mounts, b.ours.id).iter().any(|d| !b.copies.iter().any(|c| c.same(d))) {
    return;
  }
  if sys::umount(dir, libc::MNT_DETACH).is_ok() {
    bound.remove(i);
  }
}

/// Every nsfs bind mount in the calling thread's mount namespace: (mount point, "type:[inode]").
pub fn persisted() -> Vec<(String, String)> {
  mountinfo::read().into_iter().filter(|m| m.fstype == "nsfs").map(|m| (m.mount_point, m.root)).collect()
}
