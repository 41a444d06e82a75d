//! The spawner thread: spawns handed over by a thread whose event loop must not wait for them.
//! A clone+exec takes the cloning thread 0.3-0.7 ms, so 500 spawns started in one go would
//! hold Node's loop for a third of a second; handed over, they cost the loop only the hand-over.
//!
//! The thread stands in for the main thread that hands work over only while that thread is
//! `this_thread::unmoved()` and the spawner was started by it unmoved: then both are in the
//! namespaces the process started in and share root, cwd and umask; the spawner also started with
//! the main thread's per-thread attributes (nice, CPU affinity, scheduling policy, seccomp), and
//! nice, the one Node itself changes per thread (os.setPriority), is compared before every
//! hand-over.
//! `available()` checks all this; otherwise the caller spawns on its own thread. The thread lives
//! as long as the process, so a child's PR_SET_PDEATHSIG fires when the process ends, as with a
//! spawn from Node's main thread.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};

use super::spec::{Child, SpawnSpec};
use crate::error::{Error, Result};
use crate::step::Step;
use crate::this_thread;

/// Called on the spawner thread once a job's outcome can be taken.
pub type Notify = Box<dyn FnOnce() + Send>;

struct Job {
  spec: SpawnSpec,
  /// Descriptors the spec names that are the job's alone (the child ends of pipes), closed once
  /// the child has exec'ed or failed.
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

struct Spawner {
  queue: Sender<Job>,
  /// The nice value it inherited; Linux keeps one per thread, and os.setPriority() changes only
  /// the calling thread's.
  nice: i32,
}

static SPAWNER: Mutex<Option<Spawner>> = Mutex::new(None);
/// Set when the thread could not put itself back after a job's pid join (or a spawn panicked):
/// it no longer stands in for anyone; later jobs fail and later spawns stay on their thread.
static BROKEN: AtomicBool = AtomicBool::new(false);

fn own_nice() -> i32 {
  // SAFETY: no preconditions; PRIO_PROCESS with who = 0 is the calling thread on Linux. An error
  // (-1 with errno set) cannot happen for the caller itself.
  unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

/// Whether a spawn by the calling thread may be handed over, starting the spawner thread on
/// first use (so that it starts as a copy of this thread): the caller is the process's main
/// thread (a worker's children end with the worker, through PR_SET_PDEATHSIG), it is unmoved, it
/// has the spawner thread's nice value, and the spawner thread is not broken.
pub fn available() -> bool {
  if !this_thread::is_main_thread() || !this_thread::unmoved() || BROKEN.load(Ordering::Relaxed) {
    return false;
  }
  let mut spawner = SPAWNER.lock().unwrap_or_else(|p| p.into_inner());
  match started(&mut spawner) {
    Ok(s) => s.nice == own_nice(),
    Err(_) => false,
  }
}

fn started(slot: &mut Option<Spawner>) -> Result<&Spawner> {
  if slot.is_none() {
    *slot = Some(Spawner { queue: start()?, nice: own_nice() });
  }
  Ok(slot.as_ref().expect("set above"))
}

/// Queues `spec` for the spawner thread. The spec must need no joins on the cloning thread other
/// than pid, which the spawn leaves again after its clone (the thread marks itself broken if that
/// fails). Any thread may queue once `available()` said yes on
/// the main thread (what is queued was decided then); the first queue from an unmoved thread may
/// also start the spawner thread, and from a moved one that is refused (EINVAL). `notify` runs on
/// the spawner thread once the outcome can be taken.
pub fn submit(spec: SpawnSpec, keep: Vec<OwnedFd>, notify: Notify) -> Result<Arc<Pending>> {
  let mut spawner = SPAWNER.lock().unwrap_or_else(|p| p.into_inner());
  if spawner.is_none() && !this_thread::unmoved() {
    return Err(Error::os(libc::EINVAL, "clone").step(Step::Clone));
  }
  let pending = Arc::new(Pending { state: Mutex::new(State::Queued), done: Condvar::new() });
  let job = Job { spec, keep, pending: pending.clone(), notify };
  started(&mut spawner)?.queue.send(job).map_err(|_| Error::os(libc::EPIPE, "clone").step(Step::Clone))?;
  Ok(pending)
}

fn start() -> Result<Sender<Job>> {
  let (tx, rx) = channel::<Job>();
  this_thread::native_thread("nsjs-spawner")
    .spawn(move || {
      this_thread::block_signals();
      // It starts with the first spawn that is queued, before the JS thread opens the pipes of
      // that burst at their hand-over: one growth of the fd table here spares it several (see
      // reserve_fds). 4096 holds the descriptors of about 500 queued children with pipes.
      crate::syscall::reserve_fds(4096);
      for job in rx {
        run(job);
      }
    })
    .map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "pthread_create").step(Step::Clone))?;
  Ok(tx)
}

fn run(job: Job) {
  let Job { spec, keep, pending, notify } = job;
  let outcome = if BROKEN.load(Ordering::Relaxed) {
    Err(Error::os(libc::EINVAL, "clone").step(Step::Clone))
  } else {
    // A panic must not take the thread, and every queued spawn (and waiter) with it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::spawn(&spec)))
      .unwrap_or_else(|_| Err(Error::os(libc::EIO, "clone").step(Step::Clone)))
  };
  drop(keep);
  if !this_thread::unmoved() {
    BROKEN.store(true, Ordering::Relaxed);
  }
  pending.finish(outcome);
  let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(notify));
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::ns_type::NsType;
  use std::os::fd::AsFd;
  use std::sync::mpsc;
  use std::time::Duration;

  use crate::this_thread::tests::on_new_thread;

  #[test]
  fn spawns_in_the_submitters_namespaces_and_notifies() {
    let (tx, rx) = mpsc::channel();
    let pending = on_new_thread(move || {
      let spec = SpawnSpec::new("/bin/sh", vec!["sh".into(), "-c".into(), "exit 7".into()]);
      submit(spec, Vec::new(), Box::new(move || tx.send(()).unwrap())).unwrap()
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let child = pending.take(false).unwrap().unwrap();
    assert!(pending.take(true).is_none(), "an outcome is taken once");
    assert_eq!(crate::syscall::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((7, 0)));
  }

  #[test]
  fn take_waits_for_the_outcome_and_errors_come_back() {
    let pending = on_new_thread(|| {
      submit(SpawnSpec::new("/nonexistent/x", vec!["x".into()]), Vec::new(), Box::new(|| {})).unwrap()
    });
    let err = pending.take(true).unwrap().unwrap_err();
    assert_eq!((err.errno, err.step), (libc::ENOENT, Some(Step::Execve)));
  }

  #[test]
  fn what_was_queued_is_born_where_the_spawner_started_even_if_the_queuer_moved_since() {
    // Started (if no other test did) from an unmoved thread: the test process's namespaces.
    on_new_thread(|| {
      submit(SpawnSpec::new("/bin/true", vec!["true".into()]), Vec::new(), Box::new(|| {}))
        .unwrap()
        .take(true)
    });
    let mine = std::fs::read_link("/proc/thread-self/ns/uts").unwrap();
    let check = format!("[ \"$(readlink /proc/self/ns/uts)\" = '{}' ]", mine.display());
    let pending = on_new_thread(move || {
      let fresh = crate::create::create(NsType::Uts).unwrap();
      let saved = this_thread::enter(&fresh).unwrap();
      let p =
        submit(SpawnSpec::new("/bin/sh", vec!["sh".into(), "-c".into(), check]), Vec::new(), Box::new(|| {}));
      this_thread::restore(saved).unwrap();
      p.unwrap()
    });
    let child = pending.take(true).unwrap().unwrap();
    assert_eq!(crate::syscall::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((0, 0)));
  }
}
