//! The few facts persist/unpersist/list need from /proc/thread-self/mountinfo.

#[derive(Debug, Clone)]
pub struct Mount {
  pub id: u32,
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

#[cfg(test)]
mod tests {
  use super::*;

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
