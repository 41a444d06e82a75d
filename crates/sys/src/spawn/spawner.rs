//! The spawner thread: spawns handed over by a thread whose event loop must not wait for them.
//! A clone+exec takes the cloning thread 0.3-0.7 ms, so 500 spawns started in one go would
//! hold Node's loop for a third of a second; handed over, they cost the loop only the hand-over.
//!
//! The thread is an exact stand-in for the thread that hands work over only while that thread is
//! `thread::unmoved()` and the thread was started by an unmoved thread: then both are in the
//! namespaces the process started in and share root, cwd and umask. `available()` checks this;
//! a moved caller spawns on its own thread. The thread lives as long as the process, so a
//! child's PR_SET_PDEATHSIG fires when the process ends, as with a spawn from Node's main thread.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};

use super::spec::{Child, SpawnSpec};
use crate::error::{Error, Result};
use crate::thread;

/// Called on the spawner thread once a job's outcome can be taken.
pub type Notify = Box<dyn FnOnce() + Send>;

struct Job {
  spec: SpawnSpec,
  /// Descriptors the spec names (child ends of pipes, duplicated join handles), closed once the
  /// child has exec'ed or failed.
  keep: Vec<OwnedFd>,
  pending: Arc<Pending>,
  notify: Notify,
}

enum State {
  Queued,
  Done(Result<Child>),
  Taken,
}

/// A handed-over spawn, whose outcome is taken exactly once: by `take(true)`, which waits for it
/// (a caller that needs the pid now), or by `take(false)` after the notification.
pub struct Pending {
  state: Mutex<State>,
  done: Condvar,
}

impl Pending {
  /// The outcome, once: `None` when it was taken before, or when `wait` is false and the
  /// spawner has not got to it yet.
  pub fn take(&self, wait: bool) -> Option<Result<Child>> {
    let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
    while wait && matches!(*state, State::Queued) {
      state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
    }
    match std::mem::replace(&mut *state, State::Taken) {
      State::Done(r) => Some(r),
      State::Queued => {
        *state = State::Queued;
        None
      }
      State::Taken => None,
    }
  }

  fn finish(&self, outcome: Result<Child>) {
    *self.state.lock().unwrap_or_else(|p| p.into_inner()) = State::Done(outcome);
    self.done.notify_all();
  }
}

static QUEUE: Mutex<Option<Sender<Job>>> = Mutex::new(None);
/// Set when the thread could not put itself back after a job's pid join: it no longer stands in
/// for anyone, and every later spawn happens on the caller's thread.
static BROKEN: AtomicBool = AtomicBool::new(false);

/// Whether a spawn by the calling thread may be handed over: it is the process's main thread
/// (a worker's children end with the worker, through PR_SET_PDEATHSIG), it is unmoved, and
/// so is the spawner thread.
pub fn available() -> bool {
  // SAFETY: getpid and gettid have no preconditions.
  let main_thread = unsafe { libc::getpid() == libc::gettid() };
  main_thread && stands_in()
}

fn stands_in() -> bool {
  thread::unmoved() && !BROKEN.load(Ordering::Relaxed)
}

/// Queues `spec` for the spawner thread, starting it on first use; refused (EINVAL) when the
/// calling thread has moved. Callers check `available()` first (and the spec must need no joins on the cloning thread other than pid, which
/// the spawner undoes itself). `notify` runs on the spawner thread when the outcome is ready.
pub fn submit(spec: SpawnSpec, keep: Vec<OwnedFd>, notify: Notify) -> Result<Arc<Pending>> {
  if !stands_in() {
    return Err(Error::os(libc::EINVAL, "clone").step("clone"));
  }
  let pending = Arc::new(Pending { state: Mutex::new(State::Queued), done: Condvar::new() });
  let job = Job { spec, keep, pending: pending.clone(), notify };
  let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
  if queue.is_none() {
    *queue = Some(start()?);
  }
  let sender = queue.as_ref().expect("set above");
  sender.send(job).map_err(|_| Error::os(libc::EPIPE, "clone").step("clone"))?;
  Ok(pending)
}

fn start() -> Result<Sender<Job>> {
  let (tx, rx) = channel::<Job>();
  std::thread::Builder::new()
    .name("nsjs-spawner".into())
    .spawn(move || {
      crate::clone::block_signals_of_this_thread();
      for job in rx {
        let outcome = super::spawn(&job.spec);
        drop(job.keep);
        if !thread::unmoved() {
          BROKEN.store(true, Ordering::Relaxed);
        }
        job.pending.finish(outcome);
        // A panicking callback must not take the thread, and every later spawn, with it.
        let notify = job.notify;
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(notify));
      }
    })
    .map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "pthread_create").step("clone"))?;
  Ok(tx)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::ns_type::NsType;
  use std::os::fd::AsFd;
  use std::sync::mpsc;
  use std::time::Duration;

  fn run_on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
  }

  #[test]
  fn spawns_in_the_submitters_namespaces_and_notifies() {
    let (tx, rx) = mpsc::channel();
    let pending = run_on_fresh_thread(move || {
      let spec = SpawnSpec::new("/bin/sh", vec!["sh".into(), "-c".into(), "exit 7".into()]);
      submit(spec, Vec::new(), Box::new(move || tx.send(()).unwrap())).unwrap()
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let child = pending.take(false).unwrap().unwrap();
    assert!(pending.take(true).is_none(), "an outcome is taken once");
    assert_eq!(crate::sys::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((7, 0)));
  }

  #[test]
  fn take_waits_for_the_outcome_and_errors_come_back() {
    let pending = run_on_fresh_thread(|| submit(SpawnSpec::new("/nonexistent/x", vec!["x".into()]), Vec::new(), Box::new(|| {})).unwrap());
    let err = pending.take(true).unwrap().unwrap_err();
    assert_eq!((err.errno, err.step.as_deref()), (libc::ENOENT, Some("execve")));
  }

  #[test]
  fn a_moved_thread_may_not_hand_over() {
    let refused = run_on_fresh_thread(|| {
      let fresh = crate::create::create(NsType::Uts).unwrap();
      let saved = thread::enter(&fresh).unwrap();
      let r = submit(SpawnSpec::new("/bin/true", vec!["true".into()]), Vec::new(), Box::new(|| {}));
      thread::restore(saved).unwrap();
      r.is_err()
    });
    assert!(refused);
    // The children it does spawn are born in the submitter's namespaces.
    let mine = std::fs::read_link("/proc/thread-self/ns/uts").unwrap();
    let check = format!("[ \"$(readlink /proc/self/ns/uts)\" = '{}' ]", mine.display());
    let pending = run_on_fresh_thread(move || submit(SpawnSpec::new("/bin/sh", vec!["sh".into(), "-c".into(), check]), Vec::new(), Box::new(|| {})).unwrap());
    let child = pending.take(true).unwrap().unwrap();
    assert_eq!(crate::sys::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((0, 0)));
  }
}
