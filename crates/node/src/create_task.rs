//! `Namespace.create()`. The pool thread never unshares itself: `nsjs_sys::create` does that on a
//! short-lived thread of its own (or in a child for user and pid), so running it from a pool
//! thread is safe.

use napi::bindgen_prelude::{AsyncTask, Env, Task};
use napi_derive::napi;
use nsjs_sys::{create, NsHandle, NsType};

use crate::error::{IntoNapi, Result};
use crate::namespace::{parse_type, NativeNamespace};

pub struct CreateTask(NsType);

impl Task for CreateTask {
  type Output = NsHandle;
  type JsValue = NativeNamespace;

  fn compute(&mut self) -> Result<Self::Output> {
    create::create(self.0).napi()
  }

  fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
    NativeNamespace::wrap(&env, output)
  }
}

#[napi(ts_return_type = "Promise<NativeNamespace>")]
pub fn create(ns_type: String) -> Result<AsyncTask<CreateTask>> {
  Ok(AsyncTask::new(CreateTask(parse_type(&ns_type)?)))
}

#[napi]
pub fn create_sync(env: Env, ns_type: String) -> Result<NativeNamespace> {
  create::create(parse_type(&ns_type)?).napi().and_then(|h| NativeNamespace::wrap(&env, h))
}
