//! Exit watching on a thread of its own, for any caller, without a thread per child: one native
//! thread (started on first use, never a libuv pool thread) waits in epoll on the pidfds it was
//! given and reaps each child through its pidfd as it exits.
//!
//! No eventfd wakes the thread for a new registration: epoll_ctl(ADD) of a descriptor that is
//! already readable wakes a thread blocked in epoll_wait on it, and nothing else needs waking.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::OnExit;
use crate::error::{Error, Result};
use crate::syscall;

struct Watched {
  pidfd: OwnedFd,
  on_exit: OnExit,
}

struct Reaper {
  epoll: OwnedFd,
  /// Keyed by a registration number, not the fd number, which a closed dup could hand to the
  /// next registration while an event for the old one is still being handled.
  watched: Mutex<HashMap<u64, Watched>>,
  next_key: AtomicU64,
}

static REAPER: Mutex<Option<&'static Reaper>> = Mutex::new(None);

/// Calls `on_exit(code, signal)` on the reaper thread once the process behind `pidfd` has exited,
/// after reaping it (see `OnExit`). `pidfd` stays the caller's; the reaper keeps a duplicate. The
/// callback must not block: every other exit waits for it.
pub fn watch(pidfd: RawFd, on_exit: OnExit) -> Result<()> {
  let reaper = reaper()?;
  let dup = syscall::dup_cloexec(pidfd)?;
  let key = reaper.next_key.fetch_add(1, Ordering::Relaxed);
  let fd = dup.as_raw_fd();
  let mut watched = reaper.watched.lock().unwrap_or_else(|p| p.into_inner());
  // Inserted before the ADD: the event may be handled before epoll_ctl even returns.
  watched.insert(key, Watched { pidfd: dup, on_exit });
  if let Err(e) = epoll_ctl(reaper.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, key) {
    watched.remove(&key);
    return Err(e);
  }
  Ok(())
}

fn reaper() -> Result<&'static Reaper> {
  let mut slot = REAPER.lock().unwrap_or_else(|p| p.into_inner());
  if let Some(r) = *slot {
    return Ok(r);
  }
  // SAFETY: plain syscall; the result is checked before use.
  let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
  if ep < 0 {
    return Err(Error::last("epoll_create1"));
  }
  // SAFETY: a descriptor the kernel just returned, owned by nothing else.
  let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
  // It lives as long as the process: the thread never ends and the addon is never unloaded.
  let r: &'static Reaper =
    Box::leak(Box::new(Reaper { epoll, watched: Mutex::new(HashMap::new()), next_key: AtomicU64::new(0) }));
  crate::this_thread::native_thread("nsjs-reaper")
    .spawn(move || run(r))
    .map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "pthread_create"))?;
  *slot = Some(r);
  Ok(r)
}

fn epoll_ctl(ep: RawFd, op: libc::c_int, fd: RawFd, key: u64) -> Result<()> {
  let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: key };
  // SAFETY: `ev` is a valid epoll_event (ignored for DEL).
  if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
    return Err(Error::last("epoll_ctl"));
  }
  Ok(())
}

fn run(r: &'static Reaper) {
  crate::this_thread::block_signals();
  let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
  loop {
    // SAFETY: `events` is writable for the count passed.
    let n = unsafe { libc::epoll_wait(r.epoll.as_raw_fd(), events.as_mut_ptr(), events.len() as i32, -1) };
    if n < 0 {
      // EINTR, or a bug; either way waiting again is all there is to do.
      continue;
    }
    for ev in &events[..n as usize] {
      let key = ev.u64;
      let Some(w) = r.watched.lock().unwrap_or_else(|p| p.into_inner()).remove(&key) else { continue };
      // A readable pidfd means the process is a zombie (or already gone), so this never blocks.
      let status = match syscall::waitid_pidfd(w.pidfd.as_fd(), true) {
        Ok(Some(s)) => s,
        // Reaped by someone else (a stray waitpid(-1)): the status is lost.
        Ok(None) | Err(_) => (-1, 0),
      };
      let _ = epoll_ctl(r.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, w.pidfd.as_raw_fd(), key);
      drop(w.pidfd);
      let on_exit = w.on_exit;
      // A panicking callback must not take the thread, and every later exit, with it.
      let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_exit(status.0, status.1)));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::spawn::{spawn, SpawnSpec};
  use std::sync::mpsc;
  use std::time::Duration;

  #[test]
  fn reports_exit_codes() {
    let (tx, rx) = mpsc::channel();
    for (i, code) in [0, 3].into_iter().enumerate() {
      let child =
        spawn(&SpawnSpec::new("/bin/sh", vec!["sh".into(), "-c".into(), format!("exit {code}")])).unwrap();
      let tx = tx.clone();
      watch(child.pidfd.as_raw_fd(), Box::new(move |c, s| tx.send((i, c, s)).unwrap())).unwrap();
    }
    let mut got: Vec<_> = (0..2).map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap()).collect();
    got.sort();
    assert_eq!(got, [(0, 0, 0), (1, 3, 0)]);
  }

  #[test]
  fn a_panicking_callback_does_not_stop_the_thread() {
    let child = spawn(&SpawnSpec::new("/bin/true", vec!["true".into()])).unwrap();
    watch(child.pidfd.as_raw_fd(), Box::new(|_, _| panic!("callback panic (expected by the test)"))).unwrap();
    let (tx, rx) = mpsc::channel();
    let child = spawn(&SpawnSpec::new("/bin/true", vec!["true".into()])).unwrap();
    watch(child.pidfd.as_raw_fd(), Box::new(move |c, s| tx.send((c, s)).unwrap())).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (0, 0));
  }
}
