//! The few facts persist/unpersist/list need from /proc/thread-self/mountinfo.

#[derive(Debug, Clone)]
pub struct Mount {
  pub id: u32,
  pub parent: u32,
  /// The filesystem's device, "major:minor".
  pub dev: String,
  /// The mounted file's path inside its filesystem (for nsfs: "net:[4026532177]").
  pub root: String,
  pub mount_point: String,
  pub fstype: String,
  /// The optional fields; "shared:N" means the mount propagates.
  pub shared: bool,
}

/// mountinfo escapes space, tab, newline and backslash as \ooo octal.
fn unescape(s: &str) -> String {
  let b = s.as_bytes();
  let mut out = Vec::with_capacity(b.len());
  let mut i = 0;
  while i < b.len() {
    if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
      out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
      i += 4;
    } else {
      out.push(b[i]);
      i += 1;
    }
  }
  String::from_utf8_lossy(&out).into_owned()
}

pub fn parse(text: &str) -> Vec<Mount> {
  text
    .lines()
    .filter_map(|line| {
      let (left, right) = line.split_once(" - ")?;
      let f: Vec<&str> = left.split(' ').collect();
      if f.len() < 6 {
        return None;
      }
      Some(Mount {
        id: f[0].parse().ok()?,
        parent: f[1].parse().ok()?,
        dev: f[2].to_string(),
        root: unescape(f[3]),
        mount_point: unescape(f[4]),
        fstype: right.split(' ').next()?.to_string(),
        shared: f[6..].iter().any(|o| o.starts_with("shared:")),
      })
    })
    .collect()
}

/// The mounts of the calling thread's mount namespace.
pub fn read() -> Vec<Mount> {
  std::fs::read_to_string("/proc/thread-self/mountinfo").map(|t| parse(&t)).unwrap_or_default()
}

/// The mount that contains `path` (which must be absolute and canonical): the last-mounted entry
/// with the longest mount point that is a prefix of it.
pub fn containing<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
  let under = |mp: &str| path == mp || mp == "/" || path.starts_with(&format!("{mp}/"));
  mounts.iter().filter(|m| under(&m.mount_point)).max_by_key(|m| m.mount_point.len())
}

/// The topmost mount at exactly `path`: mountinfo lists a namespace's mounts in the order they
/// were attached, so the last one there is the one lookups see.
pub fn top_at<'a>(mounts: &'a [Mount], path: &str) -> Option<&'a Mount> {
  mounts.iter().rev().find(|m| m.mount_point == path)
}

/// Every mount below mount `id` (children, their children, ...), not `id` itself.
pub fn descendants(mounts: &[Mount], id: u32) -> Vec<&Mount> {
  let mut found: Vec<&Mount> = Vec::new();
  let mut parents = vec![id];
  while let Some(parent) = parents.pop() {
    for m in mounts.iter().filter(|m| m.parent == parent && m.id != parent) {
      found.push(m);
      parents.push(m.id);
    }
  }
  found
}

impl Mount {
  /// Whether this is the same mount as `other`, as far as mountinfo can tell: the kernel reuses
  /// mount ids, so a mount made later at the same place can have the id of one that is gone, but
  /// not also its filesystem and root.
  pub fn same(&self, other: &Mount) -> bool {
    self.id == other.id && self.dev == other.dev && self.root == other.root && self.mount_point == other.mount_point
  }

  /// Whether `other` shows the same filesystem and subtree at the same place (a copy of it made
  /// by a recursive bind has all of that and a new id).
  pub fn same_place(&self, other: &Mount) -> bool {
    self.dev == other.dev && self.root == other.root && self.mount_point == other.mount_point
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn descendants_and_top_mount() {
    let t = "1 0 0:1 / / rw - ext4 a rw\n\
             2 1 0:2 / /run rw shared:2 - tmpfs b rw\n\
             3 2 0:3 / /run/lock rw - tmpfs c rw\n\
             4 2 0:2 / /run rw - tmpfs b rw\n\
             5 4 0:3 / /run/lock rw - tmpfs c rw\n\
             6 5 0:4 / /run/lock/x rw - tmpfs d rw\n";
    let m = parse(t);
    let ids = |id| {
      let mut v: Vec<u32> = descendants(&m, id).iter().map(|d| d.id).collect();
      v.sort();
      v
    };
    assert_eq!(top_at(&m, "/run").unwrap().id, 4);
    assert_eq!(ids(4), [5, 6]);
    assert_eq!(ids(2), [3, 4, 5, 6]);
    assert!(ids(6).is_empty());
    assert!(m[4].same_place(&m[2]), "5 is a copy of 3");
    assert!(!m[4].same(&m[2]));
  }

  #[test]
  fn parses_nsfs_and_shared() {
    let t = "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n\
             90 27 0:4 net:[4026532177] /run/netns/a\\040b rw - nsfs nsfs rw\n";
    let m = parse(t);
    assert_eq!(m.len(), 2);
    assert!(m[0].shared);
    assert_eq!(m[1].root, "net:[4026532177]");
    assert_eq!(m[1].mount_point, "/run/netns/a b");
    assert_eq!(m[1].fstype, "nsfs");
    assert_eq!(containing(&m, "/run/netns").unwrap().id, 27);
  }
}
