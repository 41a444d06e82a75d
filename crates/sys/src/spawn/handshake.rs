//! The typed protocol between the parent and the child of a spawn, over two CLOEXEC pipes made
//! before clone:
//!
//! - go, only when the child waits for the parent (its user namespace maps): one byte from the
//!   parent once they are written. A byte, not EOF: a child cloned meanwhile by another thread may
//!   hold a copy of the write end.
//! - report: when a step fails, the child writes one `Report`, 8 bytes in one write (below
//!   PIPE_BUF, so it arrives whole), and exits. EOF with no bytes means the child reached execve.
//!   A child the parent waits for in vfork shares its memory and is done (exec'ed or exited) when
//!   clone returns, so it stores the report in `SharedReport` instead, as posix_spawn does, and
//!   no pipe is made (a pipe, its four closes and the read cost the parent about 10 us).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::child_syscalls as k;
use super::site::Site;
use crate::error::{Error, Result};
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;

/// The byte that lets a waiting child go on.
const GO: u8 = b'g';

/// What failed in the child, as it travels through the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
  pub site: Site,
  pub ns: Option<NsType>,
  pub errno: i32,
  /// The entry of `mounts` that failed.
  pub mount: Option<u16>,
}

pub const REPORT_LEN: usize = 8;

impl Report {
  /// Pure byte shuffling: this runs in the child. The type travels as 1 + its position, 0 for
  /// none; the position is the discriminant, read without a search.
  #[inline(always)]
  pub fn encode(self) -> [u8; REPORT_LEN] {
    let ns = match self.ns {
      None => 0u8,
      Some(t) => t.position() as u8 + 1,
    };
    let e = self.errno.to_ne_bytes();
    // The mount index travels as 1 + index, 0 for none.
    let m = match self.mount {
      None => 0u16,
      Some(i) => i.wrapping_add(1),
    }
    .to_ne_bytes();
    [self.site as u8, ns, m[0], m[1], e[0], e[1], e[2], e[3]]
  }

  pub fn decode(b: [u8; REPORT_LEN]) -> Option<Report> {
    let site = Site::from_byte(b[0])?;
    let ns = match b[1] {
      0 => None,
      i => Some(*NsType::ALL.get(i as usize - 1)?),
    };
    let mount = match u16::from_ne_bytes([b[2], b[3]]) {
      0 => None,
      i => Some(i - 1),
    };
    Some(Report { site, ns, errno: i32::from_ne_bytes([b[4], b[5], b[6], b[7]]), mount })
  }

  pub fn into_error(self) -> Error {
    let mut e = Error::os(self.errno, self.site.syscall()).step(self.site.step());
    if let Some(t) = self.ns {
      e = e.ns(t);
    }
    if let Some(i) = self.mount {
      e = e.mount_index(i as u32);
    }
    e
  }
}

/// Both pipes, made by the parent before clone; the child inherits every end.
pub struct Pipes {
  /// None for a child the parent waits for in vfork (it reports through `SharedReport`).
  report: Option<(OwnedFd, OwnedFd)>,
  go: Option<(OwnedFd, OwnedFd)>,
}

/// The child's view of the pipes: plain descriptor numbers, since the child may not own (and so
/// drop) anything. -1 for a pipe that was not made.
#[derive(Debug, Clone, Copy)]
pub struct ChildEnds {
  report_w: RawFd,
  go_r: RawFd,
  go_w: RawFd,
}

/// The parent's ends once the child exists.
pub struct ParentEnds {
  report_r: Option<OwnedFd>,
  go_w: Option<OwnedFd>,
}

impl Pipes {
  /// The report pipe unless the parent waits in vfork, and the go pipe when the child must wait
  /// for the parent, all numbered `min` or above (past the descriptors the child fills).
  pub fn new(vfork: bool, with_go: bool, min: RawFd) -> Result<Pipes> {
    let report = if vfork { None } else { Some(pipe_above(min)?) };
    let go = if with_go { Some(pipe_above(min)?) } else { None };
    Ok(Pipes { report, go })
  }

  pub fn child_ends(&self) -> ChildEnds {
    let ends = |p: &Option<(OwnedFd, OwnedFd)>| match p {
      Some((r, w)) => (r.as_raw_fd(), w.as_raw_fd()),
      None => (-1, -1),
    };
    let ((_, report_w), (go_r, go_w)) = (ends(&self.report), ends(&self.go));
    ChildEnds { report_w, go_r, go_w }
  }

  /// After the clone: closes the parent's copies of the child's ends (the report write end would
  /// hide the EOF that says the child exec'ed).
  pub fn into_parent(self) -> ParentEnds {
    ParentEnds { report_r: self.report.map(|(r, _)| r), go_w: self.go.map(|(_, w)| w) }
  }
}

/// Where a child the parent waits for in vfork leaves its report: in the parent's memory, which
/// it shares until execve. Read once clone has returned (the child has exec'ed or exited by then).
#[derive(Default)]
pub struct SharedReport {
  set: AtomicBool,
  bytes: AtomicU64,
}

impl SharedReport {
  /// The child's report, if it made one.
  pub fn take(&self) -> Result<Option<Report>> {
    if !self.set.load(Ordering::Acquire) {
      return Ok(None);
    }
    let b = self.bytes.load(Ordering::Relaxed).to_ne_bytes();
    Report::decode(b).map(Some).ok_or_else(|| Error::os(libc::EIO, "read").step(Step::Clone))
  }

  /// The child's side: plain stores, no call.
  #[inline(always)]
  fn store(&self, r: Report) {
    self.bytes.store(u64::from_ne_bytes(r.encode()), Ordering::Relaxed);
    self.set.store(true, Ordering::Release);
  }
}

/// Both ends at `min` (3 or more) or above: the child fills 0..min with dup2 and must not
/// overwrite a pipe end that happened to land there (a parent that closed its stdin or stdout).
fn pipe_above(min: RawFd) -> Result<(OwnedFd, OwnedFd)> {
  let lift =
    |fd: OwnedFd| if fd.as_raw_fd() < min { syscall::dup_cloexec_above(fd.as_raw_fd(), min) } else { Ok(fd) };
  let (r, w) = syscall::pipe().map_err(|e| e.step(Step::Clone))?;
  Ok((lift(r).map_err(|e| e.step(Step::Clone))?, lift(w).map_err(|e| e.step(Step::Clone))?))
}

impl ParentEnds {
  /// Lets a waiting child go on.
  pub fn go(&self) -> Result<()> {
    match &self.go_w {
      Some(w) => syscall::write_all(w.as_fd(), &[GO]).map_err(|e| e.step(Step::Clone)),
      None => Ok(()),
    }
  }

  /// Reads until EOF (the child exec'ed: `None`) or a whole report (it failed). `None` without
  /// a report pipe (the report is in `SharedReport` then).
  pub fn read_report(&self) -> Result<Option<Report>> {
    match &self.report_r {
      Some(r) => read_report(r.as_fd()),
      None => Ok(None),
    }
  }
}

fn read_report(fd: BorrowedFd<'_>) -> Result<Option<Report>> {
  let mut buf = [0u8; REPORT_LEN];
  let mut got = 0;
  while got < buf.len() {
    let n = syscall::read(fd, &mut buf[got..]).map_err(|e| e.step(Step::Clone))?;
    if n == 0 {
      break;
    }
    got += n;
  }
  match got {
    0 => Ok(None),
    REPORT_LEN => Report::decode(buf).map(Some).ok_or_else(|| Error::os(libc::EIO, "read").step(Step::Clone)),
    _ => Err(Error::os(libc::EIO, "read").step(Step::Clone)),
  }
}

// The child's side: raw syscalls only (see child.rs).
impl ChildEnds {
  pub fn waits_for_go(self) -> bool {
    self.go_r >= 0
  }

  /// Waits for the parent's go; false when the parent is gone or gave up (nobody waits for a
  /// report then).
  pub fn wait_for_go(self) -> bool {
    // Our copy of the write end would keep the read below from ever seeing EOF.
    k::close(self.go_w);
    let mut byte = [0u8; 1];
    let went = loop {
      match k::read(self.go_r, &mut byte) {
        1 => break true,
        r if r == -(libc::EINTR as isize) => continue,
        _ => break false,
      }
    };
    k::close(self.go_r);
    went
  }

  /// Tells the parent what failed: through the report pipe, or in `shared` without one. Nothing
  /// to do if the write fails: the parent then sees EOF and learns of the failure from the exit
  /// status instead.
  #[inline(always)]
  pub fn report(self, shared: &SharedReport, r: Report) {
    if self.report_w >= 0 {
      k::write(self.report_w, &r.encode());
    } else {
      shared.store(r);
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn reports_round_trip() {
    for s in Site::ALL {
      for ns in [None, Some(NsType::Time), Some(NsType::User), Some(NsType::Net)] {
        let r = Report { site: *s, ns, errno: libc::EPERM, mount: Some(3) };
        assert_eq!(Report::decode(r.encode()), Some(r));
      }
    }
    for t in NsType::ALL {
      let r = Report { site: Site::Setns, ns: Some(t), errno: 0, mount: None };
      assert_eq!(Report::decode(r.encode()).unwrap().ns, Some(t));
    }
  }

  #[test]
  fn an_unknown_site_is_not_decoded() {
    let mut b = Report { site: Site::Execve, ns: None, errno: 1, mount: None }.encode();
    b[0] = Site::ALL.len() as u8;
    assert_eq!(Report::decode(b), None);
  }

  #[test]
  fn without_a_report_pipe_the_report_is_left_in_memory() {
    let pipes = Pipes::new(true, false, 3).unwrap();
    let child = pipes.child_ends();
    assert!(!child.waits_for_go());
    let shared = SharedReport::default();
    assert_eq!(shared.take().unwrap(), None);
    let r = Report { site: Site::Execve, ns: Some(NsType::Uts), errno: libc::ENOENT, mount: None };
    child.report(&shared, r);
    assert_eq!(shared.take().unwrap(), Some(r));
    assert_eq!(pipes.into_parent().read_report().unwrap(), None);
  }

  #[test]
  fn the_go_byte_and_a_report_cross() {
    let pipes = Pipes::new(false, true, 3).unwrap();
    let child = pipes.child_ends();
    assert!(child.waits_for_go());
    // The child's side, run here on plain descriptors the parent still holds copies of.
    let shared = SharedReport::default();
    child.report(&shared, Report { site: Site::Cwd, ns: None, errno: libc::ENOENT, mount: None });
    assert_eq!(shared.take().unwrap(), None, "sent through the pipe");
    let (report_r, report_w) = pipes.report.unwrap();
    let parent = ParentEnds { report_r: Some(report_r), go_w: None };
    drop(report_w);
    let r = parent.read_report().unwrap().unwrap();
    assert_eq!((r.site, r.errno), (Site::Cwd, libc::ENOENT));
    assert_eq!(parent.read_report().unwrap(), None, "EOF once the write end is closed");
    let (go_r, go_w) = pipes.go.unwrap();
    syscall::write_all(go_w.as_fd(), &[GO]).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(k::read(go_r.as_raw_fd(), &mut byte), 1);
    assert_eq!(byte, [GO]);
  }
}
