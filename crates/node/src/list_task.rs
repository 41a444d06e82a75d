//! `Namespace.list()`: a /proc scan. It only reads, so it may run on a pool thread.

use napi::bindgen_prelude::{AsyncTask, Env, Task};
use napi_derive::napi;
use nsjs_sys::list::{self, Filter, NsInfo};

use crate::error::Result;
use crate::namespace::parse_type;

#[napi(object)]
pub struct NamespaceInfo {
  /// The inode number, as lsns prints it in its NS column.
  pub id: f64,
  #[napi(js_name = "type")]
  pub ns_type: String,
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
    ns_type: n.ty.name().to_string(),
    nprocs: n.nprocs,
    pid: n.pid,
    command: n.command,
    user: n.user,
    uid: n.uid,
    paths: n.paths,
  }
}

fn filter(ns_type: Option<String>, pid: Option<i32>) -> Result<Filter> {
  Ok(Filter { ty: ns_type.as_deref().map(parse_type).transpose()?, pid })
}

pub struct ListTask(Filter);

impl Task for ListTask {
  type Output = Vec<NsInfo>;
  type JsValue = Vec<NamespaceInfo>;

  fn compute(&mut self) -> Result<Self::Output> {
    Ok(list::list(&self.0))
  }

  fn resolve(&mut self, _env: Env, output: Self::Output) -> Result<Self::JsValue> {
    Ok(output.into_iter().map(to_js).collect())
  }
}

#[napi(ts_return_type = "Promise<Array<NamespaceInfo>>")]
pub fn list(ns_type: Option<String>, pid: Option<i32>) -> Result<AsyncTask<ListTask>> {
  Ok(AsyncTask::new(ListTask(filter(ns_type, pid)?)))
}

#[napi]
pub fn list_sync(ns_type: Option<String>, pid: Option<i32>) -> Result<Vec<NamespaceInfo>> {
  Ok(list::list(&filter(ns_type, pid)?).into_iter().map(to_js).collect())
}
