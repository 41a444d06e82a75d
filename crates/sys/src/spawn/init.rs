//! `init: true`: the child, PID 1 of its new pid namespace, stays there as a minimal init (as
//! bubblewrap's and tini's do) and runs the command as its child: it forwards every signal it
//! can catch to the command, reaps every process that ends in the namespace (orphans are
//! reparented to it), and exits with the command's status once the command has ended (128 + N
//! when signal N ended it: an init cannot die of a signal it sends itself), which makes the
//! kernel kill whatever is left in the namespace.
//!
//! The init has memory of its own (it is cloned without CLONE_VM: it never execs, so it must not
//! keep the parent's memory shared, or the parent waiting in vfork). It still allocates nothing:
//! signals are read from a signalfd (all of them are blocked from clone on, so none is lost and
//! none runs a handler), the command's stack was mapped by the parent before clone.

use std::ffi::c_void;

use super::child::{self, Args};
use super::child_syscalls as k;
use super::site::Site;

/// The size of `struct signalfd_siginfo`; its first field is the signal number.
const SIGINFO_LEN: usize = 128;

/// Starts the command as this process's child and serves as the namespace's init until the
/// command has ended. Runs in the child after every step that applies to the init too
/// (credentials, no_new_privs), instead of execve.
pub fn run(a: &Args<'_>, stack_top: *mut c_void) -> ! {
  // Blocked since clone: signals sent from now on are queued for the signalfd.
  let sfd = child::check(a, k::signalfd(k::CATCHABLE), Site::InitSignalfd, None) as i32;
  // SAFETY: the stack was mapped by the parent for this (see Plan::init_stack) and is in this
  // process's copy of its memory; `command` obeys clone_on's contract; `a` lives on this stack
  // frame, which does not return, and vfork keeps us here until the command has exec'ed.
  let pid = unsafe { k::vfork_on(stack_top, command, a as *const Args<'_> as *mut c_void) };
  let cmd = child::check(a, pid, Site::InitClone, None) as i32;
  // Nothing of ours may keep the command's pipes (its stdio, the report pipe) open.
  if sfd > 0 {
    k::close_range(0, sfd as u32 - 1);
  }
  k::close_range(sfd as u32 + 1, u32::MAX);
  serve(sfd, cmd)
}

/// The command's side: what follows the init's steps in any spawn, ending in execve.
extern "C" fn command(arg: *mut c_void) -> libc::c_int {
  // SAFETY: the init passes its Args and waits (vfork) until this child has exec'ed or exited.
  let a = unsafe { &*(arg as *const Args<'_>) };
  child::finish(a)
}

fn serve(sfd: i32, cmd: i32) -> ! {
  let mut info = [0u8; SIGINFO_LEN];
  loop {
    let n = k::read(sfd, &mut info);
    if n == -(libc::EINTR as isize) {
      continue;
    }
    if n != SIGINFO_LEN as isize {
      // The signalfd cannot fail this way; without it the init could do nothing useful.
      k::exit_group(child::FAILED);
    }
    let sig = i32::from_ne_bytes([info[0], info[1], info[2], info[3]]);
    if sig != libc::SIGCHLD {
      k::kill(cmd, sig);
      continue;
    }
    // One SIGCHLD may stand for several ends.
    loop {
      let (pid, status) = k::reap_any();
      if pid <= 0 {
        break;
      }
      if pid as i32 == cmd {
        k::exit_group(exit_code(status));
      }
    }
  }
}

/// The command's wait status as an exit code, as a shell reports it.
fn exit_code(status: i32) -> i32 {
  if libc::WIFSIGNALED(status) {
    128 + libc::WTERMSIG(status)
  } else {
    libc::WEXITSTATUS(status)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn statuses_become_exit_codes() {
    assert_eq!(exit_code(7 << 8), 7);
    assert_eq!(exit_code(libc::SIGTERM), 128 + libc::SIGTERM);
    assert_eq!(exit_code(libc::SIGKILL | 0x80), 128 + libc::SIGKILL);
  }
}
