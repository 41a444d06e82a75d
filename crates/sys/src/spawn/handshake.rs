//! How the child tells the parent which step failed: 8 bytes on a CLOEXEC pipe (one write, below
//! PIPE_BUF, so it arrives whole), decoded by the parent into an `Error`. No bytes before EOF
//! means the child reached execve.

use crate::error::Error;
use crate::ns_type::NsType;

/// A place in the child's sequence where a syscall can fail. `step` is the user-facing stage,
/// `syscall` the call that failed inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Site {
  Setsid,
  Pdeathsig,
  ParentGone,
  Setns,
  Unshare,
  TimensOpen,
  TimensWrite,
  Sethostname,
  Propagation,
  Chroot,
  ChrootChdir,
  PivotBind,
  PivotChdir,
  PivotRoot,
  PivotUmount,
  PivotChdirRoot,
  Cwd,
  ProcPrivate,
  ProcMount,
  Setgroups,
  Setresgid,
  Setresuid,
  StdioMove,
  StdioDup,
  CloseRange,
  Execve,
  SelfSetgroups,
  SelfUidMap,
  SelfGidMap,
}

/// Every site, indexed by its discriminant, so that a byte from the pipe can be turned back.
const SITES: [Site; 29] = [
  Site::Setsid,
  Site::Pdeathsig,
  Site::ParentGone,
  Site::Setns,
  Site::Unshare,
  Site::TimensOpen,
  Site::TimensWrite,
  Site::Sethostname,
  Site::Propagation,
  Site::Chroot,
  Site::ChrootChdir,
  Site::PivotBind,
  Site::PivotChdir,
  Site::PivotRoot,
  Site::PivotUmount,
  Site::PivotChdirRoot,
  Site::Cwd,
  Site::ProcPrivate,
  Site::ProcMount,
  Site::Setgroups,
  Site::Setresgid,
  Site::Setresuid,
  Site::StdioMove,
  Site::StdioDup,
  Site::CloseRange,
  Site::Execve,
  Site::SelfSetgroups,
  Site::SelfUidMap,
  Site::SelfGidMap,
];

impl Site {
  pub fn step(self) -> &'static str {
    match self {
      Site::Setsid => "setsid",
      Site::Pdeathsig | Site::ParentGone => "prctl",
      Site::Setns => "setns",
      Site::Unshare => "unshare",
      Site::TimensOpen | Site::TimensWrite => "timens_offsets",
      Site::Sethostname => "sethostname",
      Site::Propagation => "mount propagation",
      Site::Chroot | Site::ChrootChdir => "chroot",
      Site::PivotBind | Site::PivotChdir | Site::PivotRoot | Site::PivotUmount | Site::PivotChdirRoot => {
        "pivot_root"
      }
      Site::Cwd => "chdir",
      Site::ProcPrivate | Site::ProcMount => "mount /proc",
      Site::Setgroups | Site::Setresgid => "setgid",
      Site::Setresuid => "setuid",
      Site::StdioMove | Site::StdioDup | Site::CloseRange => "dup2",
      Site::Execve => "execve",
      Site::SelfSetgroups => "setgroups",
      Site::SelfUidMap => "uid_map",
      Site::SelfGidMap => "gid_map",
    }
  }

  pub fn syscall(self) -> &'static str {
    match self {
      Site::Setsid => "setsid",
      Site::Pdeathsig => "prctl",
      Site::ParentGone => "getppid",
      Site::Setns => "setns",
      Site::Unshare => "unshare",
      Site::TimensOpen => "open",
      Site::TimensWrite | Site::SelfSetgroups | Site::SelfUidMap | Site::SelfGidMap => "write",
      Site::Sethostname => "sethostname",
      Site::Propagation | Site::PivotBind | Site::ProcPrivate | Site::ProcMount => "mount",
      Site::Chroot => "chroot",
      Site::ChrootChdir | Site::PivotChdir | Site::PivotChdirRoot | Site::Cwd => "chdir",
      Site::PivotRoot => "pivot_root",
      Site::PivotUmount => "umount2",
      Site::Setgroups => "setgroups",
      Site::Setresgid => "setresgid",
      Site::Setresuid => "setresuid",
      Site::StdioMove => "fcntl",
      Site::StdioDup => "dup2",
      Site::CloseRange => "close_range",
      Site::Execve => "execve",
    }
  }
}

/// What failed in the child, as it travels through the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
  pub site: Site,
  pub ns: Option<NsType>,
  pub errno: i32,
}

pub const LEN: usize = 8;

impl Report {
  /// Pure byte shuffling: this runs in the child.
  #[inline(always)]
  pub fn encode(self) -> [u8; LEN] {
    let ns = match self.ns {
      None => 0u8,
      Some(t) => ns_index(t),
    };
    let e = self.errno.to_ne_bytes();
    [self.site as u8, ns, 0, 0, e[0], e[1], e[2], e[3]]
  }

  pub fn decode(b: [u8; LEN]) -> Option<Report> {
    let site = *SITES.get(b[0] as usize)?;
    let ns = match b[1] {
      0 => None,
      i => Some(*NsType::ALL.get(i as usize - 1)?),
    };
    Some(Report { site, ns, errno: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]) })
  }

  pub fn into_error(self) -> Error {
    let mut e = Error::os(self.errno, self.site.syscall()).step(self.site.step());
    if let Some(t) = self.ns {
      e = e.ns(t);
    }
    e
  }
}

/// 1 + the position in `NsType::ALL`; 0 means "no type". A match, not a search, so that the
/// child runs no loop over a table it shares with the parent.
#[inline(always)]
fn ns_index(t: NsType) -> u8 {
  match t {
    NsType::User => 1,
    NsType::Cgroup => 2,
    NsType::Ipc => 3,
    NsType::Uts => 4,
    NsType::Net => 5,
    NsType::Pid => 6,
    NsType::Mnt => 7,
    NsType::Time => 8,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn round_trips() {
    for (i, s) in SITES.iter().enumerate() {
      assert_eq!(*s as usize, i);
      for ns in [None, Some(NsType::Time), Some(NsType::User), Some(NsType::Net)] {
        let r = Report { site: *s, ns, errno: libc::EPERM };
        assert_eq!(Report::decode(r.encode()), Some(r));
      }
    }
    for t in NsType::ALL {
      assert_eq!(NsType::ALL[ns_index(t) as usize - 1], t);
    }
  }
}
