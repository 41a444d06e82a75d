//! A child stack and `clone(2)` on it. The stack is mmap'ed with a guard page below it so that an
//! overflow in the child faults instead of silently writing into the parent's memory.

use crate::error::{Error, Result};
use crate::syscall::raw;

pub const STACK_SIZE: usize = 256 * 1024;

pub struct Stack {
  base: *mut libc::c_void,
  len: usize,
}

// The mapping is only touched by the child while the parent waits for it; moving the owner
// between threads is fine.
unsafe impl Send for Stack {}

impl Stack {
  pub fn new(size: usize) -> Result<Stack> {
    let page = page_size();
    let len = size.div_ceil(page) * page + page;
    // SAFETY: anonymous private mapping with no address hint; the result is checked below.
    let base = unsafe {
      libc::mmap(
        std::ptr::null_mut(),
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
        -1,
        0,
      )
    };
    if base == libc::MAP_FAILED {
      return Err(Error::last("mmap"));
    }
    // SAFETY: the first page of the mapping we just made becomes the guard page.
    if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
      let e = Error::last("mprotect");
      // SAFETY: unmapping exactly the mapping made above.
      unsafe { libc::munmap(base, len) };
      return Err(e);
    }
    Ok(Stack { base, len })
  }

  /// The initial stack pointer: stacks grow down on every Linux target we build for.
  pub(crate) fn top(&self) -> *mut libc::c_void {
    // SAFETY: one past the end of our own mapping, 16-byte aligned since len is page-aligned.
    unsafe { self.base.cast::<u8>().add(self.len).cast() }
  }
}

impl Drop for Stack {
  fn drop(&mut self) {
    // SAFETY: unmapping exactly our own mapping; the child that used it has exec'ed or exited.
    unsafe { libc::munmap(self.base, self.len) };
  }
}

fn page_size() -> usize {
  // SAFETY: sysconf has no preconditions.
  let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
  if p > 0 {
    p as usize
  } else {
    4096
  }
}

pub type ChildFn = extern "C" fn(*mut libc::c_void) -> libc::c_int;

/// Clones a child that runs `f(arg)` on `stack`. With `CLONE_PIDFD` in `flags` the pidfd is
/// returned too.
///
/// # Safety
/// `f` must only do what is safe in a child that shares the parent's memory (CLONE_VM): no
/// allocation, no locks, no TLS, no errno (see `raw`). `arg` and `stack` must stay valid until the
/// child has exec'ed or exited, which the caller must wait for.
pub unsafe fn clone_on(
  stack: &Stack,
  flags: libc::c_int,
  f: ChildFn,
  arg: *mut libc::c_void,
) -> Result<(libc::pid_t, Option<i32>)> {
  let mut pidfd: libc::c_int = -1;
  // SAFETY: the stack is ours and mapped, `f`/`arg` obey the contract above, and `pidfd` is a
  // valid place for the kernel to store the pidfd when CLONE_PIDFD is set.
  let pid = unsafe { libc::clone(f, stack.top(), flags, arg, &mut pidfd as *mut libc::c_int) };
  if pid < 0 {
    return Err(Error::last("clone"));
  }
  Ok((pid, if flags & libc::CLONE_PIDFD != 0 { Some(pidfd) } else { None }))
}

/// Every signal blocked on the calling thread while it clones: a handler that ran in a CLONE_VM
/// child would run on the parent's memory. The raw call also blocks the two signals glibc keeps
/// for itself, which pthread_sigmask refuses to block.
pub struct BlockedSignals {
  old: u64,
}

impl BlockedSignals {
  pub fn all() -> Self {
    let all: u64 = !0;
    let mut old: u64 = 0;
    // SAFETY: both pointers are valid 8-byte sigsets, the size the kernel expects.
    unsafe {
      raw::call(
        libc::SYS_rt_sigprocmask,
        &[libc::SIG_SETMASK as usize, &all as *const u64 as usize, &mut old as *mut u64 as usize, 8],
      )
    };
    BlockedSignals { old }
  }
}

impl Drop for BlockedSignals {
  fn drop(&mut self) {
    // SAFETY: a valid 8-byte sigset; no old mask is asked for.
    unsafe {
      raw::call(
        libc::SYS_rt_sigprocmask,
        &[libc::SIG_SETMASK as usize, &self.old as *const u64 as usize, 0, 8],
      )
    };
  }
}
