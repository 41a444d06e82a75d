//! `cgroup`: the child is born in a cgroup v2 directory, by clone3 with CLONE_INTO_CGROUP (Linux
//! 5.7), so not one of its instructions runs outside it. Where clone3 is missing (an older kernel,
//! or a container runtime's seccomp profile that answers ENOSYS for it, or EPERM as Docker's did
//! before 20.10) or does not know CLONE_INTO_CGROUP (E2BIG, Linux 5.3 to 5.6), the child writes
//! itself into the directory's cgroup.procs as its very first step instead, which gives the
//! command the same guarantee.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};
use crate::step::Step;
use crate::syscall;

/// The directory, opened by the parent before clone (clone3 takes a descriptor of it).
pub struct CgroupDir {
  dir: OwnedFd,
  path: String,
}

impl CgroupDir {
  /// Opens `path` (O_PATH: no permission on the directory itself is needed, the kernel checks
  /// write permission on its cgroup.procs at clone, as a write there would). A missing one is
  /// ENOENT at step `cgroup` naming its cgroup.procs, as a write would; a file ENOTDIR naming it.
  pub fn open(path: &str) -> Result<CgroupDir> {
    let path = path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    match syscall::open(path, libc::O_PATH | libc::O_DIRECTORY, 0) {
      Ok(dir) => Ok(CgroupDir { dir, path: path.to_owned() }),
      Err(e) if e.errno == libc::ENOTDIR => Err(e.step(Step::Cgroup).path(path)),
      Err(e) => Err(e.step(Step::Cgroup).path(procs_path(path))),
    }
  }

  /// The descriptor clone3 takes.
  pub fn fd(&self) -> RawFd {
    self.dir.as_raw_fd()
  }

  /// Whether clone3 failed with `errno` because this kernel (or a seccomp filter) has no clone3
  /// with CLONE_INTO_CGROUP, so the spawn falls back to clone and the write into cgroup.procs.
  /// The cgroup's own refusals are never EPERM; an EPERM for the namespaces the child is born
  /// with comes back from clone as well, at the cost of that one retry.
  pub fn clone3_missing(errno: i32) -> bool {
    matches!(errno, libc::ENOSYS | libc::E2BIG | libc::EPERM)
  }

  /// A failed clone3 as the user's error: the kernel's reasons to refuse the cgroup are step
  /// `cgroup` (naming cgroup.procs, whose write permission, and the common ancestor's, it checks,
  /// or the directory when it is no cgroup v2 one: EBADF); anything else is step `clone`.
  pub fn refused(&self, e: Error) -> Error {
    match e.errno {
      libc::EBADF => e.step(Step::Cgroup).path(self.path.clone()),
      libc::EACCES | libc::ENOENT | libc::EBUSY | libc::EOPNOTSUPP | libc::ENODEV => {
        e.step(Step::Cgroup).path(procs_path(&self.path))
      }
      _ => e.step(Step::Clone),
    }
  }

  /// The fallback: cgroup.procs open for writing, with the caller's credentials, for the child to
  /// write itself into.
  pub fn open_procs(&self) -> Result<OwnedFd> {
    let path = procs_path(&self.path);
    syscall::open(&path, libc::O_WRONLY, 0).map_err(|e| e.step(Step::Cgroup).path(path))
  }
}

fn procs_path(dir: &str) -> String {
  format!("{}/cgroup.procs", dir.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
  use std::fs::File;
  use std::io::Read;
  use std::os::fd::AsFd;

  use super::super::{spawn, SpawnSpec, Stdio};
  use crate::error::Error;
  use crate::step::Step;
  use crate::syscall;
  use crate::this_thread::tests::on_new_thread;

  /// Where cgroup v2 is mounted (the unified hierarchy), from our mountinfo.
  fn cgroup2() -> Option<String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info.lines().find(|l| l.split(" - ").nth(1).is_some_and(|t| t.starts_with("cgroup2 ")))?;
    line.split(' ').nth(4).map(str::to_owned)
  }

  /// A fresh cgroup below the cgroup2 mount, removed on drop (once its processes are gone).
  struct TestCgroup {
    path: String,
    name: String,
  }

  impl TestCgroup {
    fn new(tag: &str) -> Option<TestCgroup> {
      let base = cgroup2()?;
      let name = format!("nsjs-cargo-{tag}-{}", std::process::id());
      let path = format!("{base}/{name}");
      std::fs::create_dir(&path).unwrap();
      Some(TestCgroup { path, name })
    }
  }

  impl Drop for TestCgroup {
    fn drop(&mut self) {
      std::fs::remove_dir(&self.path).unwrap();
    }
  }

  /// `cat /proc/self/cgroup` as the command's first action, spawned into `dir`: its v2 line.
  fn cgroup_line_of_child(dir: &str) -> Result<String, Error> {
    let mut s = SpawnSpec::new("/bin/cat", vec!["cat".into(), "/proc/self/cgroup".into()]);
    s.cgroup = Some(dir.to_owned());
    let (r, w) = syscall::pipe().unwrap();
    s.stdio[1] = Stdio::Fd(std::os::fd::AsRawFd::as_raw_fd(&w));
    let child = spawn(&s)?;
    drop(w);
    let mut out = String::new();
    File::from(r).read_to_string(&mut out).unwrap();
    assert_eq!(syscall::waitid_pidfd(child.pidfd.as_fd(), false).unwrap(), Some((0, 0)));
    Ok(out.lines().find(|l| l.starts_with("0::")).unwrap_or_default().to_owned())
  }

  /// Installs seccomp rules (seccompiler's JSON) on the calling thread alone: it and the children
  /// it clones from now on obey them.
  fn filter_this_thread(json: &str) {
    let arch = if cfg!(target_arch = "x86_64") {
      seccompiler::TargetArch::x86_64
    } else {
      seccompiler::TargetArch::aarch64
    };
    for prog in seccompiler::compile_from_json(json.as_bytes(), arch).unwrap().values() {
      seccompiler::apply_filter(prog).unwrap();
    }
  }

  /// Any open of a file for writing only (O_WRONLY) fails with EPERM: what the fallback does
  /// with cgroup.procs, and nothing else a spawn of `cat` does.
  const NO_WRITE_ONLY_OPEN: &str = r#"{ "f": { "mismatch_action": "allow", "match_action": { "errno": 1 },
    "filter": [{ "syscall": "openat", "args": [
      { "index": 2, "type": "dword", "op": { "masked_eq": 3 }, "val": 1 }] }] } }"#;
  /// clone3 fails with `errno`, as in the seccomp profiles of older container runtimes (ENOSYS;
  /// EPERM in Docker's before 20.10).
  fn no_clone3(errno: i32) -> String {
    format!(
      r#"{{ "c": {{ "mismatch_action": "allow", "match_action": {{ "errno": {errno} }},
        "filter": [{{ "syscall": "clone3" }}] }} }}"#
    )
  }

  #[test]
  fn the_child_is_born_in_the_cgroup_and_nobody_opens_its_cgroup_procs() {
    let Some(cg) = TestCgroup::new("born") else { return };
    let dir = cg.path.clone();
    let line = on_new_thread(move || {
      filter_this_thread(NO_WRITE_ONLY_OPEN);
      cgroup_line_of_child(&dir).unwrap()
    });
    assert_eq!(line, format!("0::/{}", cg.name));
    assert_eq!(std::fs::read_to_string(format!("{}/cgroup.procs", cg.path)).unwrap(), "");
  }

  #[test]
  fn without_clone3_the_child_writes_itself_into_cgroup_procs() {
    let Some(cg) = TestCgroup::new("fallback") else { return };
    for errno in [libc::ENOSYS, libc::EPERM] {
      let dir = cg.path.clone();
      let line = on_new_thread(move || {
        filter_this_thread(&no_clone3(errno));
        cgroup_line_of_child(&dir).unwrap()
      });
      assert_eq!(line, format!("0::/{}", cg.name), "clone3 refused with {errno}");
    }
    // The fallback is what opens cgroup.procs for writing: with that refused too, it fails there.
    let dir = cg.path.clone();
    let e = on_new_thread(move || {
      filter_this_thread(&no_clone3(libc::ENOSYS));
      filter_this_thread(NO_WRITE_ONLY_OPEN);
      cgroup_line_of_child(&dir).unwrap_err()
    });
    assert_eq!((e.errno, e.step, e.syscall), (libc::EPERM, Some(Step::Cgroup), "open"));
    assert_eq!(e.path, Some(format!("{}/cgroup.procs", cg.path)));
  }

  #[test]
  fn a_missing_directory_a_file_and_a_cgroup_v1_one_are_refused_at_step_cgroup() {
    let Some(cg) = TestCgroup::new("bad") else { return };
    let missing = format!("{}/nope", cg.path);
    let e = cgroup_line_of_child(&missing).unwrap_err();
    assert_eq!((e.errno, e.step, e.syscall), (libc::ENOENT, Some(Step::Cgroup), "open"));
    assert_eq!(e.path, Some(format!("{missing}/cgroup.procs")));
    let file = format!("{}/cgroup.procs", cg.path);
    let e = cgroup_line_of_child(&file).unwrap_err();
    assert_eq!((e.errno, e.step, e.path.as_deref()), (libc::ENOTDIR, Some(Step::Cgroup), Some(&file[..])));
    // Not a cgroup at all, and (where the machine mounts one) a cgroup v1 hierarchy: EBADF.
    let e = cgroup_line_of_child("/tmp").unwrap_err();
    assert_eq!((e.errno, e.step, e.syscall), (libc::EBADF, Some(Step::Cgroup), "clone3"));
    assert_eq!(e.path.as_deref(), Some("/tmp"));
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let v1 = info.lines().find(|l| l.split(" - ").nth(1).is_some_and(|t| t.starts_with("cgroup ")));
    if let Some(v1) = v1.and_then(|l| l.split(' ').nth(4)) {
      let e = cgroup_line_of_child(v1).unwrap_err();
      assert_eq!((e.errno, e.step, e.path.as_deref()), (libc::EBADF, Some(Step::Cgroup), Some(v1)));
    }
  }
}
