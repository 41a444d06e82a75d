//! A namespace handle: one CLOEXEC descriptor on an nsfs file, with its type and identity
//! read from the kernel when it was made.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

use crate::error::{Error, Result, Rule};
use crate::last_pidfd;
use crate::ns_type::NsType;
use crate::syscall;

/// statfs f_type of nsfs, the filesystem of /proc/<pid>/ns/* files.
pub(crate) const NSFS_MAGIC: i64 = 0x6e73_6673;

/// O_NONBLOCK so that opening a FIFO given by mistake cannot hang the caller.
const OPEN_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY;

#[derive(Debug)]
pub struct NsHandle {
  fd: OwnedFd,
  ty: NsType,
  /// nsfs device and inode, read when first asked: most handles are only joined or closed.
  id: OnceLock<(u64, u64)>,
}

impl NsHandle {
  /// Checks that `fd` is a namespace file (and of `expected` type, if given) and wraps it.
  pub fn from_owned(fd: OwnedFd, expected: Option<NsType>) -> Result<Self> {
    let magic = syscall::fstatfs_type(fd.as_fd())?;
    if magic != NSFS_MAGIC {
      return Err(Error::rule(Rule::NotNamespace, "fstatfs"));
    }
    let flag = syscall::ioctl_int(fd.as_fd(), libc::NS_GET_NSTYPE as _, "ioctl")?;
    let ty = NsType::from_clone_flag(flag).ok_or_else(|| Error::rule(Rule::NotNamespace, "ioctl"))?;
    if let Some(want) = expected {
      if want != ty {
        return Err(Error::rule(Rule::TypeMismatch, "ioctl").ns(ty).expected(want));
      }
    }
    Ok(Self::from_kernel(fd, ty))
  }

  /// Wraps a descriptor the kernel handed out as a namespace of type `ty` (a pidfd's
  /// PIDFD_GET_*_NAMESPACE): nothing to check.
  fn from_kernel(fd: OwnedFd, ty: NsType) -> Self {
    NsHandle { fd, ty, id: OnceLock::new() }
  }

  /// Opens a namespace file such as `/run/netns/x` or `/proc/<pid>/ns/uts`.
  pub fn open_path(path: &str, expected: Option<NsType>) -> Result<Self> {
    let fd = syscall::open(path, OPEN_FLAGS, 0).map_err(|e| match expected {
      Some(t) => e.ns(t),
      None => e,
    })?;
    Self::from_owned(fd, expected).map_err(|e| e.path(path))
  }

  /// Opens a namespace file named by a caller, such as a persisted `/run/netns/x`. The path is
  /// opened with O_PATH and checked to be on nsfs before it is opened for real (through the
  /// descriptor, so the same file): opening a device node or FIFO by mistake has no side effect.
  pub fn open_file(path: &str, expected: Option<NsType>) -> Result<Self> {
    let tag = |e: Error| match expected {
      Some(t) => e.ns(t).path(path),
      None => e.path(path),
    };
    let probe = syscall::open(path, libc::O_PATH, 0).map_err(tag)?;
    if syscall::fstatfs_type(probe.as_fd()).map_err(tag)? != NSFS_MAGIC {
      return Err(tag(Error::rule(Rule::NotNamespace, "fstatfs")));
    }
    let fd = crate::fd_mount::reopen(probe.as_fd(), OPEN_FLAGS).map_err(tag)?;
    Self::from_owned(fd, expected).map_err(|e| e.path(path))
  }

  /// Adopts a descriptor the caller keeps owning: the handle holds its own duplicate.
  pub fn from_raw_dup(fd: RawFd, expected: Option<NsType>) -> Result<Self> {
    let own = syscall::dup_cloexec(fd)?;
    Self::from_owned(own, expected)
  }

  /// The namespace of type `ty` that process `pid` is in, safe against pid reuse: the pidfd pins
  /// the process first, then the namespace is taken through it (PIDFD_GET_*_NAMESPACE), or, on
  /// kernels before 6.11, from /proc with a liveness check of the pidfd afterwards.
  pub fn open_pid(pid: i32, ty: NsType) -> Result<Self> {
    let mut one = Self::open_pid_all(pid, &[ty])?;
    Ok(one.pop().expect("one type asked for, one handle"))
  }

  /// The namespaces of `types` that process `pid` is in, in that order, all through one pidfd:
  /// they are all that one process's, even if the pid is reused meanwhile (see `open_pid`).
  /// What a spawn joining process `pid` enters, by nsenter's rules: its namespaces of `types`
  /// (through one pidfd), leaving out a user namespace the calling thread is already in (setns to
  /// one's own is EINVAL) and, with `skip_shared` (nsenter --all), every namespace it is in.
  pub fn open_pid_joins(pid: i32, types: &[NsType], skip_shared: bool) -> Result<Vec<Self>> {
    // A stat of the calling thread's link names its namespace (device and inode) without opening
    // it: this runs for every spawn that joins by pid.
    let shared = |h: &NsHandle| -> Result<bool> {
      let path = format!("/proc/thread-self/ns/{}", h.ns_type().name());
      let md = std::fs::metadata(&path)
        .map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EIO), "stat").path(path))?;
      Ok(md.dev() == h.device() && md.ino() == h.inode())
    };
    let mut kept = Vec::with_capacity(types.len());
    for h in Self::open_pid_all(pid, types)? {
      if (skip_shared || h.ns_type() == NsType::User) && shared(&h)? {
        continue;
      }
      kept.push(h);
    }
    Ok(kept)
  }

  pub fn open_pid_all(pid: i32, types: &[NsType]) -> Result<Vec<Self>> {
    check_supported(pid, types)?;
    let open = || syscall::pidfd_open(pid).map_err(|e| about_all(types, thread_id_error(e, pid)));
    last_pidfd::through(pid, open, |pidfd| Self::open_pidfd_all(pidfd, pid, types))
  }

  /// The namespaces of `types` that the process behind `pidfd` (whose pid is `pid`) is in, in
  /// that order: never another process's, even once `pid` has been reused. ESRCH once that
  /// process has exited (a zombie has no namespaces left), also before it is reaped.
  pub fn open_pidfd_all(pidfd: BorrowedFd<'_>, pid: i32, types: &[NsType]) -> Result<Vec<Self>> {
    check_supported(pid, types)?;
    let mut through_proc = false;
    let mut handles = Vec::with_capacity(types.len());
    for &ty in types {
      let tag = |e: Error| e.ns(ty).pid(pid);
      match syscall::ioctl_fd(pidfd, ty.pidfd_ioctl(), "ioctl") {
        Ok(fd) => {
          handles.push(Self::from_kernel(fd, ty));
          continue;
        }
        // Older kernels: the pidfd has no such ioctl. Everything else is a real answer.
        Err(e) if e.errno == libc::ENOTTY || e.errno == libc::EINVAL => {}
        Err(e) if e.errno == libc::EOPNOTSUPP => return Err(tag(Error::rule(Rule::Unsupported, "ioctl"))),
        Err(e) => return Err(tag(e)),
      }
      let path = format!("/proc/{pid}/ns/{}", ty.name());
      handles.push(Self::open_path(&path, Some(ty)).map_err(|e| {
        let e = tag(e);
        if e.errno == libc::ENOENT {
          Error { errno: libc::ESRCH, ..e }
        } else {
          e
        }
      })?);
      through_proc = true;
    }
    if through_proc {
      // The process the pidfd names must still be alive, or the pid may now be someone else's.
      syscall::pidfd_send_signal(pidfd, 0).map_err(|e| about_all(types, e).pid(pid))?;
    }
    Ok(handles)
  }

  /// The calling thread's own namespace of type `ty`.
  pub fn current(ty: NsType) -> Result<Self> {
    if !ty.supported() {
      return Err(Error::rule(Rule::Unsupported, "open").ns(ty));
    }
    Self::open_path(&format!("/proc/thread-self/ns/{}", ty.name()), Some(ty))
  }

  /// The namespace of type `ty` that the calling thread's next children will be in.
  pub fn current_for_children(ty: NsType) -> Result<Self> {
    Self::open_path(&format!("/proc/thread-self/ns/{}", ty.for_children_name()), Some(ty))
  }

  pub fn ns_type(&self) -> NsType {
    self.ty
  }
  pub fn device(&self) -> u64 {
    self.id().0
  }
  pub fn inode(&self) -> u64 {
    self.id().1
  }

  /// fstat of a descriptor this handle owns, on nsfs: it has nothing to fail on but a kernel out
  /// of memory, where (0, 0) names no namespace (nsfs inodes are never 0).
  fn id(&self) -> (u64, u64) {
    *self.id.get_or_init(|| syscall::fstat(self.fd.as_fd()).map_or((0, 0), |i| (i.dev, i.ino)))
  }
  pub fn raw_fd(&self) -> RawFd {
    self.fd.as_raw_fd()
  }

  /// Same namespace: the kernel identifies a namespace by nsfs device and inode.
  pub fn same_as(&self, other: &NsHandle) -> bool {
    let id = self.id();
    id != (0, 0) && id == other.id()
  }

  /// The user namespace that owns this one (NS_GET_USERNS).
  pub fn owner(&self) -> Result<NsHandle> {
    let fd =
      syscall::ioctl_fd(self.fd.as_fd(), libc::NS_GET_USERNS as _, "ioctl").map_err(|e| e.ns(self.ty))?;
    NsHandle::from_owned(fd, Some(NsType::User))
  }

  /// The parent of a pid or user namespace (NS_GET_PARENT).
  pub fn parent(&self) -> Result<NsHandle> {
    let fd =
      syscall::ioctl_fd(self.fd.as_fd(), libc::NS_GET_PARENT as _, "ioctl").map_err(|e| e.ns(self.ty))?;
    NsHandle::from_owned(fd, Some(self.ty))
  }

  /// The id the kernel gives a mount namespace (NS_GET_MNTNS_ID, Linux 6.8), which its loop
  /// check compares when a mount namespace file is mounted.
  pub fn mnt_ns_id(&self) -> Result<u64> {
    // _IOR(0xb7, 5, __u64)
    const NS_GET_MNTNS_ID: libc::c_ulong = 0x8008_b705;
    syscall::ioctl_u64(self.fd.as_fd(), NS_GET_MNTNS_ID).map_err(|e| e.ns(self.ty))
  }

  /// The uid that created a user namespace (NS_GET_OWNER_UID).
  pub fn owner_uid(&self) -> Result<u32> {
    if self.ty != NsType::User {
      return Err(Error::rule(Rule::TypeMismatch, "ioctl").ns(self.ty).expected(NsType::User));
    }
    syscall::ioctl_owner_uid(self.fd.as_fd()).map_err(|e| e.ns(self.ty))
  }
}

fn check_supported(pid: i32, types: &[NsType]) -> Result<()> {
  match types.iter().find(|t| !t.supported()) {
    Some(&ty) => Err(Error::rule(Rule::Unsupported, "open").ns(ty).pid(pid)),
    None => Ok(()),
  }
}

/// An error about the process as a whole names the type when only one was asked for.
fn about_all(types: &[NsType], e: Error) -> Error {
  match types {
    [one] => e.ns(*one),
    _ => e,
  }
}

/// pidfd_open takes only a process (a thread-group leader): for the id of another thread the
/// kernel answers EINVAL (ENOENT on recent kernels, 6.18 among them), which reads as a bad
/// argument or "no such file". Such an id is named for what it is, with the process it belongs to.
fn thread_id_error(e: Error, pid: i32) -> Error {
  if e.errno != libc::EINVAL && e.errno != libc::ENOENT {
    return e;
  }
  match thread_group_of(pid) {
    Some(tgid) if tgid != pid => Error::rule(Rule::ThreadId, "pidfd_open").pid(pid).tgid(tgid),
    _ => e,
  }
}

/// The process that thread `tid` belongs to (Tgid in /proc/<tid>/status, which the kernel shows
/// for any thread id though /proc lists only processes). Only when /proc is of our own pid
/// namespace, so that its numbers are the ones pidfd_open was given.
fn thread_group_of(tid: i32) -> Option<i32> {
  let me = std::fs::read_link("/proc/self").ok()?;
  if me.to_str()? != std::process::id().to_string() {
    return None;
  }
  let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
  status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

impl AsFd for NsHandle {
  fn as_fd(&self) -> BorrowedFd<'_> {
    self.fd.as_fd()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn current_handles_match_proc_self() {
    for t in NsType::ALL {
      let h = NsHandle::current(t).unwrap();
      let link = std::fs::read_link(format!("/proc/thread-self/ns/{}", t.name())).unwrap();
      assert_eq!(link.to_string_lossy(), format!("{}:[{}]", t.name(), h.inode()));
      assert_eq!(h.ns_type(), t);
    }
  }

  #[test]
  fn open_pid_of_self_is_current() {
    let me = std::process::id() as i32;
    let a = NsHandle::open_pid(me, NsType::Net).unwrap();
    assert!(a.same_as(&NsHandle::current(NsType::Net).unwrap()));
  }

  #[test]
  fn open_pid_all_gives_each_type_in_order_through_one_pidfd() {
    let me = std::process::id() as i32;
    let all = NsHandle::open_pid_all(me, &NsType::ALL).unwrap();
    assert_eq!(all.iter().map(|h| h.ns_type()).collect::<Vec<_>>(), NsType::ALL.to_vec());
    for h in &all {
      assert!(h.same_as(&NsHandle::open_pid(me, h.ns_type()).unwrap()));
    }
    // No such process: an error, and nothing half-opened is kept (the Vec is never returned).
    assert_eq!(NsHandle::open_pid_all(i32::MAX, &NsType::ALL).unwrap_err().errno, libc::ESRCH);
  }

  #[test]
  fn open_pid_joins_leaves_out_what_the_thread_shares_as_nsenter_does() {
    let me = std::process::id() as i32;
    // Our own process: with nsenter --all's rule nothing is left to enter.
    assert!(NsHandle::open_pid_joins(me, &NsType::ALL, true).unwrap().is_empty());
    // Named types are entered even when shared, except user (setns to one's own is EINVAL).
    let named = NsHandle::open_pid_joins(me, &[NsType::User, NsType::Net, NsType::Uts], false).unwrap();
    assert_eq!(named.iter().map(|h| h.ns_type()).collect::<Vec<_>>(), [NsType::Net, NsType::Uts]);
  }

  #[test]
  fn pidfd_namespace_ioctls_answer_where_the_kernel_has_them() {
    // open_pid_all falls back to /proc/<pid>/ns when they do not, so only this shows it.
    let pidfd = syscall::pidfd_open(std::process::id() as i32).unwrap();
    match syscall::ioctl_fd(pidfd.as_fd(), NsType::Net.pidfd_ioctl(), "ioctl") {
      Ok(fd) => assert!(NsHandle::from_owned(fd, Some(NsType::Net))
        .unwrap()
        .same_as(&NsHandle::current(NsType::Net).unwrap())),
      // Kernels before 6.11. EINVAL instead means the ioctl got a non-zero argument.
      Err(e) => assert_eq!(e.errno, libc::ENOTTY),
    }
  }

  #[test]
  fn type_is_checked() {
    let e = NsHandle::open_path("/proc/self/ns/net", Some(NsType::Uts)).unwrap_err();
    assert_eq!(e.rule, Some(Rule::TypeMismatch));
    let e = NsHandle::open_path("/etc/hostname", None).unwrap_err();
    assert_eq!(e.rule, Some(Rule::NotNamespace));
  }

  #[test]
  fn a_thread_id_is_named_with_its_process() {
    let me = std::process::id() as i32;
    // A thread of ours, kept alive while its id is opened.
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
      // SAFETY: gettid has no preconditions.
      tx.send(unsafe { libc::gettid() }).unwrap();
      let _ = done_rx.recv();
    });
    let live = rx.recv().unwrap();
    assert_ne!(live, me);
    let e = NsHandle::open_pid_all(live, &[NsType::Net, NsType::Uts]).unwrap_err();
    assert_eq!((e.rule, e.pid, e.tgid), (Some(Rule::ThreadId), Some(live), Some(me)));
    let one = NsHandle::open_pid(live, NsType::Net).unwrap_err();
    assert_eq!((one.rule, one.ns_type), (Some(Rule::ThreadId), Some(NsType::Net)));
    done_tx.send(()).unwrap();
    t.join().unwrap();
  }

  #[test]
  fn through_a_pidfd_an_exited_process_has_no_namespaces_whoever_has_its_pid() {
    let mut child = std::process::Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let pid = child.id() as i32;
    let pidfd = syscall::pidfd_open(pid).unwrap();
    let live = NsHandle::open_pidfd_all(pidfd.as_fd(), pid, &[NsType::Net, NsType::Uts]).unwrap();
    assert!(live[0].same_as(&NsHandle::current(NsType::Net).unwrap()));
    child.kill().unwrap();
    child.wait().unwrap();
    // Reaped: the pid is free for anyone, the pidfd still names the process that had it.
    let e = NsHandle::open_pidfd_all(pidfd.as_fd(), pid, &[NsType::Net]).unwrap_err();
    assert_eq!((e.errno, e.pid), (libc::ESRCH, Some(pid)));
  }

  #[test]
  fn missing_pid_is_esrch() {
    // pid_max is at most 2^22, so this pid cannot exist.
    let e = NsHandle::open_pid(1 << 23, NsType::Net).unwrap_err();
    assert_eq!(e.errno, libc::ESRCH);
  }

  #[test]
  fn owner_and_owner_uid() {
    let net = NsHandle::current(NsType::Net).unwrap();
    let user = net.owner().unwrap();
    assert!(user.same_as(&NsHandle::current(NsType::User).unwrap()));
    assert_eq!(user.owner_uid().unwrap(), 0);
  }
}
