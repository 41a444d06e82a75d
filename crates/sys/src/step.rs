//! The stage an operation failed at, as `Error::step` carries it: the steps of a spawn (what the
//! child was doing before execve, or the parent around the clone) and the restore of a thread
//! that entered a namespace. The names are part of the public error contract (`NamespaceError.step`
//! in JS, which keys its hints on them): a new step gets a new name, an existing one never changes.

/// Generates `Step`, `Step::ALL` and `Step::name` from the rows of `with_steps!`.
macro_rules! steps {
  (; $($(#[$doc:meta])* $variant:ident = $name:literal;)*) => {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum Step {
      $($(#[$doc])* $variant,)*
    }

    impl Step {
      /// Every step, in the order of the list below.
      pub const ALL: &'static [Step] = &[$(Step::$variant,)*];

      /// The name JS sees (`NamespaceError.step`).
      pub const fn name(self) -> &'static str {
        match self {
          $(Step::$variant => $name,)*
        }
      }
    }
  };
}

/// The list of steps, the one place a step is written: calls `$then! { $($prefix)*; rows }` with
/// rows `Variant = "name";`. This crate turns it into `Step` below, crates/node into the string
/// enum JS sees.
#[macro_export]
macro_rules! with_steps {
  ($then:ident { $($prefix:tt)* }) => {
    $then! { $($prefix)*;
      /// The child's setsid (`newSession`).
      Setsid = "setsid";
      /// The child's PR_SET_PDEATHSIG, or the parent found gone right after it was armed.
      Prctl = "prctl";
      /// Entering a namespace given with `join` (in the child, or on the parent thread for the clone).
      Setns = "setns";
      /// The child's unshare of a new namespace.
      Unshare = "unshare";
      /// Writing /proc/self/timens_offsets of a new time namespace.
      TimensOffsets = "timens_offsets";
      Sethostname = "sethostname";
      /// The propagation of "/" in a new mount namespace.
      MountPropagation = "mount propagation";
      Chroot = "chroot";
      PivotRoot = "pivot_root";
      /// Changing to `cwd`.
      Chdir = "chdir";
      /// Mounting a new /proc (`mountProc`).
      MountProc = "mount /proc";
      /// Dropping supplementary groups or setting the gid.
      Setgid = "setgid";
      Setuid = "setuid";
      /// Putting the requested descriptors on 0, 1, 2 in the child.
      Dup2 = "dup2";
      /// Running the command (PATH search included).
      Execve = "execve";
      /// The new user namespace's setgroups file.
      Setgroups = "setgroups";
      UidMap = "uid_map";
      GidMap = "gid_map";
      /// The parent's side of starting the child: pipes, stack, clone, the handshake, the hand-over.
      Clone = "clone";
      /// The child's environment could not be read where the call was made.
      Env = "env";
      /// The stdio request was not one the spawn understands.
      Stdio = "stdio";
      /// An entry of `mounts` (its index in `Error::mount_index`, its target in `path`), or making
      /// the tmpfs of `root: 'tmpfs'`.
      Mount = "mount";
      /// Setting a resource limit (`rlimits`).
      Rlimits = "rlimits";
      /// Dropping capabilities (`capabilities`): bounding, ambient, then capset.
      Capabilities = "capabilities";
      /// Installing the `seccomp` filter, the last step before execve.
      Seccomp = "seccomp";
      /// Joining the `cgroup`: opening it, clone3 into it, or (without clone3) the write there.
      Cgroup = "cgroup";
      /// `init`: the init's signalfd, or starting the command as its child.
      Init = "init";
      /// Putting the calling thread back in the namespace it had before `enter`; with the rule
      /// ERR_NS_NO_WAY_BACK, that restore found impossible before entering.
      Restore = "restore";
    }
  };
}

with_steps!(steps {});

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_are_distinct() {
    let mut names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Step::ALL.len());
  }
}
