//! Output collected by the exit watch itself (`exec()`'s stdout and stderr on Node's main thread):
//! the parent's ends of the pipes sit in the watch's epoll instance beside the pidfds, and each
//! readiness is one read() into a buffer here, up to a limit. What a child wrote is handed to JS
//! once, when both pipes have reached EOF (or the limit, or `stop`): no stream, libuv handle or JS
//! call per chunk, which through two net.Sockets cost exec() about 250 us per child.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::syscall;

/// What one child has written so far, by stream (0 stdout, 1 stderr).
struct Capture {
  /// None once the stream has reached EOF (or was never captured).
  fds: [Option<OwnedFd>; 2],
  bytes: [Vec<u8>; 2],
  limit: usize,
  /// The stream (1 stdout, 2 stderr) that went past `limit`, if one did.
  overflow: Option<u8>,
}

/// The collected output of a child, handed out once.
pub struct Output {
  pub stdout: Vec<u8>,
  pub stderr: Vec<u8>,
  /// 1 or 2 when that stream went past the limit (what fits is kept), else 0.
  pub overflow: u8,
}

thread_local! {
  static CAPTURES: RefCell<HashMap<u32, Capture>> = RefCell::new(HashMap::new());
  /// Where each read lands before it is appended: one per thread, zeroed once, instead of 64 KiB
  /// of stack zeroed for every read (two per exec() of a command that prints nothing).
  static CHUNK: RefCell<Box<[u8]>> = RefCell::new(vec![0u8; CHUNK_SIZE].into_boxed_slice());
}

/// The most one read takes: a pipe's default capacity, 16 pages.
const CHUNK_SIZE: usize = 64 * 1024;

/// Starts collecting child `id`'s output from `fds` (its stdout and stderr pipes' read ends),
/// each up to `limit` bytes. `register(fd, stream)` adds a pipe to the watch's epoll instance.
pub fn start(
  id: u32,
  fds: [Option<OwnedFd>; 2],
  limit: usize,
  register: impl Fn(RawFd, u8) -> Result<()>,
) -> Result<()> {
  for (i, fd) in fds.iter().enumerate() {
    if let Some(fd) = fd {
      register(fd.as_raw_fd(), i as u8 + 1)?;
    }
  }
  let c = Capture { fds, bytes: [Vec::new(), Vec::new()], limit, overflow: None };
  if c.fds.iter().all(Option::is_none) {
    return Err(Error::os(libc::EINVAL, "epoll_ctl"));
  }
  CAPTURES.with(|m| m.borrow_mut().insert(id, c));
  Ok(())
}

/// Stream `stream` (1 stdout, 2 stderr) of child `id` is readable: one read. The output, once
/// complete (both streams at EOF, or one past the limit: then both are closed).
pub fn readable(id: u32, stream: u8) -> Option<Output> {
  let i = usize::from(stream.checked_sub(1)?).min(1);
  CAPTURES.with(|m| {
    let mut map = m.borrow_mut();
    let c = map.get_mut(&id)?;
    let fd = c.fds[i].as_ref()?;
    let got = CHUNK.with(|chunk| {
      let chunk = &mut chunk.borrow_mut()[..];
      let n = syscall::read(fd.as_fd(), chunk).ok().filter(|&n| n > 0)?;
      let room = c.limit.saturating_sub(c.bytes[i].len());
      c.bytes[i].extend_from_slice(&chunk[..n.min(room)]);
      Some(n > room)
    });
    match got {
      None => c.fds[i] = None,
      Some(true) => {
        c.overflow = Some(stream);
        c.fds = [None, None];
      }
      Some(false) => {}
    }
    if c.fds.iter().any(Option::is_some) {
      return None;
    }
    map.remove(&id).map(output)
  })
}

/// Stops collecting child `id`'s output (its pipes are closed): what it wrote so far, unless it
/// was handed out already.
pub fn stop(id: u32) -> Option<Output> {
  CAPTURES.with(|m| m.borrow_mut().remove(&id)).map(output)
}

fn output(c: Capture) -> Output {
  let [stdout, stderr] = c.bytes;
  Output { stdout, stderr, overflow: c.overflow.unwrap_or(0) }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::cell::Cell;

  fn pipe_with(bytes: &[u8]) -> OwnedFd {
    let (r, w) = syscall::pipe().unwrap();
    syscall::write_all(w.as_fd(), bytes).unwrap();
    r
  }

  #[test]
  fn collects_both_streams_until_eof() {
    let registered = Cell::new(0);
    let fds = [Some(pipe_with(b"out")), Some(pipe_with(b"err"))];
    start(7, fds, 100, |_, _| {
      registered.set(registered.get() + 1);
      Ok(())
    })
    .unwrap();
    assert_eq!(registered.get(), 2);
    assert!(readable(7, 1).is_none(), "stdout read, stderr still open");
    assert!(readable(7, 1).is_none(), "stdout at EOF (its write end is closed)");
    assert!(readable(7, 2).is_none());
    let o = readable(7, 2).expect("both at EOF");
    assert_eq!((o.stdout.as_slice(), o.stderr.as_slice(), o.overflow), (&b"out"[..], &b"err"[..], 0));
    assert!(stop(7).is_none(), "handed out once");
  }

  #[test]
  fn past_the_limit_keeps_what_fits_and_closes_both() {
    start(8, [Some(pipe_with(b"0123456789")), Some(pipe_with(b""))], 4, |_, _| Ok(())).unwrap();
    let o = readable(8, 1).expect("complete at once");
    assert_eq!((o.stdout.as_slice(), o.overflow), (&b"0123"[..], 1));
  }

  #[test]
  fn stop_hands_out_what_came_so_far() {
    let (r, w) = syscall::pipe().unwrap();
    syscall::write_all(w.as_fd(), b"so far").unwrap();
    start(9, [Some(r), None], 100, |_, _| Ok(())).unwrap();
    assert!(readable(9, 1).is_none(), "the write end is still open");
    let o = stop(9).unwrap();
    assert_eq!(o.stdout, b"so far");
    assert!(readable(9, 1).is_none() && stop(9).is_none());
  }

  #[test]
  fn nothing_to_collect_is_refused() {
    assert!(start(10, [None, None], 1, |_, _| Ok(())).is_err());
  }
}
