//! Signalling a spawned child, with the exception the kernel makes for the first process of a pid
//! namespace: it drops every signal that process has no handler for (it is the namespace's init),
//! except SIGKILL and SIGSTOP sent from an ancestor namespace. A child that is PID 1 of its own
//! namespace and has neither caught, blocked nor ignored the signal would so survive `kill()`,
//! `timeout` and `signal`; it gets the signal that does what the default action would have done
//! (SIGKILL for those that terminate, SIGSTOP for those that stop) instead.

use std::io::Read;
use std::os::fd::BorrowedFd;

use crate::error::Result;
use crate::syscall;

/// What the default action of `sig` does to a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Default {
  Terminate,
  Stop,
  /// Ignored by default (SIGCHLD, SIGCONT, SIGURG, SIGWINCH), or forced anyway (KILL, STOP), or 0.
  Nothing,
}

fn default_action(sig: i32) -> Default {
  match sig {
    0 | libc::SIGKILL | libc::SIGSTOP | libc::SIGCHLD | libc::SIGCONT | libc::SIGURG | libc::SIGWINCH => {
      Default::Nothing
    }
    libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => Default::Stop,
    1..=64 => Default::Terminate,
    _ => Default::Nothing,
  }
}

/// What /proc/<pid>/status says about the signals of a process that PID 1's rule needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Status {
  /// Its pid in its innermost pid namespace (the last NSpid field).
  inner_pid: Option<i32>,
  /// SigBlk | SigIgn | SigCgt: a signal in none of them is dropped by an init.
  handled: u64,
}

fn parse_status(text: &str) -> Status {
  let mut s = Status::default();
  for line in text.lines() {
    let Some((key, value)) = line.split_once(':') else { continue };
    match key {
      "NSpid" => s.inner_pid = value.split_whitespace().last().and_then(|p| p.parse().ok()),
      "SigBlk" | "SigIgn" | "SigCgt" => s.handled |= u64::from_str_radix(value.trim(), 16).unwrap_or(0),
      _ => {}
    }
  }
  s
}

/// The signal to send so that `sig` has its default effect on the child `pid` behind `pidfd`.
/// Anything that cannot be read (no /proc, the child gone) leaves `sig` as it is.
fn effective_signal(pidfd: BorrowedFd<'_>, pid: i32, sig: i32) -> i32 {
  let instead = match default_action(sig) {
    Default::Nothing => return sig,
    Default::Terminate => libc::SIGKILL,
    Default::Stop => libc::SIGSTOP,
  };
  let Ok(mut file) = std::fs::File::open(format!("/proc/{pid}/status")) else { return sig };
  // Alive after the open, so the file is the child's: its pid cannot have been reused before it
  // is reaped, and only we reap it (through this pidfd).
  if syscall::pidfd_send_signal(pidfd, 0).is_err() {
    return sig;
  }
  let mut text = String::new();
  if file.read_to_string(&mut text).is_err() {
    return sig;
  }
  let status = parse_status(&text);
  let bit = 1u64 << (sig - 1);
  if status.inner_pid == Some(1) && status.handled & bit == 0 {
    instead
  } else {
    sig
  }
}

/// Sends `sig` to child `pid` through its pidfd, so a reused pid can never receive it; as
/// SIGKILL (or SIGSTOP) when the child is PID 1 of a pid namespace that would drop it (see the
/// module). ESRCH once reaped.
pub fn kill(pidfd: BorrowedFd<'_>, pid: i32, sig: i32) -> Result<()> {
  syscall::pidfd_send_signal(pidfd, effective_signal(pidfd, pid, sig))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn status_lines_are_read() {
    let text = "Name:\tsleep\nNSpid:\t4242\t1\nSigQ:\t0/1\nSigPnd:\t0000000000000000\n\
                SigBlk:\t0000000000000001\nSigIgn:\t0000000000000004\nSigCgt:\t0000000000004000\n";
    let s = parse_status(text);
    assert_eq!(s.inner_pid, Some(1));
    assert_eq!(s.handled, 0x4005);
    assert_eq!(parse_status("NSpid:\t77\n").inner_pid, Some(77));
  }

  #[test]
  fn default_actions() {
    assert_eq!(default_action(libc::SIGTERM), Default::Terminate);
    assert_eq!(default_action(libc::SIGRTMIN() + 1), Default::Terminate);
    assert_eq!(default_action(libc::SIGTSTP), Default::Stop);
    for s in [0, libc::SIGKILL, libc::SIGSTOP, libc::SIGCHLD, libc::SIGWINCH, 65] {
      assert_eq!(default_action(s), Default::Nothing);
    }
  }
}
