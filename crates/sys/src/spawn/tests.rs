//! The spawner against the real kernel, as root. Every test reaps what it starts and leaves no
//! mount behind: mounts are made only inside namespaces that die with the test's processes.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::*;
use crate::handle::NsHandle;
use crate::ns_type::NsType;
use crate::step::Step;
use crate::syscall;

fn spec(argv: &[&str]) -> SpawnSpec {
  let mut s = SpawnSpec::new(argv[0], argv.iter().map(|a| a.to_string()).collect());
  s.env = vec!["PATH=/usr/bin:/bin".into()];
  s
}

fn wait(c: &Child) -> (i32, i32) {
  syscall::waitid_pidfd(c.pidfd.as_fd(), false).unwrap().unwrap()
}

/// Runs to completion with stdout on a pipe.
fn output(mut s: SpawnSpec) -> (String, (i32, i32)) {
  let (r, w) = syscall::pipe().unwrap();
  s.stdio[1] = Stdio::Fd(w.as_raw_fd());
  let c = spawn(&s).unwrap();
  drop(w);
  let mut out = String::new();
  File::from(r).read_to_string(&mut out).unwrap();
  (out, wait(&c))
}

fn stdout_of(s: SpawnSpec) -> String {
  let (out, status) = output(s);
  assert_eq!(status, (0, 0), "output: {out}");
  out.trim_end().to_string()
}

/// A zombie that is our child: what a missed reap leaves behind. A pid that was reused since
/// belongs to someone else and does not count.
fn is_our_zombie(pid: i32) -> bool {
  let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
  let Some((_, rest)) = stat.rsplit_once(')') else { return false };
  let mut f = rest.split_whitespace();
  let state = f.next();
  let ppid: Option<u32> = f.next().and_then(|p| p.parse().ok());
  state == Some("Z") && ppid == Some(std::process::id())
}

/// Reaps the child if it has exited: `Some((code, 0))`, or `Some((-1, signal))` when a signal
/// ended it; `None` while it runs. ECHILD once it was reaped.
fn try_wait(pidfd: std::os::fd::BorrowedFd<'_>) -> crate::Result<Option<(i32, i32)>> {
  syscall::waitid_pidfd(pidfd, true)
}

#[test]
fn true_exits_zero_through_try_wait() {
  let c = spawn(&spec(&["/bin/true"])).unwrap();
  assert!(c.pid > 0);
  let status = loop {
    if let Some(s) = try_wait(c.pidfd.as_fd()).unwrap() {
      break s;
    }
    std::thread::sleep(Duration::from_millis(2));
  };
  assert_eq!(status, (0, 0));
  assert_eq!(try_wait(c.pidfd.as_fd()).unwrap_err().errno, libc::ECHILD);
}

#[test]
fn exit_code_and_path_search() {
  let (_, status) = output(spec(&["sh", "-c", "exit 42"]));
  assert_eq!(status, (42, 0));
}

#[test]
fn missing_binary_is_enoent_at_execve_without_zombie() {
  // Run on a thread of a known name: the failed child carries it as its comm.
  std::thread::Builder::new()
    .name("nsjs-missing".into())
    .spawn(|| {
      for file in ["/nonexistent/nsjs-cmd", "nsjs-no-such-command"] {
        let e = spawn(&spec(&[file])).unwrap_err();
        assert_eq!((e.errno, e.step.map(Step::name), e.syscall), (libc::ENOENT, Some("execve"), "execve"));
        assert_eq!(e.path.as_deref(), Some(file));
      }
    })
    .unwrap()
    .join()
    .unwrap();
  for entry in std::fs::read_dir("/proc").unwrap().flatten() {
    let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert!(!(comm.trim() == "nsjs-missing" && is_our_zombie(pid)), "zombie {pid}");
  }
}

#[test]
fn not_executable_is_eacces() {
  let file = format!("/tmp/nsjs-noexec-{}", std::process::id());
  std::fs::write(&file, "").unwrap();
  let e = spawn(&spec(&[&file])).unwrap_err();
  std::fs::remove_file(&file).unwrap();
  assert_eq!((e.errno, e.step.map(Step::name)), (libc::EACCES, Some("execve")));
}

#[test]
fn failing_steps_are_named() {
  let mut s = spec(&["/bin/true"]);
  s.cwd = Some("/nonexistent-nsjs-dir".into());
  let e = spawn(&s).unwrap_err();
  assert_eq!((e.errno, e.step.map(Step::name), e.syscall), (libc::ENOENT, Some("chdir"), "chdir"));
  assert_eq!(e.path.as_deref(), Some("/nonexistent-nsjs-dir"));

  let mut s = spec(&["/bin/true"]);
  s.join = vec![(-1, NsType::Net)];
  let e = spawn(&s).unwrap_err();
  assert_eq!((e.errno, e.step.map(Step::name), e.ns_type), (libc::EBADF, Some("setns"), Some(NsType::Net)));

  let mut s = spec(&["/bin/true"]);
  s.stdio[2] = Stdio::Fd(1 << 20);
  let e = spawn(&s).unwrap_err();
  assert_eq!((e.errno, e.step.map(Step::name)), (libc::EBADF, Some("dup2")));
}

#[test]
fn new_uts_with_hostname() {
  let mut s = spec(&["uname", "-n"]);
  s.unshare = vec![NsType::Uts];
  s.hostname = Some("nsjs-test-host".into());
  assert_eq!(stdout_of(s), "nsjs-test-host");
  // Implied by the hostname alone, and the host keeps its own.
  let mut s = spec(&["uname", "-n"]);
  s.hostname = Some("nsjs-implied".into());
  assert_eq!(stdout_of(s), "nsjs-implied");
  assert_ne!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim(), "nsjs-implied");
}

#[test]
fn new_pid_namespace_makes_the_command_pid_1() {
  let mut s = spec(&["sh", "-c", "echo $$"]);
  s.unshare = vec![NsType::Pid];
  assert_eq!(stdout_of(s), "1");
}

#[test]
fn mount_proc_shows_the_new_pid_namespace() {
  // Only proc mounts: other tests, or the machine, may mount elsewhere meanwhile.
  let proc_mounts = || {
    crate::mountinfo::read()
      .into_iter()
      .filter(|m| m.fstype == "proc")
      .map(|m| (m.id, m.mount_point))
      .collect::<Vec<_>>()
  };
  let host_proc = proc_mounts();
  let mut s = spec(&["cat", "/proc/1/cmdline"]);
  s.unshare = vec![NsType::Pid];
  s.mount_proc = true;
  assert_eq!(stdout_of(s), "cat\0/proc/1/cmdline\0");
  assert_eq!(proc_mounts(), host_proc, "the child's /proc was mounted in its own mount namespace only");
}

#[test]
fn user_namespace_mapping_root_to_root() {
  let mut s = spec(&["sh", "-c", "id -u; id -g; cat /proc/self/uid_map"]);
  s.unshare = vec![NsType::User];
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  s.gid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  let out = stdout_of(s);
  let lines: Vec<_> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).collect();
  assert_eq!(lines, [vec!["0"], vec!["0"], vec!["0", "0", "1"]]);
}

#[test]
fn user_namespace_with_a_subordinate_range() {
  let mut s = spec(&["sh", "-c", "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups"]);
  s.unshare = vec![NsType::User, NsType::Mnt, NsType::Pid];
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 100000, count: 65536 }]);
  s.gid_map = Some(vec![IdMapLine { inside: 0, outside: 100000, count: 65536 }]);
  s.setgroups = Some(SetGroups::Deny);
  s.mount_proc = true;
  s.uid = Some(0);
  s.gid = Some(0);
  let out = stdout_of(s.clone());
  let words: Vec<_> = out.split_whitespace().collect();
  assert_eq!(words, ["0", "0", "100000", "65536", "0", "100000", "65536", "deny"]);
  // Without uid the child keeps our kuid 0, which this map leaves out: it is the overflow uid.
  s.uid = None;
  s.gid = None;
  assert!(stdout_of(s).starts_with("65534\n"));
}

#[test]
fn credentials_inside_a_user_namespace() {
  let mut s = spec(&["id"]);
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 100000, count: 65536 }]);
  s.gid_map = Some(vec![IdMapLine { inside: 0, outside: 100000, count: 65536 }]);
  s.uid = Some(1000);
  s.gid = Some(1001);
  let out = stdout_of(s);
  // id adds names from the host's /etc/passwd when it has them: compare the numbers only.
  let numbers: Vec<_> = out.split([' ', '(']).filter(|w| w.contains('=')).collect();
  assert_eq!(numbers, ["uid=1000", "gid=1001", "groups=1001"], "{out}");
}

/// /proc/uptime's first field in hundredths of a second. Integers, because in f64 `host + 100000.0`
/// can round one ulp above the very same value read inside.
fn uptime_centis(text: &str) -> u64 {
  let field = text.split_whitespace().next().unwrap();
  let (secs, frac) = field.split_once('.').unwrap();
  secs.parse::<u64>().unwrap() * 100 + frac.parse::<u64>().unwrap()
}

#[test]
fn time_offsets_show_in_uptime() {
  let host = uptime_centis(&std::fs::read_to_string("/proc/uptime").unwrap());
  let mut s = spec(&["cat", "/proc/uptime"]);
  s.unshare = vec![NsType::Time];
  s.time_offsets = Some((0, 100_000));
  let inside = uptime_centis(&stdout_of(s));
  let shift = 100_000 * 100;
  assert!(inside >= host + shift && inside < host + shift + 10_000, "host {host} inside {inside} (1/100 s)");
}

fn ns_link(pid: &str, t: NsType) -> String {
  std::fs::read_link(format!("/proc/{pid}/ns/{}", t.name())).unwrap().to_string_lossy().into_owned()
}

#[test]
fn joins_our_own_net_namespace() {
  let net = NsHandle::current(NsType::Net).unwrap();
  let mut s = spec(&["readlink", "/proc/self/ns/net"]);
  s.join = vec![(net.raw_fd(), NsType::Net)];
  assert_eq!(stdout_of(s), ns_link("thread-self", NsType::Net));
}

#[test]
fn joins_created_namespaces_of_every_kind_but_pid() {
  // Time needs a child that shares no memory with us (EUSERS otherwise); user needs nsenter's
  // ordering, since after joining it we are nobody there.
  let types =
    [NsType::User, NsType::Net, NsType::Uts, NsType::Ipc, NsType::Cgroup, NsType::Mnt, NsType::Time];
  let handles: Vec<NsHandle> = types.iter().map(|t| crate::create::create(*t).unwrap()).collect();
  let mut s =
    spec(&["sh", "-c", "for t in user net uts ipc cgroup mnt time; do readlink /proc/self/ns/$t; done"]);
  s.join = handles.iter().map(|h| (h.raw_fd(), h.ns_type())).collect();
  let out = stdout_of(s);
  let want: Vec<String> = handles.iter().map(|h| format!("{}:[{}]", h.ns_type().name(), h.inode())).collect();
  assert_eq!(out.lines().collect::<Vec<_>>(), want);
}

#[test]
fn joins_a_pid_namespace_and_restores_the_thread() {
  let before = NsHandle::current_for_children(NsType::Pid).unwrap();
  let mut holder = spec(&["sleep", "100"]);
  holder.unshare = vec![NsType::Pid];
  let init = spawn(&holder).unwrap();
  let pid_ns = NsHandle::open_pid(init.pid, NsType::Pid).unwrap();
  let mut s = spec(&["sh", "-c", "echo $$; readlink /proc/self/ns/pid"]);
  s.join = vec![(pid_ns.raw_fd(), NsType::Pid)];
  let out = stdout_of(s);
  let lines: Vec<_> = out.lines().collect();
  // The holder is pid 1 there.
  assert_eq!(lines[0], "2", "{out}");
  assert_eq!(lines[1], format!("pid:[{}]", pid_ns.inode()));
  assert!(NsHandle::current_for_children(NsType::Pid).unwrap().same_as(&before));
  kill(init.pidfd.as_fd(), init.pid, libc::SIGKILL).unwrap();
  assert_eq!(wait(&init), (-1, libc::SIGKILL));
}

#[test]
fn parent_fds_do_not_reach_the_command() {
  let (r, w) = syscall::pipe().unwrap();
  // SAFETY: F_DUPFD without CLOEXEC on a descriptor we own; the copy is closed below.
  let leaky = unsafe { libc::fcntl(r.as_raw_fd(), libc::F_DUPFD, 200) };
  assert!(leaky >= 200);
  // SAFETY: the descriptor was just made and nothing else owns it.
  let leaky = unsafe { OwnedFd::from_raw_fd(leaky) };
  let out = stdout_of(spec(&["ls", "/proc/self/fd"]));
  drop((r, w));
  let fds: Vec<i32> = out.split_whitespace().map(|f| f.parse().unwrap()).collect();
  assert!(!fds.contains(&leaky.as_raw_fd()), "{fds:?}");
  // 0..2 and ls's own directory descriptor.
  assert!(fds.iter().all(|&fd| fd <= 3), "{fds:?}");
}

#[test]
fn stdio_null_and_shared_descriptors() {
  let (r, w) = syscall::pipe().unwrap();
  let mut s = spec(&["sh", "-c", "cat; echo out; echo err >&2"]);
  s.stdio = [Stdio::Null, Stdio::Fd(w.as_raw_fd()), Stdio::Fd(w.as_raw_fd())];
  let c = spawn(&s).unwrap();
  drop(w);
  let mut out = String::new();
  File::from(r).read_to_string(&mut out).unwrap();
  assert_eq!(out, "out\nerr\n");
  assert_eq!(wait(&c), (0, 0));
}

#[test]
fn signals_are_reset_to_default() {
  // SIGPIPE is ignored in Rust test binaries as in Node; the command must get the default.
  let out = stdout_of(spec(&["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"]));
  for line in out.lines() {
    let mask = u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap();
    assert_eq!(mask, 0, "{line}");
  }
}

#[test]
fn kill_reports_the_signal() {
  let c = spawn(&spec(&["sleep", "100"])).unwrap();
  kill(c.pidfd.as_fd(), c.pid, libc::SIGTERM).unwrap();
  assert_eq!(wait(&c), (-1, libc::SIGTERM));
  assert_eq!(kill(c.pidfd.as_fd(), c.pid, libc::SIGTERM).unwrap_err().errno, libc::ESRCH);
}

#[test]
fn pid_one_without_a_handler_is_killed_and_one_with_a_handler_gets_the_signal() {
  let mut s = spec(&["sleep", "100"]);
  s.unshare = vec![NsType::Pid];
  let c = spawn(&s).unwrap();
  kill(c.pidfd.as_fd(), c.pid, libc::SIGTERM).unwrap();
  assert_eq!(wait(&c), (-1, libc::SIGKILL), "dropped by an init, so sent as SIGKILL");
  let mut s = spec(&["sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.02; done"]);
  s.unshare = vec![NsType::Pid];
  let (r, w) = syscall::pipe().unwrap();
  s.stdio[1] = Stdio::Fd(w.as_raw_fd());
  let c = spawn(&s).unwrap();
  drop(w);
  let mut line = [0u8; 6];
  File::from(r).read_exact(&mut line).unwrap();
  kill(c.pidfd.as_fd(), c.pid, libc::SIGTERM).unwrap();
  assert_eq!(wait(&c), (7, 0), "caught, so delivered as asked");
}

#[test]
fn init_runs_the_command_as_pid_2_forwards_signals_and_passes_its_status() {
  let mut s = spec(&["sh", "-c", "echo $$; exit 5"]);
  s.init = true;
  assert_eq!(output(s), ("2\n".to_string(), (5, 0)));
  let mut s = spec(&["sleep", "100"]);
  s.init = true;
  let c = spawn(&s).unwrap();
  kill(c.pidfd.as_fd(), c.pid, libc::SIGTERM).unwrap();
  assert_eq!(wait(&c), (128 + libc::SIGTERM, 0), "the command died of SIGTERM, not the init of SIGKILL");
  let mut s = spec(&["/nonexistent/x"]);
  s.init = true;
  let e = spawn(&s).unwrap_err();
  assert_eq!((e.errno, e.step), (libc::ENOENT, Some(Step::Execve)));
}

fn usr_box(cmd: &str) -> SpawnSpec {
  let mut s = spec(&["/bin/sh", "-c", cmd]);
  s.unshare = vec![NsType::Pid];
  s.root_tmpfs = true;
  let bind = |src: &str, t: &str, ro: bool| Mount {
    target: t.into(),
    kind: MountKind::Bind { source: src.into(), readonly: ro },
  };
  let link = |t: &str, to: &str| Mount { target: t.into(), kind: MountKind::Symlink { link_to: to.into() } };
  s.mounts = vec![
    bind("/usr", "/usr", true),
    link("/bin", "usr/bin"),
    link("/lib", "usr/lib"),
    link("/lib64", "usr/lib64"),
    Mount { target: "/proc".into(), kind: MountKind::Proc },
    Mount { target: "/dev".into(), kind: MountKind::Dev },
    Mount { target: "/tmp".into(), kind: MountKind::Tmpfs { size: Some(1 << 20), mode: 0o1777 } },
    Mount {
      target: "/etc/passwd".into(),
      kind: MountKind::File { data: b"root:x:0:0::/:/bin/sh\n".to_vec(), mode: 0o644 },
    },
    Mount { target: "/home/u".into(), kind: MountKind::Dir { mode: 0o700 } },
  ];
  s
}

#[test]
fn a_tmpfs_root_holds_only_its_mounts() {
  let out = stdout_of(usr_box("ls / | tr '\\n' ' '; stat -c %a /home /home/u /tmp /etc/passwd | tr '\\n' ' '; ls /dev | tr '\\n' ' '; touch /usr/x 2>/dev/null || echo ro"));
  assert_eq!(
    out,
    "bin dev etc home lib lib64 proc tmp usr 700 700 1777 644 core fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ro"
  );
  let mut s = usr_box("true");
  s.mounts.insert(
    2,
    Mount {
      target: "/nope".into(),
      kind: MountKind::Bind { source: "/nonexistent".into(), readonly: false },
    },
  );
  let e = spawn(&s).unwrap_err();
  assert_eq!(
    (e.errno, e.step, e.mount_index, e.path.as_deref()),
    (libc::ENOENT, Some(Step::Mount), Some(2), Some("/nope"))
  );
}

/// A classic BPF program that fails mkdir and mkdirat with EPERM and allows everything else.
pub(crate) fn deny_mkdir_filter() -> Vec<u8> {
  #[cfg(target_arch = "x86_64")]
  let (arch, nrs) = (0xc000_003e_u32, [83u32, 258]);
  #[cfg(target_arch = "aarch64")]
  let (arch, nrs) = (0xc000_00b7_u32, [34u32, 34]);
  let ins = |code: u16, jt: u8, jf: u8, k: u32| {
    let mut v = code.to_ne_bytes().to_vec();
    v.extend([jt, jf]);
    v.extend(k.to_ne_bytes());
    v
  };
  [
    ins(0x20, 0, 0, 4),           // A = arch
    ins(0x15, 1, 0, arch),        // if A == arch skip 1
    ins(0x06, 0, 0, 0x8000_0000), // kill process
    ins(0x20, 0, 0, 0),           // A = nr
    ins(0x15, 2, 0, nrs[0]),      // mkdir -> errno
    ins(0x15, 1, 0, nrs[1]),      // mkdirat -> errno
    ins(0x06, 0, 0, 0x7fff_0000), // allow
    ins(0x06, 0, 0, 0x0005_0000 | libc::EPERM as u32),
  ]
  .concat()
}

#[test]
fn capabilities_rlimits_and_seccomp_are_the_last_steps() {
  let caps = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | cut -f2 | tr '\\n' ' '";
  let mut s = spec(&["sh", "-c", caps]);
  s.keep_caps = Some(0);
  assert_eq!(
    stdout_of(s),
    "0000000000000000 0000000000000000 0000000000000000 0000000000000000 0000000000000000"
  );
  let mut s = spec(&["sh", "-c", caps]);
  s.keep_caps = Some(1 << 10); // CAP_NET_BIND_SERVICE
  s.uid = Some(65534);
  s.no_new_privs = true;
  let kept = "0000000000000400";
  assert_eq!(
    stdout_of(s),
    format!("{kept} {kept} {kept} {kept} {kept}"),
    "kept across execve as uid 65534 (ambient)"
  );
  let mut s = spec(&["sh", "-c", "ulimit -n; ulimit -Hn"]);
  s.rlimits = vec![(7, 64, 128)]; // RLIMIT_NOFILE
  assert_eq!(stdout_of(s), "64\n128");
  let mut s = spec(&["sh", "-c", "mkdir /tmp/nsjs-seccomp-$$ 2>&1; echo $?"]);
  s.seccomp = Some(deny_mkdir_filter());
  s.no_new_privs = true;
  assert!(stdout_of(s).ends_with("\n1"), "mkdir failed");
  let mut s = spec(&["true"]);
  s.seccomp = Some(vec![0; 12]);
  assert_eq!(spawn(&s).unwrap_err().step, Some(Step::Seccomp));
}

#[test]
fn new_session() {
  let mut s = spec(&["sh", "-c", "cut -d' ' -f6 /proc/self/stat; echo $$"]);
  s.new_session = true;
  let out = stdout_of(s);
  let lines: Vec<_> = out.lines().collect();
  // sh is the session leader, cut its child.
  assert_eq!(lines[0], lines[1]);
}

#[test]
fn dies_with_the_thread_that_spawned_it() {
  let c = std::thread::spawn(|| {
    let mut s = spec(&["sleep", "100"]);
    s.die_with_parent = Some(libc::SIGKILL);
    spawn(&s).unwrap()
  })
  .join()
  .unwrap();
  // The spawning thread is gone: the child was reparented to another of our threads and killed.
  assert_eq!(wait(&c), (-1, libc::SIGKILL));
}

/// A directory that holds a small root filesystem (the host's /usr, bound in a private mount
/// namespace that a holder process keeps alive), removed again on drop.
struct MiniRoot {
  dir: String,
  holder: Child,
  mnt: NsHandle,
}

impl MiniRoot {
  fn new(tag: &str) -> MiniRoot {
    let dir = format!("/tmp/nsjs-root-{}-{tag}", std::process::id());
    for d in ["", "/usr", "/proc"] {
      std::fs::create_dir(format!("{dir}{d}")).unwrap();
    }
    for l in ["bin", "lib", "lib64", "sbin"] {
      std::os::unix::fs::symlink(format!("usr/{l}"), format!("{dir}/{l}")).unwrap();
    }
    let (r, w) = syscall::pipe().unwrap();
    let mut s = spec(&["sh", "-c", &format!("mount --bind /usr {dir}/usr && echo ready && exec sleep 100")]);
    s.unshare = vec![NsType::Mnt];
    s.stdio[1] = Stdio::Fd(w.as_raw_fd());
    let holder = spawn(&s).unwrap();
    drop(w);
    let mut ready = [0u8; 6];
    File::from(r).read_exact(&mut ready).unwrap();
    let mnt = NsHandle::open_pid(holder.pid, NsType::Mnt).unwrap();
    MiniRoot { dir, holder, mnt }
  }
}

impl Drop for MiniRoot {
  fn drop(&mut self) {
    let _ = kill(self.holder.pidfd.as_fd(), self.holder.pid, libc::SIGKILL);
    let _ = syscall::waitid_pidfd(self.holder.pidfd.as_fd(), false);
    // Never a recursive removal: the directories are empty here, and /usr is only bound inside
    // the holder's namespace.
    for l in ["bin", "lib", "lib64", "sbin"] {
      let _ = std::fs::remove_file(format!("{}/{l}", self.dir));
    }
    for d in ["/usr", "/proc", ""] {
      let _ = std::fs::remove_dir(format!("{}{d}", self.dir));
    }
  }
}

#[test]
fn pivot_root_into_a_new_root() {
  let root = MiniRoot::new("pivot");
  let mut s = spec(&["sh", "-c", "ls /; echo; cut -d' ' -f5 /proc/self/mountinfo"]);
  s.join = vec![(root.mnt.raw_fd(), NsType::Mnt)];
  s.unshare = vec![NsType::Pid];
  s.root = Some(root.dir.clone());
  s.pivot_root = true;
  s.mount_proc = true;
  s.cwd = Some("/usr".into());
  let out = stdout_of(s);
  let (ls, mounts) = out.split_once("\n\n").unwrap();
  assert_eq!(ls.split_whitespace().collect::<Vec<_>>(), ["bin", "lib", "lib64", "proc", "sbin", "usr"]);
  // The old root is gone entirely: only the new root, its /usr and the new /proc remain.
  assert_eq!(mounts.lines().collect::<Vec<_>>(), ["/", "/usr", "/proc"]);
}

#[test]
fn chroot_into_a_new_root() {
  let root = MiniRoot::new("chroot");
  let mut s = spec(&["sh", "-c", "ls /; pwd"]);
  s.join = vec![(root.mnt.raw_fd(), NsType::Mnt)];
  s.root = Some(root.dir.clone());
  s.cwd = Some("usr".into());
  let words: Vec<_> = stdout_of(s).split_whitespace().map(String::from).collect();
  assert_eq!(words, ["bin", "lib", "lib64", "proc", "sbin", "usr", "/usr"]);
}

#[test]
fn many_concurrent_spawns_are_all_reaped() {
  let (tx, rx) = std::sync::mpsc::channel();
  let threads: Vec<_> = (0..4)
    .map(|t| {
      let tx = tx.clone();
      std::thread::spawn(move || {
        let mut pids = Vec::new();
        for i in 0..50 {
          let c = spawn(&spec(&["/bin/true"])).unwrap();
          pids.push(c.pid);
          let tx = tx.clone();
          let id = t * 1000 + i;
          crate::exit_watch::watch(
            c.pidfd.as_raw_fd(),
            Box::new(move |code, sig| tx.send((id, code, sig)).unwrap()),
          )
          .unwrap();
        }
        pids
      })
    })
    .collect();
  let pids: Vec<i32> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
  let mut ids = Vec::new();
  for _ in 0..200 {
    let (id, code, sig) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((code, sig), (0, 0));
    ids.push(id);
  }
  ids.sort();
  ids.dedup();
  assert_eq!(ids.len(), 200);
  for pid in pids {
    assert!(!is_our_zombie(pid), "zombie {pid}");
  }
}

/// Run as uid 65534 by `unprivileged_map_is_eperm_at_uid_map`; ignored otherwise.
#[test]
#[ignore]
fn unprivileged_helper() {
  let status = std::fs::read_to_string("/proc/self/status").unwrap();
  let uid = status.lines().find_map(|l| l.strip_prefix("Uid:")).unwrap().split_whitespace().next();
  assert_eq!(uid, Some("65534"));
  let mut s = spec(&["/bin/true"]);
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  let e = spawn(&s).unwrap_err();
  assert_eq!(
    (e.errno, e.step.map(Step::name), e.ns_type),
    (libc::EPERM, Some("uid_map"), Some(NsType::User))
  );
  // What an unprivileged user may do: map itself, after denying setgroups.
  let mut s = spec(&["sh", "-c", "id -u; id -g"]);
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 65534, count: 1 }]);
  s.gid_map = Some(vec![IdMapLine { inside: 0, outside: 65534, count: 1 }]);
  s.setgroups = Some(SetGroups::Deny);
  assert_eq!(stdout_of(s), "0\n0");
}

#[test]
fn unprivileged_map_is_eperm_at_uid_map() {
  let exe = std::env::current_exe().unwrap().to_string_lossy().into_owned();
  let mut s = spec(&[&exe, "--ignored", "--exact", "spawn::tests::unprivileged_helper", "--test-threads=1"]);
  s.uid = Some(65534);
  s.gid = Some(65534);
  s.cwd = Some("/".into());
  let (out, status) = output(s);
  assert_eq!(status, (0, 0), "{out}");
  assert!(out.contains("1 passed"), "{out}");
}

#[test]
fn joins_first_then_a_new_user_namespace_owns_the_rest() {
  // unshare(1) after nsenter: a net namespace of ours is joined with our privileges, then a new
  // user namespace is made, and the new uts namespace belongs to it.
  let net = crate::create::create(NsType::Net).unwrap();
  let mut s = spec(&["/bin/sh", "-c", "id -u; readlink /proc/self/ns/net; hostname"]);
  s.join = vec![(net.raw_fd(), NsType::Net)];
  s.unshare = vec![NsType::User, NsType::Uts];
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  s.hostname = Some("late-user".into());
  assert_eq!(stdout_of(s), format!("0\nnet:[{}]\nlate-user", net.inode()));
}

#[test]
fn joined_namespaces_and_a_new_user_and_pid_namespace_with_proc() {
  // The sandbox case: our net namespace joined, then user+pid+mnt new, /proc mounted; the pid
  // namespace must belong to the new user namespace for that mount to be allowed.
  let net = crate::create::create(NsType::Net).unwrap();
  let mut s = spec(&["/bin/sh", "-c", "id -u; echo $$; readlink /proc/self/ns/net"]);
  s.join = vec![(net.raw_fd(), NsType::Net)];
  s.unshare = vec![NsType::User, NsType::Pid, NsType::Mnt];
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  s.mount_proc = true;
  let before = NsHandle::current(NsType::Net).unwrap();
  assert_eq!(stdout_of(s), format!("0\n1\nnet:[{}]", net.inode()));
  assert!(NsHandle::current(NsType::Net).unwrap().same_as(&before), "the calling thread is back");
}

#[test]
fn joining_a_user_namespace_and_making_a_nested_one() {
  // A target user namespace (root mapped to root), joined by the child, which then makes a user
  // namespace nested in it after its joins (the parent cannot join user namespaces itself).
  let mut holder = spec(&["/bin/sleep", "5"]);
  holder.unshare = vec![NsType::User];
  holder.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  // A user namespace can only be made by a process whose uid and gid are both mapped.
  holder.gid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  let target = spawn(&holder).unwrap();
  let outer = NsHandle::open_pid(target.pid, NsType::User).unwrap();
  let mut s = spec(&["/bin/sh", "-c", "id -u; readlink /proc/self/ns/user"]);
  s.join = vec![(outer.raw_fd(), NsType::User)];
  s.unshare = vec![NsType::User];
  s.uid_map = Some(vec![IdMapLine { inside: 0, outside: 0, count: 1 }]);
  let out = stdout_of(s);
  kill(target.pidfd.as_fd(), target.pid, libc::SIGKILL).unwrap();
  wait(&target);
  let inner = out.strip_prefix("0\n").expect("root inside the nested namespace");
  assert_ne!(inner, format!("user:[{}]", outer.inode()), "a new user namespace, not the joined one");
  assert_ne!(inner, ns_link("self", NsType::User));
}

/// A directory of ours under /tmp, removed however the test ends.
struct ScratchDir(std::path::PathBuf);

impl Drop for ScratchDir {
  fn drop(&mut self) {
    let _ = std::fs::remove_dir_all(&self.0);
  }
}

#[test]
fn a_script_without_a_shebang_runs_with_sh() {
  let dir = ScratchDir(std::env::temp_dir().join(format!("nsjs-enoexec-{}", std::process::id())));
  std::fs::create_dir_all(&dir.0).unwrap();
  let script = dir.0.join("plain");
  // A child writes the script: a writable fd of this process, however brief, would be inherited
  // by a child another test thread clones meanwhile, and our execve would fail with ETXTBSY.
  let write = format!("printf 'echo \"plain $1\"\\n' > '{0}' && chmod 755 '{0}'", script.display());
  stdout_of(spec(&["sh", "-c", &write]));
  assert_eq!(stdout_of(spec(&[script.to_str().unwrap(), "arg"])), "plain arg");
}
