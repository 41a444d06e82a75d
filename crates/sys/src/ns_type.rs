//! The eight namespace types and how the kernel names each of them: one table, in nsenter's
//! order, from which the enum, its order and every per-type fact are generated.

/// Generates `NsType` from the rows of `with_ns_types!` (its discriminant is its row, so a
/// type's position is read without a search, even in a clone child), `NsType::ALL` and the
/// per-type accessors.
macro_rules! ns_types {
  (; $($(#[$doc:meta])* $variant:ident = $name:literal, clone: $flag:expr, pidfd_ioctl: $nr:literal;)*) => {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[repr(u8)]
    pub enum NsType {
      $($(#[$doc])* $variant,)*
    }

    impl NsType {
      /// Every type, in the table's order.
      pub const ALL: [NsType; NsType::COUNT] = [$(NsType::$variant,)*];

      /// The name used in `/proc/<pid>/ns/` and by this library's API.
      pub const fn name(self) -> &'static str {
        match self {
          $(NsType::$variant => $name,)*
        }
      }

      pub const fn clone_flag(self) -> libc::c_int {
        match self {
          $(NsType::$variant => $flag,)*
        }
      }

      /// `PIDFD_GET_<TYPE>_NAMESPACE` (Linux 6.11+): `_IO(0xFF, n)`.
      pub const fn pidfd_ioctl(self) -> libc::c_ulong {
        let nr: libc::c_ulong = match self {
          $(NsType::$variant => $nr,)*
        };
        (0xFF << 8) | nr
      }
    }
  };
}

/// The table of types, the one place a type is written: calls `$then! { $($prefix)*; rows }` with
/// rows `Variant = "name", clone: FLAG, pidfd_ioctl: NR;`. This crate turns it into `NsType`
/// below, crates/node into the string enum JS sees.
#[macro_export]
macro_rules! with_ns_types {
  ($then:ident { $($prefix:tt)* }) => {
    $then! { $($prefix)*;
      // nsenter's order: user first (handled specially by callers), then the rest, mnt and time last.
      User = "user", clone: libc::CLONE_NEWUSER, pidfd_ioctl: 9;
      Cgroup = "cgroup", clone: libc::CLONE_NEWCGROUP, pidfd_ioctl: 1;
      Ipc = "ipc", clone: libc::CLONE_NEWIPC, pidfd_ioctl: 2;
      Uts = "uts", clone: libc::CLONE_NEWUTS, pidfd_ioctl: 10;
      Net = "net", clone: libc::CLONE_NEWNET, pidfd_ioctl: 4;
      Pid = "pid", clone: libc::CLONE_NEWPID, pidfd_ioctl: 5;
      Mnt = "mnt", clone: libc::CLONE_NEWNS, pidfd_ioctl: 3;
      // CLONE_NEWTIME shares its bit with CSIGNAL, so only unshare, setns and clone3 take it.
      Time = "time", clone: 0x80, pidfd_ioctl: 7;
    }
  };
}

with_ns_types!(ns_types {});

impl NsType {
  pub const COUNT: usize = 8;

  /// The row of the type in the table (its index in `ALL`, nsenter's order), without a search:
  /// what a spawn sorts by and what the child's failure report carries.
  pub const fn position(self) -> usize {
    self as usize
  }

  pub fn from_name(s: &str) -> Option<NsType> {
    NsType::ALL.into_iter().find(|t| t.name() == s)
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

  /// Whether the running kernel has this namespace type at all. Looked up once per process (the
  /// kernel's types cannot change under it): every open of a process's namespaces asks.
  pub fn supported(self) -> bool {
    static SUPPORTED: std::sync::OnceLock<[bool; NsType::COUNT]> = std::sync::OnceLock::new();
    let all = SUPPORTED
      .get_or_init(|| NsType::ALL.map(|t| std::path::Path::new("/proc/self/ns").join(t.name()).exists()));
    all[self.position()]
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_round_trip() {
    for (i, t) in NsType::ALL.into_iter().enumerate() {
      assert_eq!(t.position(), i);
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
