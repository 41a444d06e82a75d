//! The eight namespace types and how the kernel names each of them.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NsType {
  Cgroup,
  Ipc,
  Mnt,
  Net,
  Pid,
  Time,
  User,
  Uts,
}

impl NsType {
  /// nsenter's order: user first (handled specially by callers), then the rest, mnt and time last.
  pub const ALL: [NsType; 8] = [
    NsType::User,
    NsType::Cgroup,
    NsType::Ipc,
    NsType::Uts,
    NsType::Net,
    NsType::Pid,
    NsType::Mnt,
    NsType::Time,
  ];

  /// The name used in `/proc/<pid>/ns/` and by this library's API.
  pub fn name(self) -> &'static str {
    match self {
      NsType::Cgroup => "cgroup",
      NsType::Ipc => "ipc",
      NsType::Mnt => "mnt",
      NsType::Net => "net",
      NsType::Pid => "pid",
      NsType::Time => "time",
      NsType::User => "user",
      NsType::Uts => "uts",
    }
  }

  pub fn from_name(s: &str) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.name() == s)
  }

  pub fn clone_flag(self) -> libc::c_int {
    match self {
      NsType::Cgroup => libc::CLONE_NEWCGROUP,
      NsType::Ipc => libc::CLONE_NEWIPC,
      NsType::Mnt => libc::CLONE_NEWNS,
      NsType::Net => libc::CLONE_NEWNET,
      NsType::Pid => libc::CLONE_NEWPID,
      NsType::Time => 0x80, // CLONE_NEWTIME: shares its bit with CSIGNAL, so only unshare/setns/clone3 take it.
      NsType::User => libc::CLONE_NEWUSER,
      NsType::Uts => libc::CLONE_NEWUTS,
    }
  }

  pub fn from_clone_flag(flag: libc::c_int) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.clone_flag() == flag)
  }

  /// The `/proc/<tid>/ns/` entry that names the namespace the thread's next children get.
  /// pid and time namespaces are entered by children only, so this differs from `name()`.
  pub fn for_children_name(self) -> &'static str {
    match self {
      NsType::Pid => "pid_for_children",
      NsType::Time => "time_for_children",
      other => other.name(),
    }
  }

  /// `PIDFD_GET_<TYPE>_NAMESPACE` (Linux 6.11+): `_IO(0xFF, n)`.
  pub fn pidfd_ioctl(self) -> libc::c_ulong {
    let nr = match self {
      NsType::Cgroup => 1,
      NsType::Ipc => 2,
      NsType::Mnt => 3,
      NsType::Net => 4,
      NsType::Pid => 5,
      NsType::Time => 7,
      NsType::User => 9,
      NsType::Uts => 10,
    };
    (0xFF << 8) | nr
  }

  /// Whether the running kernel has this namespace type at all. Looked up once per process (the
  /// kernel's types cannot change under it): every open of a process's namespaces asks.
  pub fn supported(self) -> bool {
    static SUPPORTED: std::sync::OnceLock<[bool; 8]> = std::sync::OnceLock::new();
    let all = SUPPORTED
      .get_or_init(|| NsType::ALL.map(|t| std::path::Path::new("/proc/self/ns").join(t.name()).exists()));
    NsType::ALL.iter().position(|t| *t == self).is_some_and(|i| all[i])
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_round_trip() {
    for t in NsType::ALL {
      assert_eq!(NsType::from_name(t.name()), Some(t));
      assert_eq!(NsType::from_clone_flag(t.clone_flag()), Some(t));
    }
    assert_eq!(NsType::from_name("bogus"), None);
  }

  #[test]
  fn every_type_exists_on_this_kernel() {
    for t in NsType::ALL {
      assert!(t.supported(), "{}", t.name());
    }
  }
}
