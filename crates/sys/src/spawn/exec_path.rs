//! The paths the child tries to execve, in order, computed in the parent because the child may
//! not allocate. This is execvpe's search with one change: the PATH that counts is the one the
//! command will see, from its own environment, before the parent's (which the caller passes in:
//! nothing here reads the process environment).

const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The candidate paths for `file`. A name with a '/' is used as is; a bare name is looked up in
/// every PATH entry, an empty entry meaning the current directory, as execvp does.
pub fn candidates(file: &str, env: &[String], parent_path: Option<&str>) -> Vec<String> {
  if file.is_empty() || file.contains('/') {
    return vec![file.to_string()];
  }
  let path = env.iter().find_map(|kv| kv.strip_prefix("PATH=")).or(parent_path).unwrap_or(DEFAULT_PATH);
  path
    .split(':')
    .map(|dir| match dir {
      "" => file.to_string(),
      d if d.ends_with('/') => format!("{d}{file}"),
      d => format!("{d}/{file}"),
    })
    .collect()
}

/// The PATH a bare name is looked up in when `spec.env` has none: with `own_environ` or an
/// `env_block` the command's environment is ours, so its PATH (read on the thread that may change
/// it); otherwise the caller's `path`.
pub fn parent_path(spec: &super::SpawnSpec) -> Option<String> {
  if spec.file.contains('/') {
    return None;
  }
  match &spec.env_block {
    Some(b) => b.path(),
    None if spec.own_environ => crate::environ::path(),
    None => spec.path.clone(),
  }
}

/// errno values after which execvpe goes on to the next PATH entry instead of failing.
pub fn try_next(errno: i32) -> bool {
  matches!(errno, libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn paths_are_used_as_given() {
    assert_eq!(candidates("/bin/true", &[], None), ["/bin/true"]);
    assert_eq!(candidates("./x", &[], None), ["./x"]);
    assert_eq!(candidates("", &[], None), [""]);
  }

  #[test]
  fn env_path_wins_over_parent_path() {
    let env = vec!["A=1".to_string(), "PATH=/a:/b/::".to_string()];
    assert_eq!(candidates("ls", &env, Some("/p")), ["/a/ls", "/b/ls", "ls", "ls"]);
    assert_eq!(candidates("ls", &[], Some("/p")), ["/p/ls"]);
    assert_eq!(candidates("ls", &[], None), ["/usr/local/bin/ls", "/usr/bin/ls", "/bin/ls"]);
  }
}
