//! What nsfs says: the "type:[inode]" names of its files, and where it is bind-mounted.

use crate::mountinfo;
use crate::ns_type::NsType;

/// "net:[4026532177]", as nsfs names its files (a mount's root, a descriptor's link).
pub(super) fn parse_id(id: &[u8]) -> Option<(NsType, u64)> {
  let id = std::str::from_utf8(id).ok()?;
  let (name, rest) = id.split_once(":[")?;
  Some((NsType::from_name(name)?, rest.strip_suffix(']')?.parse().ok()?))
}

/// Every nsfs bind mount in the calling thread's mount namespace: (mount point, "type:[inode]"),
/// each once. Under a shared parent the kernel propagates a namespace persisted in a self-bound
/// directory also to the parent mount, where the self-bind hides it (as with `ip netns add` on a
/// systemd /run): the same place twice in mountinfo.
pub(super) fn nsfs_mounts() -> Vec<(String, String)> {
  let mut seen = std::collections::BTreeSet::new();
  mountinfo::read()
    .into_iter()
    .filter(|m| m.fstype == "nsfs")
    .map(|m| (m.mount_point, m.root))
    .filter(|p| seen.insert(p.clone()))
    .collect()
}
