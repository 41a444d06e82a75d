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
use std::ffi::{c_char, CStr};
use std::sync::{Arc, Mutex};

extern "C" {
  static environ: *const *const c_char;
}

struct Held {
  env: Arc<Vec<String>>,
  holds: usize,
}

struct State {
  generation: u64,
  /// The copy `generation` names; compared with the live environment by `hold`.
  latest: Arc<Vec<String>>,
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

fn unchanged(copy: &[String]) -> bool {
  let mut i = 0;
  let mut same = true;
  each_entry(|e| {
    same = copy.get(i).is_some_and(|c| c.as_bytes() == e);
    i += 1;
    same
  });
  same && i == copy.len()
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

/// Names the environment as it is now; each `hold` is released by one `take` of its number.
pub fn hold() -> u64 {
  let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
  let state =
    guard.get_or_insert_with(|| State { generation: 0, latest: Arc::new(current()), held: HashMap::new() });
  if !unchanged(&state.latest) {
    state.generation += 1;
    state.latest = Arc::new(current());
  }
  let generation = state.generation;
  let latest = state.latest.clone();
  state.held.entry(generation).or_insert(Held { env: latest, holds: 0 }).holds += 1;
  generation
}

/// The environment that `hold` named `generation`, releasing that hold; `None` for a number
/// that is not held.
pub fn take(generation: u64) -> Option<Vec<String>> {
  let mut guard = STATE.lock().unwrap_or_else(|p| p.into_inner());
  let state = guard.as_mut()?;
  let held = state.held.get_mut(&generation)?;
  held.holds -= 1;
  let env = (*held.env).clone();
  if held.holds == 0 {
    state.held.remove(&generation);
  }
  Some(env)
}

#[cfg(test)]
mod tests {
  use super::*;

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
    assert!(!old.iter().any(|e| e.starts_with("NSJS_ENVIRON_TEST=")));
    assert!(take(again).is_some(), "each hold is taken once");
    assert!(take(before).is_none(), "and then released");
    assert!(take(after).unwrap().contains(&"NSJS_ENVIRON_TEST=changed".to_string()));
    std::env::remove_var("NSJS_ENVIRON_TEST");
  }
}
