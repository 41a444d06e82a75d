//! One error shape for everything the native layer reports. The JS layer turns it into a
//! `NamespaceError` and writes the message, so this keeps facts, not prose.

use crate::ns_type::NsType;
use crate::step::Step;

/// A rule the library enforces itself, reported with an `ERR_NS_*` code instead of an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
  /// The file is not a namespace file (not on nsfs).
  NotNamespace,
  /// The namespace is of another type than the one asked for.
  TypeMismatch,
  /// The running kernel has no namespace of this type.
  Unsupported,
  /// The operation needs a single-threaded process (user and time namespaces).
  Multithreaded,
  /// The handle was closed.
  Closed,
  /// A mnt namespace file cannot be mounted in a directory whose mount propagates.
  SharedMount,
  /// A thread id was given where a process id is needed (pidfd_open takes only a process).
  ThreadId,
}

impl Rule {
  pub const fn code(self) -> &'static str {
    match self {
      Rule::NotNamespace => "ERR_NS_NOT_NAMESPACE",
      Rule::TypeMismatch => "ERR_NS_TYPE_MISMATCH",
      Rule::Unsupported => "ERR_NS_UNSUPPORTED",
      Rule::Multithreaded => "ERR_NS_MULTITHREADED",
      Rule::Closed => "ERR_NS_CLOSED",
      Rule::SharedMount => "ERR_NS_SHARED_MOUNT",
      Rule::ThreadId => "ERR_NS_THREAD_ID",
    }
  }
}

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
