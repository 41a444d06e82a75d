//! The step a spawn (or a thread's restore) failed at, as JS sees it on the error: nsjs-sys's
//! `Step` as a string enum, so ts/native.d.ts carries the union that ts/errors.ts keys its hints
//! on. The conversion matches every variant, so a step added to nsjs-sys cannot be forgotten
//! here; the names are the ones `Step::name` gives.

use napi_derive::napi;
use nsjs_sys::Step as Sys;

/// Where a spawn (or a thread's restore) failed: `NamespaceError.step`.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
  #[napi(value = "setsid")]
  Setsid,
  #[napi(value = "prctl")]
  Prctl,
  #[napi(value = "setns")]
  Setns,
  #[napi(value = "unshare")]
  Unshare,
  #[napi(value = "timens_offsets")]
  TimensOffsets,
  #[napi(value = "sethostname")]
  Sethostname,
  #[napi(value = "mount propagation")]
  MountPropagation,
  #[napi(value = "chroot")]
  Chroot,
  #[napi(value = "pivot_root")]
  PivotRoot,
  #[napi(value = "chdir")]
  Chdir,
  #[napi(value = "mount /proc")]
  MountProc,
  #[napi(value = "setgid")]
  Setgid,
  #[napi(value = "setuid")]
  Setuid,
  #[napi(value = "dup2")]
  Dup2,
  #[napi(value = "execve")]
  Execve,
  #[napi(value = "setgroups")]
  Setgroups,
  #[napi(value = "uid_map")]
  UidMap,
  #[napi(value = "gid_map")]
  GidMap,
  #[napi(value = "clone")]
  Clone,
  #[napi(value = "env")]
  Env,
  #[napi(value = "stdio")]
  Stdio,
  #[napi(value = "restore")]
  Restore,
}

impl From<Sys> for Step {
  fn from(s: Sys) -> Step {
    match s {
      Sys::Setsid => Step::Setsid,
      Sys::Prctl => Step::Prctl,
      Sys::Setns => Step::Setns,
      Sys::Unshare => Step::Unshare,
      Sys::TimensOffsets => Step::TimensOffsets,
      Sys::Sethostname => Step::Sethostname,
      Sys::MountPropagation => Step::MountPropagation,
      Sys::Chroot => Step::Chroot,
      Sys::PivotRoot => Step::PivotRoot,
      Sys::Chdir => Step::Chdir,
      Sys::MountProc => Step::MountProc,
      Sys::Setgid => Step::Setgid,
      Sys::Setuid => Step::Setuid,
      Sys::Dup2 => Step::Dup2,
      Sys::Execve => Step::Execve,
      Sys::Setgroups => Step::Setgroups,
      Sys::UidMap => Step::UidMap,
      Sys::GidMap => Step::GidMap,
      Sys::Clone => Step::Clone,
      Sys::Env => Step::Env,
      Sys::Stdio => Step::Stdio,
      Sys::Restore => Step::Restore,
    }
  }
}
