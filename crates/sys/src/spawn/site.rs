//! Every place in the child's sequence where a syscall can fail, with the step it belongs to (what
//! the user is told) and the syscall that failed there: one row each.

use crate::step::Step;

/// Generates `Site` (its discriminant is the byte the child sends), the decode table and the two
/// accessors from one list of `Variant => Step, "syscall"` rows.
macro_rules! sites {
  ($($variant:ident => $step:ident, $syscall:literal;)*) => {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[repr(u8)]
    pub enum Site {
      $($variant,)*
    }

    impl Site {
      /// Every site, indexed by its discriminant, so that a byte from the pipe can be turned back.
      pub const ALL: &'static [Site] = &[$(Site::$variant,)*];

      /// The user-facing stage the site belongs to.
      pub const fn step(self) -> Step {
        match self {
          $(Site::$variant => Step::$step,)*
        }
      }

      /// The call that failed inside the step.
      pub const fn syscall(self) -> &'static str {
        match self {
          $(Site::$variant => $syscall,)*
        }
      }
    }
  };
}

sites! {
  Setsid => Setsid, "setsid";
  Pdeathsig => Prctl, "prctl";
  ParentGone => Prctl, "getppid";
  Setns => Setns, "setns";
  Unshare => Unshare, "unshare";
  TimensOpen => TimensOffsets, "open";
  TimensWrite => TimensOffsets, "write";
  Sethostname => Sethostname, "sethostname";
  Propagation => MountPropagation, "mount";
  Chroot => Chroot, "chroot";
  ChrootChdir => Chroot, "chdir";
  PivotBind => PivotRoot, "mount";
  PivotChdir => PivotRoot, "chdir";
  PivotRoot => PivotRoot, "pivot_root";
  PivotUmount => PivotRoot, "umount2";
  PivotChdirRoot => PivotRoot, "chdir";
  Cwd => Chdir, "chdir";
  ProcPrivate => MountProc, "mount";
  ProcMount => MountProc, "mount";
  Setgroups => Setgid, "setgroups";
  Setresgid => Setgid, "setresgid";
  Setresuid => Setuid, "setresuid";
  StdioMove => Dup2, "fcntl";
  StdioDup => Dup2, "dup2";
  CloseRange => Dup2, "close_range";
  Execve => Execve, "execve";
  SelfSetgroups => Setgroups, "write";
  SelfUidMap => UidMap, "write";
  SelfGidMap => GidMap, "write";
  NoNewPrivs => Prctl, "prctl";
  InitSignalfd => Init, "signalfd";
  MountMkdir => Mount, "mkdirat";
  MountOpen => Mount, "openat2";
  MountSource => Mount, "open_tree";
  MountSetattr => Mount, "mount_setattr";
  MountMove => Mount, "move_mount";
  MountFsopen => Mount, "fsopen";
  MountFsconfig => Mount, "fsconfig";
  MountFsmount => Mount, "fsmount";
  MountWrite => Mount, "write";
  MountSymlink => Mount, "symlinkat";
  MountChdir => Mount, "fchdir";
  MountUmount => Mount, "umount2";
  Rlimit => Rlimits, "prlimit64";
  CapBounding => Capabilities, "prctl";
  CapAmbient => Capabilities, "prctl";
  CapKeep => Capabilities, "prctl";
  CapGet => Capabilities, "capget";
  Capset => Capabilities, "capset";
  Seccomp => Seccomp, "seccomp";
  JoinRootChdir => Chroot, "fchdir";
  JoinRoot => Chroot, "chroot";
  JoinCwd => Chdir, "fchdir";
  CgroupJoin => Cgroup, "write";
  InitClone => Init, "clone";
}

impl Site {
  /// The site of byte `b`, if it names one.
  pub fn from_byte(b: u8) -> Option<Site> {
    Site::ALL.get(b as usize).copied()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn the_table_is_indexed_by_discriminant() {
    for (i, s) in Site::ALL.iter().enumerate() {
      assert_eq!(*s as usize, i);
      assert_eq!(Site::from_byte(i as u8), Some(*s));
    }
    assert_eq!(Site::from_byte(Site::ALL.len() as u8), None);
  }
}
