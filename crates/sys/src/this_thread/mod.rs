//! The calling thread: its namespace changes (join, enter and restore, unshare), whether it is
//! still where it started, and the native threads nsjs starts with their signals blocked.
//! Everything here acts on the thread that calls it, which is why only JS threads (through the
//! Node binding) and the spawner thread (around its clones) change namespaces, never a pool thread.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;

use crate::error::{Error, Result, Rule};
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;

mod way_back;

use way_back::back_from;
pub use way_back::visit;

thread_local! {
  /// `enter`s of this thread not yet undone by `restore`.
  static ENTERED: Cell<u32> = const { Cell::new(0) };
  /// A `join` or `unshare` happened: the thread may be anywhere from now on.
  static MOVED_FOR_GOOD: Cell<bool> = const { Cell::new(false) };
  /// The thread has its own root, cwd and umask (unshare(CLONE_FS)), no longer the process's.
  static OWN_FS: Cell<bool> = const { Cell::new(false) };
  /// Per type, the namespace this thread is in (for pid and time: its children's), while nsjs
  /// knows it: found once, or come back to by `restore`, and forgotten whenever nsjs moves the
  /// thread. `enter` saves it from here instead of opening /proc/thread-self/ns/<type> each time.
  /// Only nsjs moves a thread: code outside it that calls setns on a JS thread is not seen.
  static WHERE: RefCell<[Option<Rc<NsHandle>>; NsType::COUNT]> =
    const { RefCell::new([const { None }; NsType::COUNT]) };
  /// Per type, whether the thread could come back to where `WHERE` says it is (`way_back`), kept
  /// and forgotten with it.
  static BACK: Cell<[Option<bool>; NsType::COUNT]> = const { Cell::new([None; NsType::COUNT]) };
}

/// Where the calling thread is in `ty` (see `WHERE`), opened now if nsjs does not know it, and
/// then kept when `keep`; and whether it is kept.
fn where_now(ty: NsType, keep: bool) -> Result<(Rc<NsHandle>, bool)> {
  if let Some(h) = WHERE.with_borrow(|w| w[ty.position()].clone()) {
    return Ok((h, true));
  }
  let h = Rc::new(NsHandle::current_for_children(ty)?);
  if keep {
    WHERE.with_borrow_mut(|w| w[ty.position()] = Some(h.clone()));
  }
  Ok((h, keep))
}

/// The thread has moved in `ty` (or may have): where it is is no longer known.
fn moved(ty: NsType) {
  WHERE.with_borrow_mut(|w| w[ty.position()] = None);
  remember_back(ty, None);
}

fn remember_back(ty: NsType, back: Option<bool>) {
  let mut all = BACK.get();
  all[ty.position()] = back;
  BACK.set(all);
}

/// Whether the calling thread is the process's main thread (Node's: the one that runs
/// uv_default_loop()). A thread is the main thread or not for its whole life: asked once per
/// thread (two syscalls), then remembered.
pub fn is_main_thread() -> bool {
  thread_local! {
    // SAFETY: getpid and gettid have no preconditions.
    static MAIN: bool = unsafe { libc::getpid() == libc::gettid() };
  }
  MAIN.with(|m| *m)
}

/// std's default; the threads nsjs starts need little, but the size only reserves address space.
const NATIVE_THREAD_STACK: usize = 2 * 1024 * 1024;

/// A builder for a thread nsjs starts itself. The stack size is set because without one std
/// reads RUST_MIN_STACK from the process environment at the first spawn, possibly on a worker
/// thread, while Node's main thread may be rewriting that environment (process.env writes call
/// setenv, which takes no lock std's reader would wait for): a use-after-free in getenv.
pub fn native_thread(name: &str) -> std::thread::Builder {
  std::thread::Builder::new().name(name.into()).stack_size(NATIVE_THREAD_STACK)
}

/// Blocks every signal on a helper thread (the epoll exit watcher, the spawner) that lives as long
/// as the process: process-directed signals belong on the JS thread, whose handlers Node
/// installed; here they would only interrupt the thread's waits. Through glibc, not the raw
/// call: glibc keeps the two signals it uses for setuid/setgroups across threads unblocked, and
/// a thread that blocked them would hang every later process.setuid()/setgroups() of the process.
pub fn block_signals() {
  // SAFETY: an all-zero sigset_t is valid storage that sigfillset then fills.
  let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
  // SAFETY: `all` is a valid sigset_t; no old mask is asked for.
  unsafe {
    libc::sigfillset(&mut all);
    libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
  }
}

/// Whether the calling thread is still where it started: in the namespaces of the thread that
/// created it and sharing root, cwd and umask with the process. Another thread started by an
/// unmoved thread is then in the same namespaces and fs (the spawner thread relies on that).
pub fn unmoved() -> bool {
  ENTERED.get() == 0 && !MOVED_FOR_GOOD.get() && !OWN_FS.get()
}

/// User and time namespaces can only be entered by a single-threaded process (EINVAL / EUSERS),
/// and a Node process never is one; say so before the kernel does, with the rule's own code.
fn check_single_threaded(ty: NsType, syscall: &'static str) -> Result<()> {
  if matches!(ty, NsType::User | NsType::Time) && syscall::thread_count() > 1 {
    return Err(Error::rule(Rule::Multithreaded, syscall).ns(ty));
  }
  Ok(())
}

/// A thread whose pid_for_children is not its own pid namespace can no longer create threads
/// (the kernel refuses CLONE_THREAD with EINVAL), and Node starts threads at any time (libuv's
/// pool aborts the process when it cannot), so the calling thread never keeps such a state.
fn check_pid_keeps_threads(ty: NsType, syscall: &'static str) -> Result<()> {
  if ty == NsType::Pid {
    return Err(Error::rule(Rule::Multithreaded, syscall).ns(ty));
  }
  Ok(())
}

/// Starts a native thread from the calling thread. A new thread is born in its creator's
/// namespaces and shares its root and cwd, so work on it sees what the creator sees now (unlike a
/// pool thread, born whenever and wherever); what the work then does to its own thread ends with it.
pub fn spawn_from_here<T: Send + 'static>(
  name: &str,
  f: impl FnOnce() -> T + Send + 'static,
) -> Result<std::thread::JoinHandle<T>> {
  native_thread(name)
    .spawn(f)
    .map_err(|e| Error::os(e.raw_os_error().unwrap_or(libc::EAGAIN), "pthread_create"))
}

/// Moves the calling thread into the namespace `h` holds (time: its future children). pid is
/// refused: see `check_pid_keeps_threads`.
pub fn join(h: &NsHandle) -> Result<()> {
  join_raw(h.as_fd().as_raw_fd(), h.ns_type())
}

/// `join` by descriptor number, for a caller that keeps the descriptor open (the JS handle) and
/// knows its type; setns checks that type again, so a wrong number fails (EBADF, EINVAL).
pub fn join_raw(fd: RawFd, ty: NsType) -> Result<()> {
  check_pid_keeps_threads(ty, "setns")?;
  check_single_threaded(ty, "setns")?;
  setns_here(fd, ty)?;
  MOVED_FOR_GOOD.set(true);
  Ok(())
}

/// setns of the calling thread (for mnt with its own fs first); the type checks are the caller's.
fn setns_here(fd: RawFd, ty: NsType) -> Result<()> {
  if ty == NsType::Mnt {
    // Without its own fs_struct the thread cannot change mount namespace (EINVAL), and setns
    // would otherwise rewrite root and cwd shared by every thread of the process. Every time:
    // threads it started since share its fs_struct again.
    syscall::unshare(libc::CLONE_FS).map_err(|e| e.ns(ty))?;
    OWN_FS.set(true);
  }
  syscall::setns_raw(fd, ty.clone_flag()).map_err(|e| e.ns(ty))?;
  moved(ty);
  Ok(())
}

/// Gives the calling thread new namespaces of the given types.
pub fn unshare(types: &[NsType]) -> Result<()> {
  let mut flags = 0;
  for &t in types {
    if !t.supported() {
      return Err(Error::rule(Rule::Unsupported, "unshare").ns(t));
    }
    if t == NsType::User {
      check_single_threaded(t, "unshare")?;
    }
    check_pid_keeps_threads(t, "unshare")?;
    flags |= t.clone_flag();
  }
  if flags & libc::CLONE_NEWNS != 0 {
    flags |= libc::CLONE_FS;
  }
  syscall::unshare(flags).map_err(|e| match types {
    [one] => e.ns(*one),
    _ => e,
  })?;
  types.iter().for_each(|&t| moved(t));
  OWN_FS.set(OWN_FS.get() || flags & libc::CLONE_FS != 0);
  MOVED_FOR_GOOD.set(true);
  Ok(())
}

/// What `run()` must put back: the thread's namespace of one type, and for mnt its cwd, which
/// setns replaces with the new namespace's root.
pub struct Saved {
  ns: Rc<NsHandle>,
  cwd: Option<OwnedFd>,
  /// Whether `restore` keeps `ns` as where the thread is (see `enter_raw`).
  keep: bool,
  /// `way_back` to `ns`, found before entering (`enter_raw`), kept again with it.
  back: Option<bool>,
}

/// Enters `h` on the calling thread and returns what `restore` needs to undo it. pid is refused
/// here too: a thread started inside `run()` (libuv starts its pool lazily) would abort Node.
/// So is a namespace the thread could not come back from (`ERR_NS_NO_WAY_BACK`, step
/// `restore`, see `way_back`), before the thread moves.
pub fn enter(h: &NsHandle) -> Result<Saved> {
  check_pid_keeps_threads(h.ns_type(), "setns")?;
  enter_at(h.as_fd().as_raw_fd(), h.ns_type(), false, true)
}

/// `enter` by descriptor number, as `join_raw`, for run(), which enters and leaves often: the
/// thread's own namespace of `ty` stays open for it from the first call on (one descriptor per
/// thread and type), so that later calls need not open /proc/thread-self/ns/<type> again, nor
/// find the way back again.
pub fn enter_raw(fd: RawFd, ty: NsType) -> Result<Saved> {
  check_pid_keeps_threads(ty, "setns")?;
  enter_at(fd, ty, true, true)
}

/// `enter` for a descriptor whose type the caller has checked (setns checks it again). Keeps no
/// descriptor open once restored, and does not check the way back (spawn's parent side).
pub fn enter_fd(fd: BorrowedFd<'_>, ty: NsType) -> Result<Saved> {
  enter_at(fd.as_raw_fd(), ty, false, false)
}

fn enter_at(fd: RawFd, ty: NsType, keep: bool, check_back: bool) -> Result<Saved> {
  check_single_threaded(ty, "setns")?;
  let (ns, keep) = where_now(ty, keep)?;
  let back = if check_back { back_from(ty, &ns, keep) } else { None };
  if back == Some(false) {
    return Err(Error::rule(Rule::NoWayBack, "setns").ns(ty).step(Step::Restore));
  }
  let cwd = if ty == NsType::Mnt {
    Some(syscall::open("/proc/thread-self/cwd", libc::O_PATH | libc::O_DIRECTORY, 0)?)
  } else {
    None
  };
  setns_here(fd, ty)?;
  ENTERED.set(ENTERED.get() + 1);
  Ok(Saved { ns, cwd, keep, back })
}

impl Saved {
  pub fn ns_type(&self) -> NsType {
    self.ns.ns_type()
  }
}

/// Puts the calling thread back where `enter` found it.
pub fn restore(saved: Saved) -> Result<()> {
  let ty = saved.ns.ns_type();
  syscall::setns(saved.ns.as_fd(), ty.clone_flag()).map_err(|e| e.ns(ty).step(Step::Restore))?;
  if saved.keep {
    WHERE.with_borrow_mut(|w| w[ty.position()] = Some(saved.ns));
    remember_back(ty, saved.back);
  }
  if let Some(cwd) = saved.cwd {
    syscall::fchdir(cwd.as_fd()).map_err(|e| e.ns(ty).step(Step::Restore))?;
  }
  ENTERED.set(ENTERED.get().saturating_sub(1));
  Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
  use super::*;

  /// Runs `f` on a thread of its own, so that what it does to its namespaces stays there.
  pub(crate) fn on_new_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().unwrap()
  }

  #[test]
  fn unshare_and_restore_uts_on_a_thread() {
    on_new_thread(|| {
      let before = NsHandle::current(NsType::Uts).unwrap();
      let fresh = crate::create::create(NsType::Uts).unwrap();
      let saved = enter(&fresh).unwrap();
      assert!(NsHandle::current(NsType::Uts).unwrap().same_as(&fresh));
      restore(saved).unwrap();
      assert!(NsHandle::current(NsType::Uts).unwrap().same_as(&before));
    });
  }

  #[test]
  fn mnt_enter_restores_cwd() {
    on_new_thread(|| {
      std::env::set_current_dir("/tmp").ok();
      let cwd = std::fs::read_link("/proc/thread-self/cwd").unwrap();
      let fresh = crate::create::create(NsType::Mnt).unwrap();
      let saved = enter(&fresh).unwrap();
      restore(saved).unwrap();
      assert_eq!(std::fs::read_link("/proc/thread-self/cwd").unwrap(), cwd);
    });
  }

  #[test]
  fn unmoved_tracks_enter_restore_and_join() {
    on_new_thread(|| {
      assert!(unmoved());
      let fresh = crate::create::create(NsType::Uts).unwrap();
      let saved = enter(&fresh).unwrap();
      assert!(!unmoved());
      restore(saved).unwrap();
      assert!(unmoved());
      join(&fresh).unwrap();
      assert!(!unmoved());
    });
    on_new_thread(|| {
      let mnt = NsHandle::current(NsType::Mnt).unwrap();
      restore(enter(&mnt).unwrap()).unwrap();
      // Back in its namespace, but with root and cwd of its own.
      assert!(!unmoved());
    });
  }

  #[test]
  fn run_entries_keep_where_the_thread_is_until_it_moves() {
    on_new_thread(|| {
      let kept = || WHERE.with_borrow(|w| w[NsType::Uts.position()].is_some());
      let start = NsHandle::current(NsType::Uts).unwrap();
      let a = crate::create::create(NsType::Uts).unwrap();
      let b = crate::create::create(NsType::Uts).unwrap();
      // spawn's entries leave nothing open behind them.
      restore(enter_fd(a.as_fd(), NsType::Uts).unwrap()).unwrap();
      assert!(!kept());
      restore(enter_raw(a.raw_fd(), NsType::Uts).unwrap()).unwrap();
      assert!(kept());
      join(&a).unwrap();
      assert!(!kept(), "a join forgets it");
      restore(enter_raw(b.raw_fd(), NsType::Uts).unwrap()).unwrap();
      assert!(NsHandle::current(NsType::Uts).unwrap().same_as(&a));
      unshare(&[NsType::Uts]).unwrap();
      let fresh = NsHandle::current(NsType::Uts).unwrap();
      restore(enter_raw(b.raw_fd(), NsType::Uts).unwrap()).unwrap();
      assert!(NsHandle::current(NsType::Uts).unwrap().same_as(&fresh));
      assert!(!fresh.same_as(&start));
    });
  }

  #[test]
  fn user_join_is_refused_when_multithreaded() {
    let user = NsHandle::current(NsType::User).unwrap();
    let _t = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
    assert_eq!(join(&user).unwrap_err().rule, Some(Rule::Multithreaded));
  }
}
