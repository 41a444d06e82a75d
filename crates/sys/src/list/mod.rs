//! Every namespace, found where util-linux 2.41 `lsns` finds them: those processes are in
//! (/proc/<pid>/ns), those only an open descriptor holds (/proc/<pid>/fd, nsjs's own handles
//! included), net namespaces only a socket holds (pidfd_getfd + SIOCGSKNS), bind-mounted
//! (persisted) ones, and the user namespaces (and pid/user parents) that those last three keep
//! alive. For each: the processes in it, the lowest pid with its command and uid, and its paths.
//!
//! Namespaces that processes are in are found by stat and readlink alone, never opened. One that
//! no process is in is opened, as lsns does, only to ask the kernel its owner: never through a
//! path that could meanwhile name something else (O_PATH first, checked, then reopened).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::mountinfo;
use crate::ns_type::NsType;
use crate::sys;

/// SIOCGSKNS (linux/sockios.h, Linux 4.9): a descriptor on the net namespace a socket was made in.
const SIOCGSKNS: libc::c_ulong = 0x894C;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NsInfo {
  pub ty: NsType,
  pub inode: u64,
  /// Processes in it (by /proc/<pid>/ns, threads not counted, as lsns does). 0 when only a
  /// descriptor, a socket, a bind mount or a namespace it owns keeps it alive.
  pub nprocs: u32,
  /// The lowest pid in it, and that process's command line; None when no process is in it.
  pub pid: Option<i32>,
  pub command: Option<String>,
  /// The lowest pid's uid. With no process in it: the uid that created it (a user namespace) or
  /// that created the user namespace owning it (other types), when the kernel tells.
  pub uid: Option<u32>,
  /// `uid`'s login name, from the name service.
  pub user: Option<String>,
  /// nsfs bind mounts of it in the caller's mount namespace.
  pub paths: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
  pub ty: Option<NsType>,
  pub pid: Option<i32>,
}

fn pids() -> Vec<i32> {
  let mut v: Vec<i32> = std::fs::read_dir("/proc")
    .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
    .unwrap_or_default();
  v.sort_unstable();
  v
}

fn command(pid: i32) -> Option<String> {
  let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
  let s: Vec<String> = raw
    .split(|b| *b == 0)
    .filter(|a| !a.is_empty())
    .map(|a| String::from_utf8_lossy(a).into_owned())
    .collect();
  if s.is_empty() {
    // Kernel threads have no command line; lsns shows their comm.
    return std::fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|c| c.trim_end().to_string());
  }
  Some(s.join(" "))
}

/// "net:[4026532177]", as nsfs names its files (a mount's root, a descriptor's link).
fn parse_id(id: &[u8]) -> Option<(NsType, u64)> {
  let id = std::str::from_utf8(id).ok()?;
  let (name, rest) = id.split_once(":[")?;
  Some((NsType::from_name(name)?, rest.strip_suffix(']')?.parse().ok()?))
}

/// Every nsfs bind mount in the calling thread's mount namespace: (mount point, "type:[inode]"),
/// each once. Under a shared parent the kernel propagates a namespace persisted in a self-bound
/// directory also to the parent mount, where the self-bind hides it (as with `ip netns add` on a
/// systemd /run): the same place twice in mountinfo.
fn nsfs_mounts() -> Vec<(String, String)> {
  let mut seen = std::collections::BTreeSet::new();
  mountinfo::read()
    .into_iter()
    .filter(|m| m.fstype == "nsfs")
    .map(|m| (m.mount_point, m.root))
    .filter(|p| seen.insert(p.clone()))
    .collect()
}

type Key = (u64, NsType);

/// Where a namespace that no process is in was seen, to open it from.
enum Source {
  Fd { pid: i32, fd: i32 },
  Path(String),
}

struct Scan {
  nsfs_dev: u64,
  /// The types to report.
  wanted: Vec<NsType>,
  /// The types whose /proc/<pid>/ns links are read: the wanted ones, and all of them when user
  /// namespaces are wanted, since any namespace that no process is in may own one no one else holds.
  linked: Vec<NsType>,
  found: BTreeMap<Key, NsInfo>,
  /// Namespaces seen held by a descriptor or a bind mount, to open once no process turned out to
  /// be in them.
  seen_held: Vec<(Key, Source)>,
  held_keys: HashSet<Key>,
  /// Sockets, once each (by inode): (pid, fd) to take them from.
  sockets: Vec<(i32, i32)>,
  socket_inodes: HashSet<u64>,
}

impl Scan {
  fn entry(&mut self, key: Key) -> &mut NsInfo {
    self.found.entry(key).or_insert_with(|| NsInfo {
      ty: key.1,
      inode: key.0,
      nprocs: 0,
      pid: None,
      command: None,
      uid: None,
      user: None,
      paths: vec![],
    })
  }

  fn wants(&self, ty: NsType) -> bool {
    self.wanted.contains(&ty)
  }

  /// Worth opening when no process is in it: to report it, or for the user namespace it may keep.
  fn worth_holding(&self, ty: NsType) -> bool {
    self.wants(ty) || self.wants(NsType::User)
  }

  /// The descriptors of process `pid`: namespace files (an nsjs handle, a `setns` target kept
  /// open) and sockets. A readlink tells both apart without opening anything; a stat confirms a
  /// namespace file is on nsfs.
  fn scan_fds(&mut self, pid: i32, sockets: bool) {
    let dir = format!("/proc/{pid}/fd");
    // EACCES (not ours to look at) and ENOENT (gone) both mean: nothing to see.
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for e in entries.flatten() {
      let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
      let path = format!("{dir}/{fd}");
      let Ok(link) = std::fs::read_link(&path) else { continue };
      let link = link.as_os_str().as_bytes();
      if let Some(rest) = link.strip_prefix(b"socket:[") {
        let ino = std::str::from_utf8(rest).ok().and_then(|r| r.strip_suffix(']')?.parse::<u64>().ok());
        if sockets && ino.is_some_and(|i| self.socket_inodes.insert(i)) {
          self.sockets.push((pid, fd));
        }
        continue;
      }
      let Some((ty, ino)) = parse_id(link) else { continue };
      if !self.worth_holding(ty) || self.held_keys.contains(&(ino, ty)) {
        continue;
      }
      if std::fs::metadata(&path).is_ok_and(|m| m.dev() == self.nsfs_dev && m.ino() == ino) {
        self.held_keys.insert((ino, ty));
        self.seen_held.push(((ino, ty), Source::Fd { pid, fd }));
      }
    }
  }

  /// Opens a namespace that no process is in, where it was seen. O_PATH opens nothing (a device
  /// node swapped in meanwhile is not opened); once it is checked to be that namespace, the
  /// reopen through /proc gives a descriptor the namespace ioctls accept.
  fn open(&self, key: Key, src: &Source) -> Option<OwnedFd> {
    let path = match src {
      Source::Fd { pid, fd } => format!("/proc/{pid}/fd/{fd}"),
      Source::Path(p) => p.clone(),
    };
    let flags = match src {
      Source::Fd { .. } => libc::O_PATH,
      Source::Path(_) => libc::O_PATH | libc::O_NOFOLLOW,
    };
    let opath = sys::open(&path, flags, 0).ok()?;
    let id = sys::fstat(opath.as_fd()).ok()?;
    if id.dev != self.nsfs_dev || id.ino != key.0 {
      return None;
    }
    crate::fd_mount::reopen(opath.as_fd(), libc::O_RDONLY).ok()
  }

  /// A namespace no process is in, open as `fd`: the uid to show for it, and the user namespace
  /// that owns it (and for user and pid namespaces, the parent) when those are otherwise unknown.
  /// Depth first, so only a chain of ancestors is open at a time.
  fn visit(&mut self, key: Key, fd: OwnedFd) {
    let mut work = vec![(key, fd)];
    while let Some(((ino, ty), fd)) = work.pop() {
      let owner = sys::ioctl_fd(fd.as_fd(), libc::NS_GET_USERNS as _, "ioctl").ok();
      if self.wants(ty) {
        let uid = match ty {
          NsType::User => sys::ioctl_owner_uid(fd.as_fd()).ok(),
          _ => owner.as_ref().and_then(|o| sys::ioctl_owner_uid(o.as_fd()).ok()),
        };
        self.entry((ino, ty)).uid = uid;
      }
      let parent = match ty {
        NsType::User | NsType::Pid if self.wants(ty) => {
          sys::ioctl_fd(fd.as_fd(), libc::NS_GET_PARENT as _, "ioctl").ok()
        }
        _ => None,
      };
      let up = [(parent, ty), (owner.filter(|_| self.wants(NsType::User)), NsType::User)];
      for (above, above_ty) in up {
        // EPERM: above the caller's own user namespace, which the kernel does not reveal.
        let Some(above) = above else { continue };
        let Ok(id) = sys::fstat(above.as_fd()) else { continue };
        let k = (id.ino, above_ty);
        if !self.found.contains_key(&k) {
          self.entry(k);
          work.push((k, above));
        }
      }
    }
  }

  /// The net namespace of every socket seen, taken through pidfd_getfd. A failure (the process is
  /// gone, or not ours to look into) skips that socket, as lsns does.
  fn read_sockets(&mut self) {
    let sockets = std::mem::take(&mut self.sockets);
    // Sockets come grouped by process: one pidfd (or one failure) per process.
    let mut pidfd: Option<(i32, Option<OwnedFd>)> = None;
    for (pid, fd) in sockets {
      if pidfd.as_ref().is_none_or(|(p, _)| *p != pid) {
        pidfd = Some((pid, sys::pidfd_open(pid).ok()));
      }
      let Some((_, Some(pfd))) = &pidfd else { continue };
      let sock = match sys::pidfd_getfd(pfd.as_fd(), fd) {
        Ok(s) => s,
        // Before Linux 5.6 nothing can be learnt about any socket.
        Err(e) if e.errno == libc::ENOSYS => return,
        Err(_) => continue,
      };
      let Ok(netns) = sys::ioctl_fd(sock.as_fd(), SIOCGSKNS, "ioctl") else { continue };
      drop(sock);
      let Ok(id) = sys::fstat(netns.as_fd()) else { continue };
      let key = (id.ino, NsType::Net);
      if !self.found.contains_key(&key) {
        self.entry(key);
        self.visit(key, netns);
      }
    }
  }
}

pub fn list(filter: &Filter) -> Vec<NsInfo> {
  let supported: Vec<NsType> = NsType::ALL.into_iter().filter(|t| t.supported()).collect();
  let wanted: Vec<NsType> = supported.iter().copied().filter(|t| filter.ty.is_none_or(|f| f == *t)).collect();
  let linked = if wanted.contains(&NsType::User) { supported.clone() } else { wanted.clone() };
  let nsfs_dev = supported
    .iter()
    .find_map(|t| std::fs::metadata(format!("/proc/self/ns/{}", t.name())).ok())
    .map_or(0, |m| m.dev());
  let mut scan = Scan {
    nsfs_dev,
    wanted,
    linked,
    found: BTreeMap::new(),
    seen_held: vec![],
    held_keys: HashSet::new(),
    sockets: vec![],
    socket_inodes: HashSet::new(),
  };
  // Like lsns -p: only the namespaces that process is in, so nothing held is looked for.
  let everything = filter.pid.is_none();
  let sockets = everything && (scan.wants(NsType::Net) || scan.wants(NsType::User));
  let mut of_pid: Vec<Key> = vec![];
  for pid in pids() {
    for i in 0..scan.linked.len() {
      let ty = scan.linked[i];
      let Ok(md) = std::fs::metadata(format!("/proc/{pid}/ns/{}", ty.name())) else { continue };
      let e = scan.entry((md.ino(), ty));
      e.nprocs += 1;
      e.pid.get_or_insert(pid);
      if filter.pid == Some(pid) {
        of_pid.push((md.ino(), ty));
      }
    }
    // PID 1 is the machine's init: its descriptors are not ours to look at.
    if everything && pid != 1 {
      scan.scan_fds(pid, sockets);
    }
  }
  let mut pending: Vec<(Key, Source)> =
    std::mem::take(&mut scan.seen_held).into_iter().filter(|(k, _)| !scan.found.contains_key(k)).collect();
  for (key, _) in &pending {
    scan.entry(*key);
  }
  for (mount_point, root) in nsfs_mounts() {
    let Some((ty, inode)) = parse_id(root.as_bytes()) else { continue };
    if !scan.linked.contains(&ty) {
      continue;
    }
    let key = (inode, ty);
    if everything && scan.worth_holding(ty) && !scan.found.contains_key(&key) {
      pending.push((key, Source::Path(mount_point.clone())));
    }
    scan.entry(key).paths.push(mount_point);
  }
  for (key, src) in pending {
    if let Some(fd) = scan.open(key, &src) {
      scan.visit(key, fd);
    }
  }
  if sockets {
    scan.read_sockets();
  }
  let mut names: HashMap<u32, Option<String>> = HashMap::new();
  let wanted = scan.wanted;
  let mut out: Vec<NsInfo> = scan
    .found
    .into_iter()
    .filter(|(k, _)| wanted.contains(&k.1) && (everything || of_pid.contains(k)))
    .map(|(_, mut v)| {
      if let Some(pid) = v.pid {
        v.command = command(pid);
        v.uid = std::fs::metadata(format!("/proc/{pid}")).ok().map(|m| m.uid());
      }
      v.user = v.uid.and_then(|u| names.entry(u).or_insert_with(|| user_name(u)).clone());
      v
    })
    .collect();
  out.sort_by_key(|n| (n.inode, n.ty));
  out
}

/// A uid's login name, as lsns prints it in its USER column: through the C library's name service
/// (getpwuid_r), so users from LDAP, sssd or systemd-userdb resolve as they do for lsns, not only
/// those in /etc/passwd. NSS may load modules and take locks: never call this in a clone child.
pub fn user_name(uid: u32) -> Option<String> {
  let mut buf = vec![0u8; 1024];
  loop {
    // SAFETY: an all-zero `passwd` is a valid value of this plain C struct (null pointers).
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: `pw`, `buf` (of the length passed) and `found` are valid for writes for the call;
    // the strings stored in `pw` point into `buf`, which outlives their use below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut found) };
    match rc {
      libc::EINTR => continue,
      // A group-sized entry (sssd can return large ones): grow, within reason.
      libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
      0 if !found.is_null() && !pw.pw_name.is_null() => {
        // SAFETY: on success pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        return Some(name.to_string_lossy().into_owned());
      }
      _ => return None,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::handle::NsHandle;

  #[test]
  fn lists_our_own_namespaces() {
    let me = std::process::id() as i32;
    let all = list(&Filter { ty: None, pid: Some(me) });
    assert_eq!(all.len(), NsType::ALL.len());
    let net = NsHandle::current(NsType::Net).unwrap();
    let mine = all.iter().find(|n| n.ty == NsType::Net).unwrap();
    assert_eq!(mine.inode, net.inode());
    assert!(mine.nprocs >= 1);
  }

  fn row(filter: Filter, ty: NsType, inode: u64) -> Option<NsInfo> {
    list(&filter).into_iter().find(|n| n.ty == ty && n.inode == inode)
  }

  #[test]
  fn finds_a_namespace_only_a_descriptor_holds() {
    let uts = crate::create::create(NsType::Uts).unwrap();
    for filter in [Filter::default(), Filter { ty: Some(NsType::Uts), pid: None }] {
      let r = row(filter, NsType::Uts, uts.inode()).expect("listed");
      assert_eq!((r.nprocs, r.pid, r.command.as_deref()), (0, None, None));
      // Created by root, in root's user namespace: lsns shows root too.
      assert_eq!((r.uid, r.user.as_deref()), (Some(0), Some("root")));
    }
    let me = std::process::id() as i32;
    assert!(row(Filter { ty: None, pid: Some(me) }, NsType::Uts, uts.inode()).is_none(), "not one we are in");
    drop(uts);
  }

  #[test]
  fn finds_a_net_namespace_only_a_socket_holds() {
    // A thread makes a socket in a new net namespace and ends: only the socket keeps it.
    let sock = std::thread::spawn(|| {
      crate::thread::unshare(&[NsType::Net]).unwrap();
      OwnedFd::from(std::os::unix::net::UnixDatagram::unbound().unwrap())
    })
    .join()
    .unwrap();
    let netns = sys::ioctl_fd(sock.as_fd(), SIOCGSKNS, "ioctl").unwrap();
    let inode = sys::fstat(netns.as_fd()).unwrap().ino;
    drop(netns);
    let r = row(Filter { ty: Some(NsType::Net), pid: None }, NsType::Net, inode).expect("listed");
    assert_eq!((r.nprocs, r.pid, r.uid), (0, None, Some(0)));
    assert!(row(Filter::default(), NsType::Net, inode).is_some());
    drop(sock);
    assert!(
      row(Filter { ty: Some(NsType::Net), pid: None }, NsType::Net, inode).is_none(),
      "gone with the socket"
    );
  }

  #[test]
  fn finds_the_user_namespace_that_owns_a_held_one() {
    let mut child =
      std::process::Command::new("unshare").args(["--user", "--net", "sleep", "100"]).spawn().unwrap();
    let pid = child.id() as i32;
    let net = loop {
      // Until unshare has made its namespaces and exec'ed sleep.
      if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "sleep") {
        break NsHandle::open_pid(pid, NsType::Net).unwrap();
      }
      std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let user = net.owner().unwrap().inode();
    child.kill().unwrap();
    child.wait().unwrap();
    // Now only `net` holds the net namespace, and only that the user namespace.
    let r = row(Filter { ty: Some(NsType::User), pid: None }, NsType::User, user).expect("owner listed");
    assert_eq!((r.nprocs, r.pid, r.uid), (0, None, Some(0)));
    assert!(row(Filter::default(), NsType::User, user).is_some());
    assert!(
      row(Filter { ty: Some(NsType::Net), pid: None }, NsType::User, user).is_none(),
      "only the type asked for"
    );
    drop(net);
  }

  #[test]
  fn root_has_a_name() {
    assert_eq!(user_name(0).as_deref(), Some("root"));
  }

  #[test]
  fn names_come_from_the_name_service() {
    // What getent asks the name service (nsswitch.conf) for the same uid: every entry it lists.
    let out = std::process::Command::new("getent").arg("passwd").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = 0;
    for line in text.lines() {
      let f: Vec<&str> = line.split(':').collect();
      let Some(uid) = f.get(2).and_then(|u| u.parse::<u32>().ok()) else { continue };
      // The first entry of a uid is the one lookups by uid return.
      if text.lines().position(|l| l.split(':').nth(2) == Some(f[2])) != text.lines().position(|l| l == line)
      {
        continue;
      }
      assert_eq!(user_name(uid).as_deref(), Some(f[0]), "uid {uid}");
      seen += 1;
    }
    assert!(seen > 0);
    assert_eq!(user_name(4_000_000_000), None);
  }
}
