//! Every namespace, found where util-linux 2.41 `lsns` finds them: those processes are in
//! (/proc/<pid>/ns), those only an open descriptor holds (/proc/<pid>/fd, nsjs's own handles
//! included), net namespaces only a socket holds (pidfd_getfd + SIOCGSKNS), bind-mounted
//! (persisted) ones, and the user namespaces (and pid/user parents) that those last three keep
//! alive. For each: the processes in it, the lowest pid with its command and uid, and its paths.
//!
//! Namespaces that processes are in are found by stat and readlink alone, never opened. One that
//! no process is in is opened, as lsns does, only to ask the kernel its owner: never through a
//! path that could meanwhile name something else (O_PATH first, checked, then reopened).
//!
//! `process` reads /proc and the name service, `nsfs` nsfs names and mounts, `held` the
//! namespaces no process is in; this module walks them and merges what they find.

mod held;
mod nsfs;
mod process;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::fs::MetadataExt;

use held::Source;
use nsfs::{nsfs_mounts, parse_id};
pub use process::user_name;
use process::{command, pids};

use crate::ns_type::NsType;

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

type Key = (u64, NsType);

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

#[cfg(test)]
mod tests {
  use std::os::fd::{AsFd, OwnedFd};

  use super::held::SIOCGSKNS;
  use super::*;
  use crate::handle::NsHandle;
  use crate::syscall;

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
      crate::this_thread::unshare(&[NsType::Net]).unwrap();
      OwnedFd::from(std::os::unix::net::UnixDatagram::unbound().unwrap())
    })
    .join()
    .unwrap();
    let netns = syscall::ioctl_fd(sock.as_fd(), SIOCGSKNS, "ioctl").unwrap();
    let inode = syscall::fstat(netns.as_fd()).unwrap().ino;
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
}
