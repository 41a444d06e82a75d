//! The sandbox's last steps before execve, in the order that makes each possible: rlimits and
//! the bounding and ambient capability sets while the child may still have the privilege they
//! need (before its credentials change), then the effective, permitted and inheritable sets once
//! the credentials are final, no_new_privs (child.rs), and seccomp last of all, just before
//! execve, since the filter may forbid any call made after it. Runs in the child: raw calls only.

use super::child::{check, Args};
use super::child_syscalls as k;
use super::site::Site;

/// Before `set_credentials`: rlimits, the bounding set, the ambient set cleared, and, when caps
/// are kept for a command that will not be root, PR_SET_KEEPCAPS so that setresuid keeps them.
pub fn before_credentials(a: &Args<'_>) {
  let p = a.plan;
  for &(res, soft, hard) in &p.rlimits {
    check(a, k::set_rlimit(res, soft, hard), Site::Rlimit, None);
  }
  let Some(keep) = p.keep_caps else { return };
  for cap in 0..64u32 {
    if keep & (1 << cap) != 0 {
      continue;
    }
    let r = k::drop_bounding_cap(cap);
    // EINVAL: past the last capability this kernel has.
    if r == -(libc::EINVAL as isize) {
      break;
    }
    check(a, r, Site::CapBounding, None);
  }
  check(a, k::ambient(libc::PR_CAP_AMBIENT_CLEAR_ALL, 0), Site::CapAmbient, None);
  if keep != 0 && p.uid.is_some_and(|u| u != 0) {
    check(a, k::set_keep_caps(), Site::CapKeep, None);
  }
}

/// After `set_credentials`: effective, permitted and inheritable become what is kept of the
/// permitted set, and the kept ones are raised in the ambient set so that a command that is not
/// root keeps them across execve (root gets its bounding set).
pub fn after_credentials(a: &Args<'_>) {
  let Some(keep) = a.plan.keep_caps else { return };
  let permitted = match k::permitted_caps() {
    Ok(p) => p,
    Err(r) => {
      check(a, r, Site::CapGet, None);
      0
    }
  };
  let caps = permitted & keep;
  check(a, k::set_caps(caps), Site::Capset, None);
  for cap in 0..64u32 {
    if caps & (1 << cap) != 0 {
      check(a, k::ambient(libc::PR_CAP_AMBIENT_RAISE, cap), Site::CapAmbient, None);
    }
  }
}

/// The seccomp filters, if any: the very last step.
pub fn seccomp(a: &Args<'_>) {
  for filter in &a.plan.seccomp {
    check(a, k::set_seccomp(filter), Site::Seccomp, None);
  }
}
