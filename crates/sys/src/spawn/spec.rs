//! What a caller asks `spawn` for. These shapes are the contract with the Node glue: it resolves
//! JS options ('root', 'current', defaults) into them and never sees anything below.

use std::os::fd::{OwnedFd, RawFd};

use crate::ns_type::NsType;

/// Where one of the child's fds 0, 1, 2 comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
  Inherit,
  Null,
  /// A descriptor of the parent, dup2'ed onto the slot in the child. It stays owned by the caller.
  Fd(RawFd),
}

/// One line of a uid_map or gid_map: `count` ids from `inside` on in the new user namespace are
/// `outside` on in its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMapLine {
  pub inside: u32,
  pub outside: u32,
  pub count: u32,
}

/// The propagation applied recursively to "/" in a new mount namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
  Private,
  Slave,
  Shared,
  Unchanged,
}

/// What `/proc/<pid>/setgroups` of a new user namespace says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetGroups {
  Allow,
  Deny,
}

/// What one entry of `mounts` puts at its target, with bubblewrap's semantics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
  /// A recursive bind of `source` (a path outside the sandbox), nosuid and nodev, and read-only
  /// with `readonly` (on every mount below it too).
  Bind { source: String, readonly: bool },
  /// A new tmpfs, nosuid and nodev, of at most `size` bytes, its root directory of `mode`.
  Tmpfs { size: Option<u64>, mode: u32 },
  /// A new proc (nosuid, nodev, noexec): the pid namespace the child is in.
  Proc,
  /// A new sysfs (nosuid, nodev, noexec) of the child's network namespace, once what was mounted
  /// at the target is detached with the mounts below it, as `ip netns exec` remounts /sys.
  Sysfs,
  /// A minimal /dev: a tmpfs with null, zero, full, random, urandom and tty bound from ours,
  /// stdin/stdout/stderr/fd/core links, shm, a new devpts instance on pts and the ptmx link.
  Dev,
  /// A directory of `mode`, unless one is there already.
  Dir { mode: u32 },
  /// A file of `mode` holding `data` (replacing what a file there held).
  File { data: Vec<u8>, mode: u32 },
  /// A symbolic link to `link_to`; one to the same place already there is fine.
  Symlink { link_to: String },
}

/// One entry of `mounts`: `target` is an absolute path inside the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
  pub target: String,
  pub kind: MountKind,
}

/// One process to start. Options that configure a namespace (`uid_map`, `gid_map`, `setgroups`,
/// `hostname`, `mount_proc`, `pivot_root`, `time_offsets`) make the spawn create that namespace
/// when `unshare` does not list it, as `unshare --mount-proc` implies `--mount`: they never change
/// a namespace that existed before the spawn.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
  /// A path, or a bare name looked up in PATH (the one in `env`, else the parent's).
  pub file: String,
  /// The full argument vector, argv[0] included.
  pub argv: Vec<String>,
  /// "K=V" strings: the child's whole environment.
  pub env: Vec<String>,
  /// The child gets this process's environment as it is instead of `env`, with no copy: only for
  /// a caller on the thread that changes the environment (Node's main thread, whose process.env
  /// writes through to it), which the spawn holds until the child has exec'ed.
  pub own_environ: bool,
  /// A held copy of this process's environment (`environ::take`) used instead of `env`.
  pub env_block: Option<std::sync::Arc<crate::environ::EnvBlock>>,
  /// The PATH a bare `file` is looked up in when `env` has none (the caller's own, which it reads
  /// where that is safe: Node's JS thread); None: execvp's default, /usr/local/bin:/usr/bin:/bin.
  /// The spawner never reads the process environment itself: another thread may be writing it.
  pub path: Option<String>,
  /// Existing namespaces to enter; the descriptors stay owned by the caller.
  pub join: Vec<(RawFd, NsType)>,
  /// After the joins, the root and the working directory to take (nsenter -r -w): descriptors of
  /// the joined process's, from `target_dirs::open`, owned by the caller.
  pub join_root: Option<RawFd>,
  pub join_cwd: Option<RawFd>,
  pub unshare: Vec<NsType>,
  /// The lines of the new user namespace's uid_map and gid_map, in the order they are written.
  pub uid_map: Option<Vec<IdMapLine>>,
  pub gid_map: Option<Vec<IdMapLine>>,
  pub setgroups: Option<SetGroups>,
  pub hostname: Option<String>,
  pub mount_proc: bool,
  pub propagation: Propagation,
  /// (monotonic, boottime) offsets in seconds for a new time namespace.
  pub time_offsets: Option<(i64, i64)>,
  pub root: Option<String>,
  /// An empty tmpfs as the new root (bubblewrap's way): entered with pivot_root, `root` unused.
  pub root_tmpfs: bool,
  /// Applied in order after the namespaces are made, below the new root (or "/"), in a new
  /// mount namespace (implied) whose propagation must not reach ours (private or slave).
  pub mounts: Vec<Mount>,
  /// Enter `root` with pivot_root instead of chroot.
  pub pivot_root: bool,
  pub cwd: Option<String>,
  pub uid: Option<u32>,
  pub gid: Option<u32>,
  /// Run the command as uid and gid 0 (where `uid`/`gid` are not given) when it enters a user
  /// namespace with `join`, as nsenter does; not when that namespace is left out because the
  /// command is in it already.
  pub root_in_joined_user: bool,
  /// The signal the child gets when the thread that spawned it exits (PR_SET_PDEATHSIG).
  pub die_with_parent: Option<i32>,
  pub new_session: bool,
  /// Set PR_SET_NO_NEW_PRIVS just before execve.
  pub no_new_privs: bool,
  /// Stay PID 1 of the new pid namespace (implied) as a minimal init that runs the command as
  /// its child, forwards signals to it and reaps orphans (see `init`).
  pub init: bool,
  /// A cgroup v2 directory the child moves itself into before anything else (its cgroup.procs,
  /// opened by the parent with the caller's credentials), so the command only ever runs there.
  pub cgroup: Option<String>,
  /// The capabilities kept (a bit per capability number); every other one is dropped from the
  /// bounding, permitted, effective, inheritable and ambient sets. None: left as they are.
  pub keep_caps: Option<u64>,
  /// (resource, soft, hard) set with prlimit64; u64::MAX is RLIM_INFINITY.
  pub rlimits: Vec<(u32, u64, u64)>,
  /// A classic BPF program (struct sock_filter entries) installed as the seccomp filter just
  /// before execve; it needs no_new_privs or CAP_SYS_ADMIN.
  pub seccomp: Option<Vec<u8>>,
  /// Rules in seccompiler's JSON form, compiled before clone and installed after `seccomp`, one
  /// filter per name in name order (the kernel applies the strictest answer of all).
  pub seccomp_rules: Option<String>,
  pub stdio: [Stdio; 3],
  /// The child's descriptors from 3 on: index i is fd 3 + i, a descriptor of the parent's to
  /// dup2 there (owned by the caller), or -1 to leave it closed. At most `MAX_EXTRA_FDS`.
  pub extra_fds: Vec<RawFd>,
}

/// The most descriptors past 2 a child can be given (fds 3..=63).
pub const MAX_EXTRA_FDS: usize = 61;

impl SpawnSpec {
  /// A spec that runs `file` with `argv` and nothing else: empty environment, inherited stdio,
  /// no namespaces. Callers fill in the rest.
  pub fn new(file: impl Into<String>, argv: Vec<String>) -> Self {
    SpawnSpec {
      file: file.into(),
      argv,
      env: Vec::new(),
      own_environ: false,
      env_block: None,
      path: None,
      join: Vec::new(),
      join_root: None,
      join_cwd: None,
      unshare: Vec::new(),
      uid_map: None,
      gid_map: None,
      setgroups: None,
      hostname: None,
      mount_proc: false,
      propagation: Propagation::Private,
      time_offsets: None,
      root: None,
      root_tmpfs: false,
      mounts: Vec::new(),
      pivot_root: false,
      cwd: None,
      uid: None,
      gid: None,
      root_in_joined_user: false,
      die_with_parent: None,
      new_session: false,
      no_new_privs: false,
      init: false,
      cgroup: None,
      keep_caps: None,
      rlimits: Vec::new(),
      seccomp: None,
      seccomp_rules: None,
      stdio: [Stdio::Inherit; 3],
      extra_fds: Vec::new(),
    }
  }
}

/// A started process. The pidfd is what every later operation goes through, so that a reused
/// pid can never be signalled or reaped by mistake.
#[derive(Debug)]
pub struct Child {
  pub pid: i32,
  pub pidfd: OwnedFd,
}
