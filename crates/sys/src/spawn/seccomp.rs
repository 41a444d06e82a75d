//! `seccomp` given as rules: compiled to classic BPF before clone by the `seccompiler` crate
//! (rust-vmm, Apache-2.0 OR BSD-3-Clause; x86_64 and aarch64, with its own syscall tables), from
//! its JSON form, which ts/spawn/sandbox.ts writes: one filter per action, named so that they
//! sort in the order they are to be installed.

use seccompiler::TargetArch;

use crate::error::{Error, Result};
use crate::step::Step;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// The programs of `json` (seccompiler's format), in the order of their names, each as the bytes
/// of its `struct sock_filter` entries. A policy the compiler refuses (an unknown syscall name, a
/// bad condition) is EINVAL at step 'seccomp', with the compiler's words as `path`.
pub fn compile(json: &str) -> Result<Vec<Vec<u8>>> {
  let refused = |what: String| Error::os(libc::EINVAL, "seccomp").step(Step::Seccomp).path(what);
  let map = seccompiler::compile_from_json(json.as_bytes(), ARCH).map_err(|e| refused(e.to_string()))?;
  let mut named: Vec<_> = map.into_iter().collect();
  named.sort_by(|a, b| a.0.cmp(&b.0));
  Ok(
    named
      .into_iter()
      .map(|(_, prog)| {
        prog
          .iter()
          .flat_map(|i| {
            let mut b = [0u8; 8];
            b[..2].copy_from_slice(&i.code.to_ne_bytes());
            b[2] = i.jt;
            b[3] = i.jf;
            b[4..].copy_from_slice(&i.k.to_ne_bytes());
            b
          })
          .collect()
      })
      .collect(),
  )
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn rules_compile_per_action_and_unknown_names_are_einval() {
    let json = r#"{
      "a": { "mismatch_action": "allow", "match_action": { "errno": 1 },
             "filter": [{ "syscall": "mkdirat" }, { "syscall": "socket", "args": [
               { "index": 0, "type": "qword", "op": "eq", "val": 1 }] }] },
      "b": { "mismatch_action": "allow", "match_action": "kill_process", "filter": [{ "syscall": "ptrace" }] }
    }"#;
    let progs = compile(json).unwrap();
    assert_eq!(progs.len(), 2);
    assert!(progs.iter().all(|p| !p.is_empty() && p.len() % 8 == 0));
    let bad = r#"{ "a": { "mismatch_action": "allow", "match_action": "trap", "filter": [{ "syscall": "nosuch" }] } }"#;
    let e = compile(bad).unwrap_err();
    assert_eq!((e.errno, e.step), (libc::EINVAL, Some(Step::Seccomp)));
    assert!(e.path.unwrap().contains("nosuch"));
  }
}
