//! `Namespace.create()`. The namespace is copied from the calling JS thread's (a new uts
//! namespace gets its hostname, a new mnt namespace its mount table), never from a pool thread's:
//! the async twin unshares a native thread that the JS thread starts for it alone (see
//! `caller_thread`), the sync one a short-lived thread of its own (user and pid: a child).

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use nsjs_sys::create;

use crate::caller_thread;
use crate::error::{IntoNapi, Result};
use crate::mirror::NsType;
use crate::namespace::NativeNamespace;

#[napi(ts_return_type = "Promise<NativeNamespace>")]
pub fn create<'env>(env: &'env Env, ns_type: NsType) -> Result<Object<'env>> {
  let ty = ns_type.into();
  caller_thread::promise(
    env,
    "nsjs-create",
    move || create::create_on_throwaway_thread(ty),
    |env, h| NativeNamespace::wrap(&env, h),
  )
}

#[napi]
pub fn create_sync(env: Env, ns_type: NsType) -> Result<NativeNamespace> {
  create::create(ns_type.into()).napi(&env).and_then(|h| NativeNamespace::wrap(&env, h))
}
