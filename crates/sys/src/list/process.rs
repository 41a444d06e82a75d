//! What /proc and the name service say of one process: the pids there are, a command line, a
//! login name.

pub(super) fn pids() -> Vec<i32> {
  let mut v: Vec<i32> = std::fs::read_dir("/proc")
    .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
    .unwrap_or_default();
  v.sort_unstable();
  v
}

pub(super) fn command(pid: i32) -> Option<String> {
  let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
  let s: Vec<String> = raw
    .split(|b| *b == 0)
    .filter(|a| !a.is_empty())
    .map(|a| String::from_utf8_lossy(a).into_owned())
    .collect();
  if s.is_empty() {
    // Kernel threads have no command line; lsns shows their comm.
    return std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_string());
  }
  Some(s.join(" "))
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
      if text.lines().position(|l| l.split(':').nth(2) == Some(f[2])) != text.lines().position(|l| l == line)
      {
        continue;
      }
      assert_eq!(user_name(uid).as_deref(), Some(f[0]), "uid {uid}");
      seen += 1;
    }
    assert!(seen > 0);
    assert_eq!(user_name(4_000_000_000), None);
  }
}
