//! One error shape for everything the native layer reports. The JS layer turns it into a
//! `NamespaceError` and writes the message, so this keeps facts, not prose.

use crate::ns_type::NsType;
use crate::step::Step;

/// The rules the library enforces itself, the one place a rule is written: calls
/// `$then! { $($prefix)*; rows }` with rows `Variant = "ERR_NS_…";`. This crate turns it into
/// `Rule` below, crates/node into the string enum JS sees.
#[macro_export]
macro_rules! with_rules {
  ($then:ident { $($prefix:tt)* }) => {
    $then! { $($prefix)*;
      /// The file is not a namespace file (not on nsfs).
      NotNamespace = "ERR_NS_NOT_NAMESPACE";
      /// The namespace is of another type than the one asked for.
      TypeMismatch = "ERR_NS_TYPE_MISMATCH";
      /// The running kernel has no namespace of this type.
      Unsupported = "ERR_NS_UNSUPPORTED";
      /// The operation needs a single-threaded process (user and time namespaces).
      Multithreaded = "ERR_NS_MULTITHREADED";
      /// The handle was closed.
      Closed = "ERR_NS_CLOSED";
      /// A mnt namespace file cannot be mounted in a directory whose mount propagates.
      SharedMount = "ERR_NS_SHARED_MOUNT";
      /// A thread id was given where a process id is needed (pidfd_open takes only a process).
      ThreadId = "ERR_NS_THREAD_ID";
      /// The thread could not come back from the namespace it would enter (see
      /// `this_thread::way_back`), so it does not enter.
      NoWayBack = "ERR_NS_NO_WAY_BACK";
    }
  };
}

/// Generates `Rule` and `Rule::code` from the rows of `with_rules!`.
macro_rules! rules {
  (; $($(#[$doc:meta])* $variant:ident = $code:literal;)*) => {
    /// A rule the library enforces itself, reported with an `ERR_NS_*` code instead of an errno.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Rule {
      $($(#[$doc])* $variant,)*
    }

    impl Rule {
      pub const fn code(self) -> &'static str {
        match self {
          $(Rule::$variant => $code,)*
        }
      }
    }
  };
}

with_rules!(rules {});

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
  /// Positive errno, or 0 when `rule` is set.
  pub errno: i32,
  pub rule: Option<Rule>,
  pub syscall: &'static str,
  pub ns_type: Option<NsType>,
  /// The type the caller expected, for `TypeMismatch`.
  pub expected: Option<NsType>,
  pub path: Option<String>,
  pub pid: Option<i32>,
  /// For `ThreadId`: the process (thread group) the thread belongs to.
  pub tgid: Option<i32>,
  /// The spawner step that failed ('setns', 'uid_map', 'execve', ...).
  pub step: Option<Step>,
  /// For a failed entry of a spawn's `mounts`: its index (`path` is its target).
  pub mount_index: Option<u32>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
  pub fn os(errno: i32, syscall: &'static str) -> Self {
    Error {
      errno,
      rule: None,
      syscall,
      ns_type: None,
      expected: None,
      path: None,
      pid: None,
      tgid: None,
      step: None,
      mount_index: None,
    }
  }

  /// The errno of the last failed libc call.
  pub fn last(syscall: &'static str) -> Self {
    Self::os(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO), syscall)
  }

  pub fn rule(rule: Rule, syscall: &'static str) -> Self {
    Error { rule: Some(rule), ..Self::os(0, syscall) }
  }

  pub fn ns(mut self, t: NsType) -> Self {
    self.ns_type = Some(t);
    self
  }
  pub fn expected(mut self, t: NsType) -> Self {
    self.expected = Some(t);
    self
  }
  pub fn path(mut self, p: impl Into<String>) -> Self {
    self.path = Some(p.into());
    self
  }
  pub fn pid(mut self, pid: i32) -> Self {
    self.pid = Some(pid);
    self
  }
  pub fn tgid(mut self, tgid: i32) -> Self {
    self.tgid = Some(tgid);
    self
  }
  pub fn step(mut self, s: Step) -> Self {
    self.step = Some(s);
    self
  }
  pub fn mount_index(mut self, i: u32) -> Self {
    self.mount_index = Some(i);
    self
  }
}

impl std::fmt::Display for Error {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self.rule {
      Some(rule) => write!(f, "{}: {}", self.syscall, rule.code())?,
      // The errno's name is Node's to give (util.getSystemErrorName); here it is the OS's text.
      None => write!(f, "{}: {}", self.syscall, std::io::Error::from_raw_os_error(self.errno))?,
    }
    if let Some(t) = self.ns_type {
      write!(f, " ({})", t.name())?;
    }
    if let Some(p) = &self.path {
      write!(f, " {p}")?;
    }
    Ok(())
  }
}

impl std::error::Error for Error {}
