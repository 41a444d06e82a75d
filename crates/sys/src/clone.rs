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

  /// The usable part, lowest address first, as clone3 takes it: the mapping without its guard
  /// page. The child's first stack pointer is its end, `top()`.
  fn usable(&self) -> (u64, u64) {
    let page = page_size();
    (self.base as u64 + page as u64, (self.len - page) as u64)
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

pub use crate::syscall::raw::ChildFn;

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

/// The kernel's `struct clone_args` up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
  flags: u64,
  pidfd: u64,
  child_tid: u64,
  parent_tid: u64,
  exit_signal: u64,
  stack: u64,
  stack_size: u64,
  tls: u64,
  set_tid: u64,
  set_tid_size: u64,
  cgroup: u64,
}

/// `clone_on` through clone3 with CLONE_INTO_CGROUP: the child is born in the cgroup v2
/// directory `cgroup` (an O_PATH descriptor of it), so it never runs a single instruction outside
/// it. `flags` are clone_on's, their exit signal (the low byte) included. Fails with the raw
/// errno, for the caller to tell a kernel or seccomp profile without clone3 (ENOSYS, EPERM) or
/// without CLONE_INTO_CGROUP (E2BIG) from a refused cgroup.
///
/// # Safety
/// As for `clone_on`.
pub unsafe fn clone3_into_cgroup_on(
  stack: &Stack,
  flags: libc::c_int,
  cgroup: i32,
  f: ChildFn,
  arg: *mut libc::c_void,
) -> Result<(libc::pid_t, Option<i32>)> {
  let mut pidfd: libc::c_int = -1;
  let (bottom, size) = stack.usable();
  let args = CloneArgs {
    flags: (flags & !libc::CSIGNAL) as u32 as u64 | CLONE_INTO_CGROUP,
    pidfd: &mut pidfd as *mut libc::c_int as u64,
    exit_signal: (flags & libc::CSIGNAL) as u64,
    stack: bottom,
    stack_size: size,
    cgroup: cgroup as u64,
    ..CloneArgs::default()
  };
  // SAFETY: `args` is a complete struct clone_args of the size given, its stack is the caller's
  // (mapped, the child's alone); `pidfd` outlives the call, which is where the kernel stores the
  // pidfd; the caller vouches for `f` and `arg` (see above).
  let ret =
    unsafe { raw::clone3_run(&args as *const CloneArgs as usize, std::mem::size_of::<CloneArgs>(), f, arg) };
  if ret < 0 {
    return Err(Error::os(ret.wrapping_neg() as i32, "clone3"));
  }
  Ok((ret as libc::pid_t, if flags & libc::CLONE_PIDFD != 0 { Some(pidfd) } else { None }))
}

/// CLONE_INTO_CGROUP, which only clone3 takes (it is above clone's 32 bits of flags).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

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
