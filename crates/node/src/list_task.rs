//! `Namespace.list()`: a /proc scan, as seen from the calling thread's namespaces.

use napi::bindgen_prelude::{Env, Object};
use napi_derive::napi;
use nsjs_sys::list::{self, Filter, NsInfo};

use crate::caller_thread;
use crate::error::Result;
use crate::mirror::NsType;

#[napi(object)]
pub struct NamespaceInfo {
  /// The inode number, as lsns prints it in its NS column.
  pub id: f64,
  #[napi(js_name = "type")]
  pub ns_type: NsType,
  pub nprocs: u32,
  pub pid: Option<i32>,
  pub command: Option<String>,
  pub uid: Option<u32>,
  pub user: Option<String>,
  pub paths: Vec<String>,
}

fn to_js(n: NsInfo) -> NamespaceInfo {
  NamespaceInfo {
    id: n.inode as f64,
    ns_type: n.ty.into(),
    nprocs: n.nprocs,
    pid: n.pid,
    command: n.command,
    user: n.user,
    uid: n.uid,
    paths: n.paths,
  }
}

fn filter(ns_type: Option<NsType>, pid: Option<i32>) -> Filter {
  Filter { ty: ns_type.map(Into::into), pid }
}

/// Runs on a native thread the calling JS thread starts (see `caller_thread`), so the paths are
/// those of the caller's mount namespace, as `listSync` gives them.
#[napi(ts_return_type = "Promise<Array<NamespaceInfo>>")]
pub fn list<'env>(env: &'env Env, ns_type: Option<NsType>, pid: Option<i32>) -> Result<Object<'env>> {
  let filter = filter(ns_type, pid);
  caller_thread::promise(
    env,
    "nsjs-list",
    move || Ok(list::list(&filter)),
    |_, rows| Ok(rows.into_iter().map(to_js).collect::<Vec<_>>()),
  )
}

#[napi]
pub fn list_sync(ns_type: Option<NsType>, pid: Option<i32>) -> Vec<NamespaceInfo> {
  list::list(&filter(ns_type, pid)).into_iter().map(to_js).collect()
}
