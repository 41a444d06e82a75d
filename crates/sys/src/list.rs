//! Every namespace visible from /proc, like `lsns`: the processes in it, the lowest pid with its
//! command and uid, and the paths it is bind-mounted at. Reads only (stat, no open), so it never
//! touches a namespace it lists.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use crate::ns_type::NsType;
use crate::persist;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsInfo {
  pub ty: NsType,
  pub inode: u64,
  /// Processes in it (by /proc/<pid>/ns, threads not counted, as lsns does).
  pub nprocs: u32,
  /// The lowest pid in it, and that process's command line and uid.
  pub pid: Option<i32>,
  pub command: Option<String>,
  pub uid: Option<u32>,
  /// nsfs bind mounts of it in the caller's mount namespace.
  pub paths: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
  pub ty: Option<NsType>,
  pub pid: Option<i32>,
}

fn pids() -> Vec<i32> {
  let mut v: Vec<i32> = std::fs::read_dir("/proc")
    .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
    .unwrap_or_default();
  v.sort_unstable();
  v
}

fn command(pid: i32) -> Option<String> {
  let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
  let s: Vec<String> = raw.split(|b| *b == 0).filter(|a| !a.is_empty()).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
  if s.is_empty() {
    // Kernel threads have no command line; lsns shows their comm.
    return std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_string());
  }
  Some(s.join(" "))
}

fn parse_id(root: &str) -> Option<(NsType, u64)> {
  let (name, rest) = root.split_once(":[")?;
  Some((NsType::from_name(name)?, rest.strip_suffix(']')?.parse().ok()?))
}

pub fn list(filter: &Filter) -> Vec<NsInfo> {
  let types: Vec<NsType> = NsType::ALL.into_iter().filter(|t| filter.ty.is_none_or(|f| f == *t) && t.supported()).collect();
  let mut found: BTreeMap<(u64, NsType), NsInfo> = BTreeMap::new();
  let mut wanted: Option<Vec<(u64, NsType)>> = None;
  for pid in pids() {
    for &ty in &types {
      let Ok(md) = std::fs::metadata(format!("/proc/{pid}/ns/{}", ty.name())) else { continue };
      let e = found.entry((md.ino(), ty)).or_insert_with(|| NsInfo {
        ty,
        inode: md.ino(),
        nprocs: 0,
        pid: None,
        command: None,
        uid: None,
        paths: vec![],
      });
      e.nprocs += 1;
      if e.pid.is_none() {
        e.pid = Some(pid);
      }
      if filter.pid == Some(pid) {
        wanted.get_or_insert_with(Vec::new).push((md.ino(), ty));
      }
    }
  }
  for (mount_point, root) in persist::persisted() {
    let Some((ty, inode)) = parse_id(&root) else { continue };
    if !types.contains(&ty) {
      continue;
    }
    found
      .entry((inode, ty))
      .or_insert_with(|| NsInfo { ty, inode, nprocs: 0, pid: None, command: None, uid: None, paths: vec![] })
      .paths
      .push(mount_point);
  }
  let mut out: Vec<NsInfo> = found
    .into_iter()
    .filter(|(k, _)| filter.pid.is_none() || wanted.as_ref().is_some_and(|w| w.contains(k)))
    .map(|(_, mut v)| {
      if let Some(pid) = v.pid {
        v.command = command(pid);
        v.uid = std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid());
      }
      v
    })
    .collect();
  out.sort_by_key(|n| (n.inode, n.ty));
  out
}

/// A uid's login name, as lsns prints it in its USER column: through the C library's name service
/// (getpwuid_r), so users from LDAP, sssd or systemd-userdb resolve as they do for lsns, not only
/// those in /etc/passwd. NSS may load modules and take locks: never call this in a clone child.
pub fn user_name(uid: u32) -> Option<String> {
  let mut buf = vec![0u8; 1024];
  loop {
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct (null pointers).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `pw`, `buf` (of the length passed) and `found` are valid for writes for the call;
    // the strings stored in `pw` point into `buf`, which outlives their use below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
    match rc {
      libc::EINTR => continue,
      // A group-sized entry (sssd can return large ones): grow, within reason.
      libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
      0 if !found.is_null() && !pw.pw_name.is_null() => {
        // SAFETY: on success pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return Some(name.to_string_lossy().into_owned());
      }
      _ => return None,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::handle::NsHandle;

  #[test]
  fn lists_our_own_namespaces() {
    let me = std::process::id() as i32;
    let all = list(&Filter { ty: None, pid: Some(me) });
    assert_eq!(all.len(), NsType::ALL.len());
    let net = NsHandle::current(NsType::Net).unwrap();
    let mine = all.iter().find(|n| n.ty == NsType::Net).unwrap();
    assert_eq!(mine.inode, net.inode());
    assert!(mine.nprocs >= 1);
  }

  #[test]
  fn root_has_a_name() {
    assert_eq!(user_name(0).as_deref(), Some("root"));
  }

  #[test]
  fn names_come_from_the_name_service() {
    // What getent asks the name service (nsswitch.conf) for the same uid: every entry it lists.
    let out = std::process::Command::new("getent").arg("passwd").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    for line in text.lines() {
      let f: Vec<&str> = line.split(':').collect();
      let Some(uid) = f.get(2).and_then(|u| u.parse::<u32>().ok()) else { continue };
      // The first entry of a uid is the one lookups by uid return.
      if text.lines().position(|l| l.split(':').nth(2) == Some(f[2])) != text.lines().position(|l| l == line) {
        continue;
      }
      assert_eq!(user_name(uid).as_deref(), Some(f[0]), "uid {uid}");
      seen += 1;
    }
    assert!(seen > 0);
    assert_eq!(user_name(4_000_000_000), None);
  }
}
