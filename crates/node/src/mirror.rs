//! The enums of nsjs-sys that JS sees by name, as napi string enums, so napi refuses any other
//! string and ts/native.d.ts carries their union types. Each is written once here, by variant and
//! JS name: the conversions match every variant both ways (a variant added to nsjs-sys cannot be
//! forgotten), and each JS name is checked against nsjs-sys's own `name()` when this compiles.

use napi_derive::napi;

/// Whether two strings are equal, in a const context (where `==` on `str` is not available yet).
const fn same(a: &str, b: &str) -> bool {
  let (a, b) = (a.as_bytes(), b.as_bytes());
  if a.len() != b.len() {
    return false;
  }
  let mut i = 0;
  while i < a.len() {
    if a[i] != b[i] {
      return false;
    }
    i += 1;
  }
  true
}

/// `$js` of `$sys`: the string enum, `From` both ways, and the check of each name against
/// `$sys::$named()` at compile time.
macro_rules! mirror {
  ($(#[$doc:meta])* $js:ident of $sys:path, by $named:ident { $($variant:ident = $name:tt,)* }) => {
    $(#[$doc])*
    #[napi(string_enum)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum $js {
      $(#[napi(value = $name)] $variant,)*
    }

    impl From<$js> for $sys {
      fn from(v: $js) -> $sys {
        match v {
          $($js::$variant => <$sys>::$variant,)*
        }
      }
    }

    impl From<$sys> for $js {
      fn from(v: $sys) -> $js {
        match v {
          $(<$sys>::$variant => $js::$variant,)*
        }
      }
    }

    const _: () = {
      $(assert!(same(<$sys>::$variant.$named(), $name), concat!("the JS name of ", stringify!($variant)));)*
    };
  };
}

mirror! {
  // A plain string, not `///`: napi copies a raw string's r"..." into the d.ts verbatim.
  #[doc = "A namespace type, by the name /proc/<pid>/ns/ gives it."]
  NsType of nsjs_sys::NsType, by name {
    Cgroup = "cgroup",
    Ipc = "ipc",
    Mnt = "mnt",
    Net = "net",
    Pid = "pid",
    Time = "time",
    User = "user",
    Uts = "uts",
  }
}

mirror! {
  #[doc = "Where a spawn (or a thread's restore) failed: `NamespaceError.step`."]
  Step of nsjs_sys::Step, by name {
    Setsid = "setsid",
    Prctl = "prctl",
    Setns = "setns",
    Unshare = "unshare",
    TimensOffsets = "timens_offsets",
    Sethostname = "sethostname",
    MountPropagation = "mount propagation",
    Chroot = "chroot",
    PivotRoot = "pivot_root",
    Chdir = "chdir",
    MountProc = "mount /proc",
    Setgid = "setgid",
    Setuid = "setuid",
    Dup2 = "dup2",
    Execve = "execve",
    Setgroups = "setgroups",
    UidMap = "uid_map",
    GidMap = "gid_map",
    Clone = "clone",
    Env = "env",
    Stdio = "stdio",
    Mount = "mount",
    Rlimits = "rlimits",
    Capabilities = "capabilities",
    Seccomp = "seccomp",
    Init = "init",
    Restore = "restore",
  }
}

mirror! {
  #[doc = "A rule the library enforces itself: `NamespaceError.code` where there is no errno."]
  RuleCode of nsjs_sys::error::Rule, by code {
    NotNamespace = "ERR_NS_NOT_NAMESPACE",
    TypeMismatch = "ERR_NS_TYPE_MISMATCH",
    Unsupported = "ERR_NS_UNSUPPORTED",
    Multithreaded = "ERR_NS_MULTITHREADED",
    Closed = "ERR_NS_CLOSED",
    SharedMount = "ERR_NS_SHARED_MOUNT",
    ThreadId = "ERR_NS_THREAD_ID",
  }
}

/// The named types, or every type this kernel has.
pub fn type_list(types: Option<Vec<NsType>>) -> Vec<nsjs_sys::NsType> {
  match types {
    Some(types) => types.into_iter().map(nsjs_sys::NsType::from).collect(),
    None => nsjs_sys::NsType::ALL.into_iter().filter(|t| t.supported()).collect(),
  }
}
