//! When handles dropped without close() would exhaust the descriptor table, V8 is made to collect
//! them. A handle costs the process a descriptor, not memory: V8 is told nothing per handle (its
//! external-memory figure is for memory the process holds; a namespace descriptor holds a kernel
//! `struct file`, a few hundred bytes outside the process), so keeping many handles open causes no
//! collection. What is scarce is the descriptor table, bounded by RLIMIT_NOFILE: the kernel gives
//! the lowest free number, so a new handle's number tells how full the table is. Once it passes
//! three quarters of the limit (half of a small one: 4096 numbers or half are left free), V8 is made to collect (a momentary report of external memory
//! beyond its hard limit, on which V8 collects at once), and again each time half of what is left
//! fills up: a few collections even when the handles are all kept, none while the table has room.
//! Finalizers close what the collection found unreachable once the event loop turns.

use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

use napi::Env;

/// Beyond V8's external-memory hard limit (half its old generation's maximum, over the amount at
/// the last full collection or the lowest since): a report of this much makes V8 collect all
/// garbage before the call returns. Taken back at once, which also lowers the baseline V8 keeps.
/// Incremental marking (what a report over the soft limit starts) can take more turns of the event
/// loop than the table has room for. Under 2^40, the largest change V8 takes as plausible.
const NUDGE: i64 = 1 << 39;

/// The descriptor number at which the next nudge happens, and the one where the first does (see
/// `first_mark`; 0: not read yet). Process-wide, as the descriptor table is.
static NEXT: AtomicI64 = AtomicI64::new(0);
static FIRST: AtomicI64 = AtomicI64::new(0);

/// Called with the descriptor of each new handle, on the JS thread that will own it.
pub fn opened(env: &Env, fd: i32) {
  let fd = i64::from(fd);
  let next = NEXT.load(Relaxed);
  if next != 0 && fd < next {
    // The table emptied since the last nudge: the next one is at the first mark again.
    let first = FIRST.load(Relaxed);
    if fd < first && next > first {
      NEXT.store(first, Relaxed);
    }
    return;
  }
  let limit = nsjs_sys::syscall::fd_limit().map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
  let first = first_mark(limit);
  FIRST.store(first, Relaxed);
  if fd < first {
    NEXT.store(first, Relaxed);
    return;
  }
  NEXT.store(fd + ((limit - fd) / 2).max(1), Relaxed);
  if env.adjust_external_memory(NUDGE).is_ok() {
    let _ = env.adjust_external_memory(-NUDGE);
  }
}

/// Where the first nudge happens for a limit: a quarter of the table left, but at least 4096
/// numbers or half of it, room for the handles a program drops before the event loop turns again.
fn first_mark(limit: i64) -> i64 {
  limit - (limit / 4).max((limit / 2).min(4096))
}

#[cfg(test)]
mod tests {
  #[test]
  fn first_mark_leaves_room() {
    assert_eq!(super::first_mark(1024), 512);
    assert_eq!(super::first_mark(8192), 4096);
    assert_eq!(super::first_mark(20_000), 15_000);
    assert_eq!(super::first_mark(1 << 20), 3 << 18);
  }
}
