//! The socket maker: one thread that lives as long as the process, started by the main thread
//! while that thread is still in the namespaces the process started in (`this_thread::unmoved`).
//! For each socket it enters the target net namespace, calls socket(2) and goes back home, so it
//! never pins a namespace its users have let go of (a veth in a deleted namespace disappears with
//! it). A caller that cannot start it (a worker thread, or the main thread inside a `run()` or
//! after a `join()`: the maker's home would then be that namespace for good) and finds none
//! running gets a short-lived thread instead, which needs no way home.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;
use crate::this_thread;

/// Which thread made a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MakerKind {
  /// The persistent maker thread.
  Maker,
  /// A thread started for this socket alone.
  Throwaway,
}

struct Job {
  /// The namespace's descriptor; the caller keeps it open until the reply comes.
  ns: RawFd,
  domain: i32,
  ty: i32,
  protocol: i32,
  reply: mpsc::SyncSender<Result<OwnedFd>>,
}

static MAKER: Mutex<Option<Sender<Job>>> = Mutex::new(None);

/// How long each side polls before it sleeps: the maker after a socket, for the next request, and
/// the caller for its reply. Waking a sleeping thread costs more than the socket itself (about 10
/// us against 5, bench/README.md section 7), and sockets come in runs (a server and its clients,
/// a test's setup); yielding while polling leaves the CPU to anything else that wants it.
const MAKER_POLL: Duration = Duration::from_micros(100);
const CALLER_POLL: Duration = Duration::from_micros(50);

/// `try_recv` until something comes or `window` has passed, then a blocking `recv`.
fn poll_then_wait<T>(rx: &Receiver<T>, window: Duration) -> Option<T> {
  let start = Instant::now();
  loop {
    match rx.try_recv() {
      Ok(v) => return Some(v),
      Err(TryRecvError::Disconnected) => return None,
      Err(TryRecvError::Empty) if start.elapsed() < window => std::thread::yield_now(),
      Err(TryRecvError::Empty) => return rx.recv().ok(),
    }
  }
}

pub(super) fn make(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<(OwnedFd, MakerKind)> {
  if let Some(to_maker) = maker() {
    let (reply, answer) = mpsc::sync_channel(1);
    let job = Job { ns: ns.as_raw_fd(), domain, ty, protocol, reply };
    if to_maker.send(job).is_ok() {
      if let Some(result) = poll_then_wait(&answer, CALLER_POLL) {
        return result.map(|fd| (fd, MakerKind::Maker));
      }
    }
    // The maker is gone (it could not get home once and ended): the next caller that may start
    // one does; this socket is made on a thread of its own.
    MAKER.lock().unwrap_or_else(|p| p.into_inner()).take();
  }
  throwaway(ns, domain, ty, protocol).map(|fd| (fd, MakerKind::Throwaway))
}

/// The running maker, started now if the calling thread may start it.
fn maker() -> Option<Sender<Job>> {
  let mut slot = MAKER.lock().unwrap_or_else(|p| p.into_inner());
  if let Some(s) = slot.as_ref() {
    return Some(s.clone());
  }
  if !(this_thread::is_main_thread() && this_thread::unmoved()) {
    return None;
  }
  let (tx, rx) = mpsc::channel();
  this_thread::spawn_from_here("nsjs-sockets", move || serve(rx)).ok()?;
  *slot = Some(tx.clone());
  Some(tx)
}

fn serve(jobs: Receiver<Job>) {
  this_thread::block_signals();
  let Ok(home) = NsHandle::current(NsType::Net) else { return };
  let mut next = jobs.recv().ok();
  while let Some(job) = next {
    if !make_one(job, &home) {
      return;
    }
    next = poll_then_wait(&jobs, MAKER_POLL);
  }
}

/// Makes `job`'s socket and replies; false when the thread could not get back `home`.
fn make_one(job: Job, home: &NsHandle) -> bool {
  // SAFETY: the caller keeps the descriptor open until it has the reply.
  let ns = unsafe { BorrowedFd::borrow_raw(job.ns) };
  // A refused setns leaves the thread at home (an unprivileged caller could not go back either).
  if let Err(e) = syscall::setns(ns, libc::CLONE_NEWNET) {
    drop(job.reply.send(Err(e.ns(NsType::Net))));
    return true;
  }
  let made = syscall::socket(job.domain, job.ty, job.protocol);
  if let Err(e) = syscall::setns(home.as_fd(), libc::CLONE_NEWNET) {
    // Not home: this thread must not make another socket, nor keep a namespace alive.
    drop(job.reply.send(Err(e.ns(NsType::Net).step(Step::Restore))));
    return false;
  }
  drop(job.reply.send(made));
  true
}

/// setns into `ns` and socket(2), on the calling thread (which must be one of ours).
fn inside(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  syscall::setns(ns, libc::CLONE_NEWNET).map_err(|e| e.ns(NsType::Net))?;
  syscall::socket(domain, ty, protocol)
}

fn throwaway(ns: BorrowedFd<'_>, domain: i32, ty: i32, protocol: i32) -> Result<OwnedFd> {
  let raw = ns.as_raw_fd();
  this_thread::spawn_from_here("nsjs-socket", move || {
    // SAFETY: the caller keeps the descriptor open until this thread has been joined.
    let ns = unsafe { BorrowedFd::borrow_raw(raw) };
    inside(ns, domain, ty, protocol)
  })?
  .join()
  .unwrap_or_else(|_| Err(Error::os(libc::EIO, "pthread_join")))
}
