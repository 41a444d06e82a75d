//! The process environment for a child that inherits it: `current()` as it is now, and for a
//! spawn that starts later (handed to the spawner thread) as it was when it was asked for:
//! `hold()` names the environment of now with a generation number, `take()` gives it back.
//! Copying the environment in every spawn() call would cost microseconds each; comparing it with
//! the last copy costs a fraction of that, so `hold` copies only when it changed. `take` then
//! gives each queued spawn its own copy, at its hand-over (out of the spawn() call).
//!
//! Only the thread that changes the environment may call these (Node: the main thread, whose
//! process.env writes through to it with setenv); another thread's setenv could free a string
//! while it is read here.

use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::sync::{Arc, Mutex};

extern "C" {
  static environ: *const *const c_char;
}

/// A copy of the environment ready for execve: its entries and the NULL-terminated pointers to
/// them, made once per change of the environment and shared by every spawn that takes it (a
/// burst's children would otherwise each copy it twice).
#[derive(Debug)]
pub struct EnvBlock {
  entries: Vec<CString>,
  ptrs: Vec<*const c_char>,
}

// SAFETY: `ptrs` point into `entries`, which the block owns and never changes after `copy`.
unsafe impl Send for EnvBlock {}
// SAFETY: as above; nothing in a block is ever written after it was made.
unsafe impl Sync for EnvBlock {}

impl EnvBlock {
  /// The live environment, copied.
  fn copy() -> EnvBlock {
    let mut entries = Vec::new();
    // An entry of environ is NUL-terminated, so it holds no NUL: CString::new cannot fail.
    each_entry(|e| {
      entries.extend(CString::new(e).ok());
      true
    });
    let mut ptrs: Vec<*const c_char> = entries.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    EnvBlock { entries, ptrs }
  }

  /// What execve takes: pointers to the entries, then NULL.
  pub fn envp(&self) -> &[*const c_char] {
    &self.ptrs
  }

  /// The value of PATH in it.
  pub fn path(&self) -> Option<String> {
    self
      .entries
      .iter()
      .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
      .map(|v| String::from_utf8_lossy(v).into_owned())
  }

  /// The entries as strings.
  pub fn strings(&self) -> Vec<String> {
    self.entries.iter().map(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()).collect()
  }
}

struct Held {
  env: Arc<EnvBlock>,
  holds: usize,
}

struct State {
  generation: u64,
  /// The copy `generation` names; compared with the live environment by `hold`.
  latest: Arc<EnvBlock>,
  held: HashMap<u64, Held>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Calls `f` on each "K=V" entry of the live environment, in order, until it returns false.
fn each_entry(mut f: impl FnMut(&[u8]) -> bool) {
  // SAFETY: `environ` is a NULL-terminated array of NUL-terminated strings that only the calling
  // thread changes (module contract); it is read, never kept.
  unsafe {
    let mut p = environ;
    if p.is_null() {
      return;
    }
    while !(*p).is_null() {
      if !f(CStr::from_ptr(*p).to_bytes()) {
        return;
      }
      p = p.add(1);
    }
  }
}

/// Whether the live environment is the one `copy` was made of: entry by entry, each compared in
/// one pass (strcmp stops at the first difference or the end; no strlen first), as `hold` asks
/// this on every spawn() of a burst.
fn unchanged(copy: &EnvBlock) -> bool {
  let mut i = 0;
  // SAFETY: as in each_entry, `environ` is a NULL-terminated array of NUL-terminated strings
  // that only the calling thread changes; each entry of `copy.ptrs` but the last (NULL) points
  // into a CString of `copy.entries`. strcmp reads both strings up to their NULs, no further.
  unsafe {
    let mut p = environ;
    if p.is_null() {
      return copy.entries.is_empty();
    }
    while !(*p).is_null() {
      match copy.ptrs.get(i) {
        Some(c) if !c.is_null() && libc::strcmp(*p, *c) == 0 => {}
        _ => return false,
      }
      i += 1;
      p = p.add(1);
    }
  }
  i == copy.entries.len()
}

/// The environment as execve takes it, as it is now.
pub fn current() -> Vec<String> {
  let mut v = Vec::new();
  each_entry(|e| {
    v.push(String::from_utf8_lossy(e).into_owned());
    true
  });
  v
}

/// The environment as execve takes it, without a copy: pointers to the live entries, ending in
/// NULL. Valid until the environment next changes (module contract: only this thread changes it).
pub fn pointers() -> Vec<*const c_char> {
  let mut v = Vec::with_capacity(64);
  // SAFETY: as in each_entry; only the pointers are copied.
  unsafe {
    let mut p = environ;
    while !p.is_null() && !(*p).is_null() {
      v.push(*p);
      p = p.add(1);
    }
  }
  v.push(std::ptr::null());
  v
}

/// The value of PATH in the environment as it is now.
pub fn path() -> Option<String> {
  let mut found = None;
  each_entry(|e| match e.strip_prefix(b"PATH=") {
    Some(v) => {
      found = Some(String::from_utf8_lossy(v).into_owned());
      false
    }
    None => true,
  });
  found
}

/// Names the environment as it is now; each `hold` is released by one `take` of its number.
pub fn hold() -> u64 {
  let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
  let state = guard.get_or_insert_with(|| State {
    generation: 0,
    latest: Arc::new(EnvBlock::copy()),
    held: HashMap::new(),
  });
  if !unchanged(&state.latest) {
    state.generation += 1;
    state.latest = Arc::new(EnvBlock::copy());
  }
  let generation = state.generation;
  let latest = state.latest.clone();
  state.held.entry(generation).or_insert(Held { env: latest, holds: 0 }).holds += 1;
  generation
}

/// The environment that `hold` named `generation`, releasing that hold; `None` for a number
/// that is not held. Shared, not copied: every spawn of one generation takes the same block.
pub fn take(generation: u64) -> Option<Arc<EnvBlock>> {
  let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
  let state = guard.as_mut()?;
  let held = state.held.get_mut(&generation)?;
  held.holds -= 1;
  let env = held.env.clone();
  if held.holds == 0 {
    state.held.remove(&generation);
  }
  Some(env)
}

#[cfg(test)]
mod tests {
  use super::*;

  /// What `sh` (a bare name) started with `own_environ` prints for $NSJS_ENVIRON_TEST.
  fn child_sees_own_environ() -> String {
    use crate::spawn::{spawn, SpawnSpec, Stdio};
    use std::io::Read;
    use std::os::fd::{AsFd, AsRawFd};
    let mut spec = SpawnSpec::new("sh", vec!["sh".into(), "-c".into(), "echo $NSJS_ENVIRON_TEST".into()]);
    spec.own_environ = true;
    let (r, w) = crate::syscall::pipe().unwrap();
    spec.stdio[1] = Stdio::Fd(w.as_raw_fd());
    let child = spawn(&spec).unwrap();
    drop(w);
    let mut out = String::new();
    std::fs::File::from(r).read_to_string(&mut out).unwrap();
    assert_eq!(crate::syscall::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((0, 0)));
    out
  }

  // One test: the environment is the process's, and cargo runs tests on parallel threads.
  #[test]
  fn a_held_environment_outlives_later_changes() {
    let before = hold();
    let again = hold();
    assert_eq!(before, again, "no change, no new copy");
    std::env::set_var("NSJS_ENVIRON_TEST", "changed");
    let after = hold();
    assert_ne!(after, before);
    let old = take(before).unwrap();
    assert!(!old.strings().iter().any(|e| e.starts_with("NSJS_ENVIRON_TEST=")));
    assert!(Arc::ptr_eq(&old, &take(again).unwrap()), "each hold is taken once, of one shared copy");
    assert!(take(before).is_none(), "and then released");
    let new = take(after).unwrap();
    assert!(new.strings().contains(&"NSJS_ENVIRON_TEST=changed".to_string()));
    assert_eq!((new.envp().len(), new.path()), (new.strings().len() + 1, std::env::var("PATH").ok()));
    let live = pointers();
    assert_eq!(live.len(), current().len() + 1, "every entry, then NULL");
    assert!(live.last().unwrap().is_null());
    assert_eq!(path(), std::env::var("PATH").ok());
    assert_eq!(child_sees_own_environ(), "changed\n", "a bare name found on our PATH, our variable");
    std::env::remove_var("NSJS_ENVIRON_TEST");
    let removed = hold();
    assert_ne!(removed, after, "a variable removed is a change too");
    assert!(!take(removed).unwrap().strings().iter().any(|e| e.starts_with("NSJS_ENVIRON_TEST=")));
  }
}
